// The logs explorer: search bar, severity and service filters, time range, a stacked
// histogram of counts by severity, and a virtualised, infinitely scrolling list. The LogQL
// mode (mode=logql) is in LogQL.tsx.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import uPlot from 'uplot';
import { getJSON, type LogCounts, type LogRecord, type LogsPage } from '../api';
import { href, navigate, onLinkClick, submit, useRefresh } from '../router';
import {
  fmtLogTime, nsToMs, parseSearch, rangeFromParams, resolveRange, serviceColor, severities, severityClass, severityColor,
  type Range,
} from '../util';
import { TimeRangePicker } from '../components/TimeRange';
import { VirtualList } from '../components/VirtualList';
import { Chart, escapeHTML, themedAxes, tooltipPlugin } from '../components/Chart';
import { ErrorBox, SendData, Spinner } from '../components/States';
import { Sections } from '../components/Attributes';
import { useAsync } from '../components/hooks';
import { ServicePicker } from '../components/ServicePicker';
import { useFirstRender } from '../components/perf';
import { BodyText, FullBody } from '../components/Body';
import { LogQLPage, ModeSwitch, logqlURL } from './LogQL';

const ROW = 26;
const EXPANDED = 380;
const PAGE = 200;
const MAX_RECORDS = 200_000;

interface LogsState {
  search: string;
  severity: string;
  services: string[];
  range: Range;
  live: boolean;
  traceId: string;
  spanId: string;
}

function stateFromParams(p: URLSearchParams): LogsState {
  return {
    search: p.get('q') ?? '',
    severity: p.get('severity') ?? '',
    services: p.getAll('service'),
    range: rangeFromParams(p),
    live: p.get('live') === '1',
    traceId: p.get('trace_id') ?? '',
    spanId: p.get('span_id') ?? '',
  };
}

function stateURL(s: LogsState): string {
  return href('/logs', {
    q: s.search,
    severity: s.severity,
    service: s.services,
    from: s.range.from === 'now-1h' ? '' : s.range.from,
    to: s.range.to === 'now' ? '' : s.range.to,
    live: s.live ? '1' : '',
    trace_id: s.traceId,
    span_id: s.spanId,
  });
}

/** apiFilter turns the page state into the logs API's filter parameters. */
function apiFilter(s: LogsState): URLSearchParams {
  const p = new URLSearchParams();
  const { text, attrs } = parseSearch(s.search);
  p.set('start', s.range.from);
  p.set('end', s.range.to);
  if (text) p.set('q', text);
  attrs.forEach((a) => p.append('attr', a));
  if (s.severity) p.set('severity', s.severity);
  s.services.forEach((x) => p.append('service', x));
  if (s.traceId) p.set('trace_id', s.traceId);
  if (s.spanId) p.set('span_id', s.spanId);
  return p;
}

function recordKey(r: LogRecord): string {
  return `${r.time_unix_nano}|${r.service}|${r.span_id ?? ''}|${r.body}`;
}

