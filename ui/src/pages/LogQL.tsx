// The logs view's LogQL mode: a LogQL query run through Loupe's Loki API
// (/loki/api/v1/query_range). Log queries list the matching lines, newest first; metric
// queries draw their series with the metrics explorer's chart.
import { useEffect, useMemo, useState } from 'react';
import { getJSON, type PromMatrix } from '../api';
import { href, submit, useRefresh } from '../router';
import { fmtLogTime, fmtNumber, rangeFromParams, resolveRange, serviceColor, severityClass, type Range } from '../util';
import { TimeRangePicker } from '../components/TimeRange';
import { ErrorBox, Spinner } from '../components/States';
import { AttrTable } from '../components/Attributes';
import { useAsync } from '../components/hooks';
import { MatrixChart, stepFor } from './Metrics';
import { BodyText, FullBody } from '../components/Body';

const LIMIT = 1000;

interface LokiStream {
  stream: Record<string, string>;
  values: [string, string][];
}
type LokiResult =
  | { resultType: 'streams'; result: LokiStream[] }
  | PromMatrix
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, string] }[] }
  | { resultType: 'scalar'; result: [number, string] };

interface Line {
  ns: string;
  labels: Record<string, string>;
  line: string;
}

/** flattenStreams turns Loki's streams into one list of lines, newest first. */
export function flattenStreams(streams: LokiStream[]): Line[] {
  const out: Line[] = [];
  for (const s of streams) for (const [ns, line] of s.values) out.push({ ns, labels: s.stream, line });
  out.sort((a, b) => (BigInt(b.ns) > BigInt(a.ns) ? 1 : BigInt(b.ns) < BigInt(a.ns) ? -1 : 0));
  return out;
}

export function logqlURL(query: string, range: Range): string {
  return href('/logs', {
    mode: 'logql',
    logql: query,
    from: range.from === 'now-1h' ? '' : range.from,
    to: range.to === 'now' ? '' : range.to,
  });
}

/** ModeSwitch chooses between the search bar and LogQL; both keep the time range. */
export function ModeSwitch({ mode, toLogQL, toSearch }: { mode: 'search' | 'logql'; toLogQL: () => void; toSearch: () => void }) {
  return (
    <div className="seg">
      <button type="button" className={mode === 'search' ? 'on' : ''} data-testid="logs-mode-search" onClick={toSearch}>
        Search
      </button>
      <button type="button" className={mode === 'logql' ? 'on' : ''} data-testid="logs-mode-logql" onClick={toLogQL}>
        LogQL
      </button>
    </div>
  );
}

export function LogQLPage({ params }: { params: URLSearchParams }) {
  const query = params.get('logql') ?? '';
  const range = rangeFromParams(params);
  const [draft, setDraft] = useState(query);
  useEffect(() => setDraft(query), [query]);
  const run = (q: string, r: Range = range) => submit(logqlURL(q, r));
  const searchURL = href('/logs', { from: range.from === 'now-1h' ? '' : range.from, to: range.to === 'now' ? '' : range.to });

  return (
    <div className="page logs-page">
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          run(draft);
        }}
      >
        <ModeSwitch mode="logql" toLogQL={() => {}} toSearch={() => submit(searchURL)} />
        <input
          className="search mono"
          data-testid="logql-input"
          placeholder='{service_name="checkout"} |= "error"   or   sum by (detected_level) (count_over_time({service_name="checkout"}[5m]))'
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          spellCheck={false}
        />
        <TimeRangePicker range={range} onChange={(r) => run(draft, r)} />
        <button className="btn primary" type="submit" data-testid="logql-run">
          Run query
        </button>
      </form>
      {query ? (
        <LogQLResult query={query} range={range} onZoom={(r) => run(query, r)} />
      ) : (
        <div className="hint small muted">
          Type a LogQL query: a log query (<code>{'{service_name="checkout"} |= "timeout"'}</code>) lists the matching lines, newest first (up to{' '}
          {LIMIT}); a metric query (<code>{'sum by (detected_level) (rate({service_name="checkout"}[1m]))'}</code>) draws a chart. Stream labels are the
          resource attributes with <code>_</code> for dots (<code>service_name</code>); see docs/logql.md.
        </div>
      )}
    </div>
  );
}

