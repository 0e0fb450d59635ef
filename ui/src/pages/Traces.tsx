// Trace search: a form whose state lives in the URL, a duration-over-time scatter and a
// list of matching traces, sortable by start, duration or span count. A click on a point or
// a row opens the trace.
import { useEffect, useMemo, useRef, useState } from 'react';
import type uPlot from 'uplot';
import { getJSON, type TraceSummary } from '../api';
import { href, navigate, onLinkClick, submit as go, useRefresh } from '../router';
import { fmtDateTime, fmtDuration, nsToMs, parseSearch, rangeFromParams, serviceColor, type Range } from '../util';
import { TimeRangePicker } from '../components/TimeRange';
import { Chart, escapeHTML, themedAxes, tooltipPlugin } from '../components/Chart';
import { ErrorBox, SendData, Spinner } from '../components/States';
import { useAsync } from '../components/hooks';
import { useServices } from '../components/ServicePicker';
import { useFirstRender } from '../components/perf';

interface TraceForm {
  service: string;
  spanName: string;
  attrs: string;
  min: string;
  max: string;
  errors: boolean;
  limit: string;
  range: Range;
  sort: SortKey;
  dir: 'asc' | 'desc';
}

type SortKey = 'start' | 'duration' | 'spans';
const sortKeys: { key: SortKey; label: string }[] = [
  { key: 'start', label: 'Start time' },
  { key: 'duration', label: 'Duration' },
  { key: 'spans', label: 'Span count' },
];

/** sortTraces orders the loaded traces; ties keep the newest first. */
export function sortTraces(traces: TraceSummary[], key: SortKey, dir: 'asc' | 'desc'): TraceSummary[] {
  const start = (t: TraceSummary) => BigInt(t.start_unix_nano);
  const cmpStart = (a: TraceSummary, b: TraceSummary) => (start(a) < start(b) ? -1 : start(a) > start(b) ? 1 : 0);
  const by: Record<SortKey, (a: TraceSummary, b: TraceSummary) => number> = {
    start: cmpStart,
    duration: (a, b) => a.duration_ns - b.duration_ns,
    spans: (a, b) => a.span_count - b.span_count,
  };
  const sign = dir === 'asc' ? 1 : -1;
  return [...traces].sort((a, b) => sign * by[key](a, b) || -cmpStart(a, b));
}

function formFromParams(p: URLSearchParams): TraceForm {
  return {
    service: p.get('service') ?? '',
    spanName: p.get('span_name') ?? '',
    attrs: p.get('attrs') ?? '',
    min: p.get('min') ?? '',
    max: p.get('max') ?? '',
    errors: p.get('errors') === '1',
    limit: p.get('limit') ?? '',
    range: rangeFromParams(p),
    sort: (['duration', 'spans'] as const).find((k) => k === p.get('sort')) ?? 'start',
    dir: p.get('dir') === 'asc' ? 'asc' : 'desc',
  };
}

function formURL(f: TraceForm): string {
  return href('/traces', {
    service: f.service,
    span_name: f.spanName,
    attrs: f.attrs.trim(),
    min: f.min.trim(),
    max: f.max.trim(),
    errors: f.errors ? '1' : '',
    limit: f.limit,
    from: f.range.from === 'now-1h' ? '' : f.range.from,
    to: f.range.to === 'now' ? '' : f.range.to,
    sort: f.sort === 'start' ? '' : f.sort,
    dir: f.dir === 'desc' ? '' : f.dir,
  });
}

function apiParams(f: TraceForm): URLSearchParams {
  const p = new URLSearchParams();
  p.set('start', f.range.from);
  p.set('end', f.range.to);
  if (f.service) p.set('service', f.service);
  if (f.spanName) p.set('span_name', f.spanName);
  const { text, attrs } = parseSearch(f.attrs);
  if (text) attrs.push(text); // let the server name what is wrong with it
  attrs.forEach((a) => p.append('attr', a));
  if (f.min.trim()) p.set('min_duration', f.min.trim());
  if (f.max.trim()) p.set('max_duration', f.max.trim());
  if (f.errors) p.set('errors', 'true');
  p.set('limit', f.limit || '100');
  return p;
}