/** toLogQL writes the search filters as a LogQL query, a start for the LogQL mode. */
function toLogQL(s: LogsState): string {
  const q = (v: string) => JSON.stringify(v);
  const sel = s.services.length ? `{service_name=~${q(s.services.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'))}}` : '{service_name=~".+"}';
  const { text, attrs } = parseSearch(s.search);
  let out = sel + (text ? ` |~ ${q(`(?i)${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)}` : '');
  for (const a of attrs) {
    const m = /^([^!=~]+)(!=|=~|!~|=)(.*)$/s.exec(a);
    if (m) out += ` | ${m[1].replace(/[^\w]/g, '_')}${m[2]}${q(m[3])}`;
  }
  return out;
}

export function LogsPage({ params }: { params: URLSearchParams }) {
  return params.get('mode') === 'logql' ? <LogQLPage params={params} /> : <SearchLogsPage params={params} />;
}

function SearchLogsPage({ params }: { params: URLSearchParams }) {
  const state = useMemo(() => stateFromParams(params), [params]);
  const set = (patch: Partial<LogsState>, replace = false) => navigate(stateURL({ ...state, ...patch }), replace);
  const filterKey = apiFilter(state).toString();
  // Search with an unchanged URL, a range picked again and auto-refresh bump this: the
  // queries run again and relative ranges end at the new "now".
  const refreshGen = useRefresh();
  // The live tail bumps this when records arrive (and every 10 s), so the histogram follows.
  const [histTick, setHistTick] = useState(0);

  const [draft, setDraft] = useState(state.search);
  useEffect(() => setDraft(state.search), [state.search]);

  // The list: pages fetched with the first answer's resolved range, so paging is stable.
  const [records, setRecords] = useState<LogRecord[]>([]);
  const [cursor, setCursor] = useState('');
  const [resolved, setResolved] = useState<{ start?: string; end?: string }>({});
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<Error | null>(null);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const gen = useRef(0);

  useEffect(() => {
    const g = ++gen.current;
    const ac = new AbortController();
    setLoading(true);
    setError(null);
    setRecords([]);
    setCursor('');
    setExpanded(new Set());
    const p = apiFilter(state);
    p.set('limit', String(PAGE));
    getJSON<LogsPage>('/api/loupe/v1/logs', p, ac.signal).then(
      (page) => {
        if (g !== gen.current) return;
        setRecords(page.records);
        setCursor(page.next_cursor);
        setResolved({ start: page.start, end: page.end });
        setLoading(false);
      },
      (e) => {
        if (g !== gen.current || ac.signal.aborted) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => ac.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filterKey, refreshGen]);

  const loadMore = useCallback(() => {
    if (loading || !cursor || records.length >= MAX_RECORDS) return;
    const g = gen.current;
    setLoading(true);
    const p = apiFilter(state);
    if (resolved.start) p.set('start', resolved.start);
    if (resolved.end) p.set('end', resolved.end);
    p.set('limit', String(PAGE * 5));
    p.set('cursor', cursor);
    getJSON<LogsPage>('/api/loupe/v1/logs', p).then(
      (page) => {
        if (g !== gen.current) return;
        setRecords((r) => r.concat(page.records));
        setCursor(page.next_cursor);
        setLoading(false);
      },
      (e) => {
        if (g !== gen.current) return;
        setError(e);
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [loading, cursor, records.length, filterKey, resolved]);

  // Live tail: every 2 s ask for records at or after the newest one and prepend the new ones.
  const newest = records[0]?.time_unix_nano;
  const newestRef = useRef<{ ns?: string; recs: LogRecord[] }>({ recs: [] });
  newestRef.current = { ns: newest, recs: records.slice(0, 50) };
  const [liveError, setLiveError] = useState<Error | null>(null);
  // Rows prepended by the live tail push the list down; a reader scrolled into the list
  // keeps looking at the same records, one at the top keeps seeing the newest.
  const listEl = useRef<HTMLDivElement | null>(null);
  const shiftRef = useRef(0);
  useLayoutEffect(() => {
    const el = listEl.current;
    if (shiftRef.current && el && el.scrollTop > 0) el.scrollTop += shiftRef.current;
    shiftRef.current = 0;
  }, [records]);
  useEffect(() => {
    if (!state.live) return;
    const g = gen.current;
    let busy = false;
    let ticks = 0;
    const tick = async () => {
      if (busy) return;
      busy = true;
      ticks++;
      try {
        const p = apiFilter(state);
        const { ns, recs } = newestRef.current;
        const ms = ns ? nsToMs(ns) : null;
        if (ns) p.set('start', `${ns.slice(0, -9) || '0'}.${ns.slice(-9).padStart(9, '0')}`);
        else if (ms === null) p.set('start', 'now-5m');
        p.set('end', 'now+1m');
        p.set('limit', '1000');
        const page = await getJSON<LogsPage>('/api/loupe/v1/logs', p);
        if (g !== gen.current) return;
        const seen = new Set(recs.map(recordKey));
        const fresh = page.records.filter((r) => !seen.has(recordKey(r)));
        if (fresh.length) {
          shiftRef.current += fresh.length * ROW;
          setRecords((r) => fresh.concat(r).slice(0, MAX_RECORDS));
        }
        if (fresh.length || ticks % 5 === 0) setHistTick((n) => n + 1);
        setLiveError(null);
      } catch (e) {
        setLiveError(e as Error);
      } finally {
        busy = false;
      }
    };
    const t = window.setInterval(tick, 2000);
    return () => window.clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [state.live, filterKey, refreshGen]);

  useFirstRender('logs', !loading);

  const toggle = useCallback(
    (k: string) =>
      setExpanded((s) => {
        const n = new Set(s);
        if (n.has(k)) n.delete(k);
        else n.add(k);
        return n;
      }),
    [],
  );

  // Rows are memoised on (record, open), so the filter callback reads the state through a ref.
  const stateRef = useRef(state);
  stateRef.current = state;
  const addFilter = useCallback((k: string, v: string) => {
    const s = stateRef.current;
    const tok = /[\s"]/.test(v) ? `${k}="${v.replace(/(["\\])/g, '\\$1')}"` : `${k}=${v}`;
    navigate(stateURL({ ...s, search: (s.search ? s.search + ' ' : '') + tok }));
  }, []);

  const rowHeight = useCallback((i: number) => (expanded.has(recordKey(records[i])) ? EXPANDED : ROW), [expanded, records]);
  const heightsKey = `${records.length}:${records[0]?.time_unix_nano}:${[...expanded].join(',')}`;

  return (
    <div className="page logs-page">
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          submit(stateURL({ ...state, search: draft }));
        }}
      >
        <ModeSwitch mode="search" toSearch={() => {}} toLogQL={() => navigate(logqlURL(toLogQL({ ...state, search: draft }), state.range))} />
        <input
          className="search"
          data-testid="logs-search"
          placeholder='Search text, or filter: key=value key!=value key=~regex key!~regex   e.g. timeout http.route=/checkout'
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          spellCheck={false}
        />
        <select
          data-testid="logs-severity"
          value={state.severity}
          onChange={(e) => set({ severity: e.target.value })}
          title="Minimum severity"
        >
          <option value="">Any severity</option>
          {severities.map((s) => (
            <option key={s} value={s.toLowerCase()}>
              ≥ {s}
            </option>
          ))}
        </select>
        <ServicePicker selected={state.services} onChange={(services) => set({ services })} />
        <TimeRangePicker range={state.range} onChange={(range) => submit(stateURL({ ...state, range, live: range.to === 'now' && state.live }))} />
        <button className="btn primary" type="submit" data-testid="logs-run">
          Search
        </button>
        <label className={`btn live ${state.live ? 'on' : ''}`} title="Poll for new records every 2 seconds">
          <input
            type="checkbox"
            data-testid="logs-live"
            checked={state.live}
            onChange={(e) => set({ live: e.target.checked, range: e.target.checked ? { from: state.range.to === 'now' ? state.range.from : 'now-15m', to: 'now' } : state.range })}
          />
          Live
        </label>
      </form>
      {(state.traceId || state.spanId) && (
        <div className="chips">
          <span className="chip">
            {state.spanId ? `span ${state.spanId}` : `trace ${state.traceId}`}
            <button className="link-btn" title="Remove" onClick={() => set({ traceId: '', spanId: '' })}>
              ×
            </button>
          </span>
        </div>
      )}
      <LogHistogram filter={filterKey} refreshKey={`${refreshGen}.${histTick}`} range={state.range} onZoom={(range) => set({ range, live: false })} />
      <div className="list-status small muted" data-testid="logs-status">
        {error ? null : loading && records.length === 0 ? (
          <Spinner label="Searching logs…" />
        ) : (
          <>
            {records.length.toLocaleString()} records{cursor ? ' loaded, scroll for more' : ''}
            {loading && ' · loading more…'}
            {state.live && <span className="live-dot"> ● live</span>}
            {liveError && <span className="error-text"> live tail: {liveError.message}</span>}
          </>
        )}
      </div>
      {error && <ErrorBox error={error} />}
      {!error && !loading && records.length === 0 && (state.search || state.severity || state.services.length ? (
        <div className="empty-state">
          <h3>No records match</h3>
          <p>Nothing in {resolved.start ? 'this range' : 'the range'} matches the filters. Widen the time range or remove a filter.</p>
        </div>
      ) : (
        <SendData what="logs" />
      ))}
      {records.length > 0 && (
        <VirtualList
          className="log-list"
          testId="log-list"
          elRef={listEl}
          count={records.length}
          rowHeight={rowHeight}
          heightsKey={heightsKey}
          onNearEnd={loadMore}
          renderRow={(i) => {
            const r = records[i];
            const k = recordKey(r);
            return <LogRow rec={r} rowKey={k} open={expanded.has(k)} onToggle={toggle} onFilter={addFilter} />;
          }}
        />
      )}
    </div>
  );
}