function LogQLResult({ query, range, onZoom }: { query: string; range: Range; onZoom: (r: Range) => void }) {
  const gen = useRefresh();
  const res = useAsync(`${query}|${range.from}|${range.to}|${gen}`, async (signal) => {
    const r = resolveRange(range);
    if (!r) throw new Error(`invalid time range ${range.from} to ${range.to}`);
    const p = new URLSearchParams({
      query,
      start: `${Math.floor(r.start)}000000`,
      end: `${Math.ceil(r.end)}000000`,
      step: String(stepFor(r.end - r.start)),
      limit: String(LIMIT),
      direction: 'backward',
    });
    return { r, result: await getJSON<LokiResult>('/loki/api/v1/query_range', p, signal) };
  });
  if (res.error) return <ErrorBox error={res.error} title="LogQL error" />;
  if (!res.data) return <Spinner label="Running LogQL…" />;
  const { r, result } = res.data;
  const status = res.loading ? ' · refreshing…' : '';
  switch (result.resultType) {
    case 'streams':
      return <LogQLLines lines={flattenStreams(result.result)} status={status} />;
    case 'matrix':
      if (result.result.length === 0) return <div className="empty-state"><h3>No series</h3><p>The query returned no data in this range.</p></div>;
      return <MatrixChart data={result} start={r.start / 1000} end={r.end / 1000} onZoom={onZoom} />;
    case 'vector':
      return (
        <table className="table" data-testid="logql-table">
          <tbody>
            {result.result.map((s, i) => (
              <tr key={i}>
                <td className="mono">{JSON.stringify(s.metric)}</td>
                <td className="num">{fmtNumber(parseFloat(s.value[1]))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      );
    default:
      return <div data-testid="logql-table">{result.result[1]}</div>;
  }
}

function LogQLLines({ lines, status }: { lines: Line[]; status: string }) {
  const [open, setOpen] = useState<number | null>(null);
  const shown = useMemo(() => lines.slice(0, LIMIT), [lines]);
  return (
    <>
      <div className="list-status small muted" data-testid="logql-status">
        {lines.length.toLocaleString()} lines{lines.length >= LIMIT ? ` (the newest ${LIMIT}; narrow the query or the range for the rest)` : ''}
        {status}
      </div>
      {lines.length === 0 ? (
        <div className="empty-state">
          <h3>No lines match</h3>
          <p>Nothing in this range matches the query. Widen the time range or loosen a filter.</p>
        </div>
      ) : (
        <div className="logql-lines" data-testid="logql-lines">
          {shown.map((l, i) => {
            const svc = l.labels.service_name ?? '';
            const lvl = l.labels.detected_level ?? '';
            return (
              <div key={i} className={`log-row ${severityClass(lvl, 0)} ${open === i ? 'open' : ''}`} data-testid="logql-row">
                <div className="log-line" onClick={() => setOpen(open === i ? null : i)}>
                  <span className="sev-bar" />
                  <span className="log-time">{fmtLogTime(l.ns)}</span>
                  <span className="log-sev">{lvl.toUpperCase()}</span>
                  <span className="log-service">
                    <span className="svc-dot" data-svc={svc} style={{ background: serviceColor(svc) }} />
                    {svc}
                  </span>
                  <BodyText body={l.line} />
                </div>
                {open === i && (
                  <div className="log-detail auto" data-testid="logql-detail">
                    <FullBody body={l.line} />
                    <h4>Labels</h4>
                    <AttrTable attrs={l.labels} />
                  </div>
                )}
              </div>
            );
          })}
        </div>
      )}
    </>
  );
}