export function TracesPage({ params }: { params: URLSearchParams }) {
  const form = useMemo(() => formFromParams(params), [params]);
  const [draft, setDraft] = useState(form);
  useEffect(() => setDraft(form), [form]);
  const submit = (f: TraceForm) => go(formURL(f));
  // Sorting reorders the loaded traces: no new query.
  const sortBy = (sort: SortKey, dir?: 'asc' | 'desc') =>
    navigate(formURL({ ...form, sort, dir: dir ?? (form.sort === sort ? (form.dir === 'desc' ? 'asc' : 'desc') : 'desc') }), true);
  const gen = useRefresh();

  const services = useServices();
  const spanNames = useAsync(draft.service ? `span-names:${draft.service}` : '', (signal) =>
    getJSON<string[]>(`/api/loupe/v1/services/${encodeURIComponent(draft.service)}/span_names`, undefined, signal),
  );
  const key = apiParams(form).toString();
  const result = useAsync(`${key}#${gen}`, (signal) => getJSON<{ start: string; end: string; traces: TraceSummary[] }>('/api/loupe/v1/traces', new URLSearchParams(key), signal));
  useFirstRender('traces', !result.loading);

  const loaded = result.data?.traces;
  const traces = useMemo(() => sortTraces(loaded ?? [], form.sort, form.dir), [loaded, form.sort, form.dir]);
  const maxDur = Math.max(0, ...traces.map((x) => x.duration_ns));
  const arrow = (k: SortKey) => (form.sort === k ? (form.dir === 'desc' ? ' ↓' : ' ↑') : '');
  const filtered = !!(form.service || form.spanName || form.attrs || form.min || form.max || form.errors);

  return (
    <div className="page traces-page">
      <form
        className="toolbar wrap"
        data-testid="trace-form"
        onSubmit={(e) => {
          e.preventDefault();
          submit(draft);
        }}
      >
        <label className="field">
          Service
          <select data-testid="trace-service" value={draft.service} onChange={(e) => setDraft({ ...draft, service: e.target.value, spanName: '' })}>
            <option value="">Any</option>
            {(services.data ?? []).map((s) => (
              <option key={s}>{s}</option>
            ))}
            {draft.service && !services.data?.includes(draft.service) && <option>{draft.service}</option>}
          </select>
        </label>
        <label className="field">
          Span name
          <select data-testid="trace-span-name" value={draft.spanName} onChange={(e) => setDraft({ ...draft, spanName: e.target.value })} disabled={!draft.service && !draft.spanName}>
            <option value="">Any</option>
            {(spanNames.data ?? []).map((s) => (
              <option key={s}>{s}</option>
            ))}
            {draft.spanName && !spanNames.data?.includes(draft.spanName) && <option>{draft.spanName}</option>}
          </select>
        </label>
        <label className="field grow">
          Attributes
          <input
            data-testid="trace-attrs"
            placeholder="http.route=/checkout http.response.status_code=~5.."
            value={draft.attrs}
            onChange={(e) => setDraft({ ...draft, attrs: e.target.value })}
            spellCheck={false}
          />
        </label>
        <label className="field narrow">
          Min duration
          <input data-testid="trace-min" placeholder="100ms" value={draft.min} onChange={(e) => setDraft({ ...draft, min: e.target.value })} />
        </label>
        <label className="field narrow">
          Max duration
          <input placeholder="5s" value={draft.max} onChange={(e) => setDraft({ ...draft, max: e.target.value })} />
        </label>
        <label className="check">
          <input type="checkbox" data-testid="trace-errors" checked={draft.errors} onChange={(e) => setDraft({ ...draft, errors: e.target.checked })} />
          Errors only
        </label>
        <TimeRangePicker range={draft.range} onChange={(range) => submit({ ...draft, range })} />
        <button className="btn primary" type="submit" data-testid="trace-search">
          Search
        </button>
      </form>
      {result.error && <ErrorBox error={result.error} />}
      {result.loading && !result.data && <Spinner label="Searching traces…" />}
      {result.data && traces.length === 0 && !result.loading && (filtered ? (
        <div className="empty-state">
          <h3>No traces match</h3>
          <p>No span in this range matches every filter at once. Widen the range or loosen a filter.</p>
        </div>
      ) : (
        <SendData what="traces" />
      ))}
      {traces.length > 0 && (
        <>
          <TraceScatter traces={traces} start={result.data!.start} end={result.data!.end} />
          <div className="toolbar small list-status">
            <span className="muted grow">
              {traces.length} traces{traces.length >= Number(form.limit || 100) ? ' (the most recent; raise the limit or narrow the range for more; sorting orders these)' : ''}
              {result.loading && ' · refreshing…'}
            </span>
            <label className="check">
              Sort by
              <select data-testid="trace-sort" value={form.sort} onChange={(e) => sortBy(e.target.value as SortKey, form.dir)}>
                {sortKeys.map((k) => (
                  <option key={k.key} value={k.key}>
                    {k.label}
                  </option>
                ))}
              </select>
              <select data-testid="trace-sort-dir" value={form.dir} onChange={(e) => sortBy(form.sort, e.target.value as 'asc' | 'desc')}>
                <option value="desc">descending</option>
                <option value="asc">ascending</option>
              </select>
            </label>
          </div>
          <table className="table trace-table" data-testid="trace-results">
            <thead>
              <tr>
                <th>Root span</th>
                <th>Services</th>
                <th className="num sortable" data-testid="sort-spans" onClick={() => sortBy('spans')}>Spans{arrow('spans')}</th>
                <th className="num sortable" data-testid="sort-duration" onClick={() => sortBy('duration')}>Duration{arrow('duration')}</th>
                <th className="sortable" data-testid="sort-start" onClick={() => sortBy('start')}>Started{arrow('start')}</th>
              </tr>
            </thead>
            <tbody>
              {traces.map((t) => (
                <tr key={t.trace_id} className="clickable" data-testid="trace-row" data-duration-ns={t.duration_ns} data-spans={t.span_count} data-start-ns={t.start_unix_nano} onClick={() => navigate(`/traces/${t.trace_id}`)}>
                  <td>
                    {t.error_count > 0 && (
                      <span className="err-mark" title={`${t.error_count} spans with errors`}>
                        ⚠ {t.error_count}
                      </span>
                    )}
                    <span className="svc-dot" data-svc={t.root_service} style={{ background: serviceColor(t.root_service) }} />
                    <b>{t.root_service}</b>: <a href={`/traces/${t.trace_id}`} onClick={onLinkClick}>{t.root_span_name}</a>
                    <div className="tiny muted mono">{t.trace_id}</div>
                  </td>
                  <td>
                    {t.services.map((s) => (
                      <span key={s} className="svc-chip" style={{ borderColor: serviceColor(s) }}>
                        <span className="svc-dot" data-svc={s} style={{ background: serviceColor(s) }} />
                        {s}
                      </span>
                    ))}
                  </td>
                  <td className="num">{t.span_count}</td>
                  <td className="num">
                    <DurationBar ns={t.duration_ns} max={maxDur} />
                  </td>
                  <td className="nowrap">{fmtDateTime(nsToMs(t.start_unix_nano))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

function DurationBar({ ns, max }: { ns: number; max: number }) {
  return (
    <div className="dur-cell">
      <span>{fmtDuration(ns)}</span>
      <div className="dur-bar" style={{ width: `${max > 0 ? Math.max(2, (ns / max) * 100) : 0}%` }} />
    </div>
  );
}

/** TraceScatter plots each trace's duration over its start time; errors are red. */
function TraceScatter({ traces, start, end }: { traces: TraceSummary[]; start: string; end: string }) {
  const sorted = useMemo(() => [...traces].sort((a, b) => nsToMs(a.start_unix_nano) - nsToMs(b.start_unix_nano)), [traces]);
  const sortedRef = useRef(sorted);
  sortedRef.current = sorted;
  const data = useMemo((): uPlot.AlignedData => {
    const xs = sorted.map((t) => nsToMs(t.start_unix_nano) / 1000);
    const ok = sorted.map((t) => (t.error_count > 0 ? null : t.duration_ns / 1e6));
    const bad = sorted.map((t) => (t.error_count > 0 ? t.duration_ns / 1e6 : null));
    return [xs, ok, bad];
  }, [sorted]);
  const s = Date.parse(start) / 1000;
  const e = Date.parse(end) / 1000;
  const opts = useMemo((): Omit<uPlot.Options, 'width' | 'height'> => {
    const pts = (color: string) => ({
      stroke: color,
      fill: color + '99',
      paths: () => null,
      points: { show: true, size: 7, stroke: color, fill: color + '99', width: 1 },
    });
    return {
      legend: { show: false },
      scales: { x: { time: true, range: () => [s, e] }, y: { distr: 3 } },
      axes: themedAxes((v) => fmtDuration(v * 1e6)),
      cursor: { points: { size: 9 }, focus: { prox: 16 } },
      series: [{}, { label: 'ok', ...pts('#4f8cff') }, { label: 'error', ...pts('#e5484d') }],
      plugins: [
        tooltipPlugin((_u, idx) => {
          const t = sortedRef.current[idx];
          if (!t) return null;
          return `<div class="tt-title">${escapeHTML(t.root_service)}: ${escapeHTML(t.root_span_name)}</div><div>${fmtDuration(t.duration_ns)} · ${t.span_count} spans${t.error_count ? ` · <span style="color:#e5484d">${t.error_count} errors</span>` : ''}</div><div class="muted">${new Date(nsToMs(t.start_unix_nano)).toLocaleString()} · click to open</div>`;
        }),
        {
          hooks: {
            init: (u) => {
              u.over.addEventListener('click', () => {
                const idx = u.cursor.idx;
                if (idx != null && sortedRef.current[idx]) navigate(`/traces/${sortedRef.current[idx].trace_id}`);
              });
            },
          },
        },
      ],
    };
  }, [s, e]);
  return (
    <div className="scatter" data-testid="trace-scatter">
      <div className="small muted">Duration over time · each point is a trace · click to open</div>
      <Chart options={opts} data={data} height={160} optionsKey={`${s}-${e}`} />
    </div>
  );
}