interface LogRowProps {
  rec: LogRecord;
  rowKey: string;
  open: boolean;
  onToggle: (key: string) => void;
  onFilter: (k: string, v: string) => void;
}

// Memoised: while scrolling, rows that stay in view are not rendered again.
const LogRow = memo(function LogRow({ rec, rowKey, open, onToggle, onFilter }: LogRowProps) {
  const sev = rec.severity_text || (rec.severity_number ? `SEV${rec.severity_number}` : '');
  return (
    <div className={`log-row ${severityClass(rec.severity_text, rec.severity_number)} ${open ? 'open' : ''}`} data-testid="log-row">
      <div className="log-line" onClick={() => onToggle(rowKey)}>
        <span className="sev-bar" />
        <span className="log-time">{fmtLogTime(rec.time_unix_nano)}</span>
        <span className="log-sev">{sev}</span>
        <span className="log-service">
          <span className="svc-dot" data-svc={rec.service} style={{ background: serviceColor(rec.service) }} />
          {rec.service}
        </span>
        <BodyText body={rec.body} />
        {rec.trace_id && (
          <a
            className="log-trace"
            href={href(`/traces/${rec.trace_id}`, { span: rec.span_id })}
            onClick={(e) => {
              e.stopPropagation();
              onLinkClick(e);
            }}
            title="Open the trace"
          >
            trace ↗
          </a>
        )}
      </div>
      {open && (
        <div className="log-detail" data-testid="log-detail">
          <FullBody body={rec.body} />
          <div className="detail-meta small">
            {rec.time} · severity {rec.severity_text || '–'} ({rec.severity_number}) · scope {rec.scope?.name || '–'}
            {rec.trace_id && (
              <>
                {' · '}
                <a href={href(`/traces/${rec.trace_id}`, { span: rec.span_id })} onClick={onLinkClick}>
                  trace {rec.trace_id}
                </a>
                {' · '}
                <a href={href('/logs', { trace_id: rec.trace_id, from: 'now-7d' })} onClick={onLinkClick}>
                  logs of this trace
                </a>
              </>
            )}
          </div>
          <Sections
            sections={[
              ['Attributes', rec.attributes],
              ['Resource', rec.resource],
            ]}
            json={rec}
            onFilter={onFilter}
          />
        </div>
      )}
    </div>
  );
});

/** LogHistogram draws counts per bucket stacked by severity; dragging selects a new range. */
function LogHistogram({ filter, refreshKey, range, onZoom }: { filter: string; refreshKey: string; range: Range; onZoom: (r: Range) => void }) {
  const counts = useAsync(`${filter}#${refreshKey}`, (signal) => getJSON<LogCounts>('/api/loupe/v1/logs/counts', new URLSearchParams(filter), signal));
  const zoomRef = useRef(onZoom);
  zoomRef.current = onZoom;

  const model = useMemo(() => {
    const c = counts.data;
    if (!c) return null;
    const present = new Set<string>();
    c.buckets.forEach((b) => Object.keys(b.counts).forEach((s) => present.add(s)));
    const order = [...severities, 'UNSPECIFIED'];
    const sevs = [...present].sort((a, b) => rank(order, a) - rank(order, b));
    const xs = c.buckets.map((b) => nsToMs(b.time_unix_nano) / 1000);
    // Stack: series k holds the sum of severities 0..k, drawn from the top down.
    const stacked: number[][] = [];
    const raw: number[][] = sevs.map((s) => c.buckets.map((b) => b.counts[s] ?? 0));
    let acc = xs.map(() => 0);
    for (let k = 0; k < sevs.length; k++) {
      acc = acc.map((v, i) => v + raw[k][i]);
      stacked.push(acc);
    }
    const start = Date.parse(c.start) / 1000;
    const end = Date.parse(c.end) / 1000;
    return { sevs, xs, stacked: stacked.reverse(), raw, start, end, step: c.step_seconds, total: c.buckets.reduce((a, b) => a + b.total, 0) };
  }, [counts.data]);

  const opts = useMemo((): Omit<uPlot.Options, 'width' | 'height'> | null => {
    if (!model) return null;
    const sevsTop = [...model.sevs].reverse();
    return {
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      scales: { x: { time: true, range: () => [model.start, model.end] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.05)] } },
      axes: themedAxes(),
      series: [
        {},
        ...sevsTop.map((s) => ({
          label: s,
          fill: severityColor(s),
          stroke: severityColor(s),
          width: 0,
          paths: barPaths(),
          points: { show: false },
        })),
      ],
      plugins: [
        tooltipPlugin((u, idx) => {
          const t = new Date(u.data[0][idx] * 1000).toLocaleString();
          const lines = model.sevs
            .map((s, k) => [s, model.raw[k][idx]] as const)
            .filter(([, v]) => v > 0)
            .reverse()
            .map(([s, v]) => `<div><span class="swatch" style="background:${severityColor(s)}"></span>${escapeHTML(s)} <b>${v}</b></div>`);
          return `<div class="tt-title">${escapeHTML(t)}</div>${lines.join('')}`;
        }),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const a = u.posToVal(u.select.left, 'x');
            const b = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoomRef.current({ from: new Date(a * 1000).toISOString(), to: new Date(b * 1000).toISOString() });
          },
        ],
      },
    };
  }, [model]);

  if (counts.error) return <ErrorBox error={counts.error} title="Histogram failed" />;
  if (!model || !opts) return <div className="histogram placeholder">{counts.loading && <Spinner label="Counting…" />}</div>;
  const r = resolveRange(range);
  return (
    <div className="histogram" data-testid="log-histogram">
      <div className="histogram-head small muted">
        <span data-testid="histogram-total" data-total={model.total}>{model.total.toLocaleString()}</span> records in {r ? 'range' : ''} · {model.step}s buckets · drag to zoom
        <span className="legend-inline">
          {model.sevs.map((s) => (
            <span key={s}>
              <span className="swatch" style={{ background: severityColor(s) }} />
              {s}
            </span>
          ))}
        </span>
      </div>
      {/* The key comes from the answer, not the filter: while a new answer loads the old one
          is still drawn, and the plot must be rebuilt (x range) when the new one arrives. */}
      <Chart options={opts} data={[model.xs, ...model.stacked]} height={110} optionsKey={`${model.start}|${model.end}|${model.sevs.join()}|${model.xs.length}`} />
    </div>
  );
}

function rank(order: string[], s: string) {
  const i = order.indexOf(s);
  return i < 0 ? order.length : i;
}

let bars: uPlot.Series.PathBuilder | null = null;
function barPaths(): uPlot.Series.PathBuilder {
  if (!bars) bars = uPlot.paths.bars!({ size: [0.9, 40], gap: 1 });
  return bars;
}
