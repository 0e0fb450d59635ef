// The trace view: a virtualised waterfall of the span tree with a time axis, the critical
// path, a detail panel for the selected span and the logs of the trace or span below.
import { memo, useCallback, useMemo, useState } from 'react';
import { getJSON, type LogsPage, type Span, type Trace } from '../api';
import { href, navigate, onLinkClick } from '../router';
import { fmtDateTime, fmtDuration, fmtLogTime, isoSeconds, nsToMs, serviceColor, severityClass } from '../util';
import { buildTree, countDescendants, visibleRows, type Node } from '../tracetree';
import { VirtualList } from '../components/VirtualList';
import { ErrorBox, Spinner } from '../components/States';
import { AttrTable, Sections } from '../components/Attributes';
import { BodyText } from '../components/Body';
import { useAsync } from '../components/hooks';
import { useFirstRender } from '../components/perf';
import { IssueStatusBadge } from '../components/IssueStatus';
import { issuesBySpan, issueURL, type Issue, type TraceEvents } from '../errors';

const ROW = 24;

/** runIdOf is the `loupe run` run a span belongs to (its resource's loupe.run.id), if any. */
function runIdOf(s?: { resource: Record<string, unknown>; attributes: Record<string, unknown> }): string {
  const v = s?.resource['loupe.run.id'] ?? s?.attributes['loupe.run.id'];
  return typeof v === 'string' && /^[0-9a-f]{32}$/i.test(v) ? v : '';
}

export function TracePage({ id, params }: { id: string; params: URLSearchParams }) {
  const trace = useAsync(id, (signal) => getJSON<Trace>(`/api/loupe/v1/traces/${encodeURIComponent(id)}`, undefined, signal));
  useFirstRender('trace', !!trace.data || !!trace.error);
  const selected = params.get('span') ?? '';
  const select = useCallback((spanId: string) => navigate(href(`/traces/${id}`, { span: spanId }), true), [id]);

  if (trace.error) {
    return (
      <div className="page">
        <ErrorBox error={trace.error} title={`Trace ${id}`} />
        <a href="/traces" onClick={onLinkClick}>
          ← Back to trace search
        </a>
      </div>
    );
  }
  if (!trace.data) return <div className="page"><Spinner label="Loading trace…" /></div>;
  return <TraceView trace={trace.data} selected={selected} onSelect={select} />;
}

function TraceView({ trace, selected, onSelect }: { trace: Trace; selected: string; onSelect: (id: string) => void }) {
  const tree = useMemo(() => buildTree(trace.spans), [trace]);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const [showCritical, setShowCritical] = useState(true);
  const rows = useMemo(() => visibleRows(tree, collapsed), [tree, collapsed]);
  const sel = selected ? tree.byId.get(selected) : undefined;
  const root = tree.roots[0];
  const errors = trace.spans.filter((s) => s.status.code === 'error').length;
  const scrollTo = useMemo(() => (sel ? rows.indexOf(sel) : -1), [sel, rows]);
  // The issues of the trace's error events (Sentry events with this trace context,
  // exceptions recorded on its spans or logs), for the links from a span to its issue.
  const errs = useAsync(`trace-events:${trace.trace_id}`, (signal) =>
    getJSON<TraceEvents>('/api/loupe/v1/events', new URLSearchParams({ trace_id: trace.trace_id }), signal),
  );
  const spanIssues = useMemo(() => issuesBySpan(errs.data), [errs.data]);
  const traceIssues = Object.values(errs.data?.issues ?? {});

  const toggle = useCallback(
    (n: Node) =>
      setCollapsed((c) => {
        const x = new Set(c);
        if (x.has(n.span.span_id)) x.delete(n.span.span_id);
        else x.add(n.span.span_id);
        return x;
      }),
    [],
  );
  const dur = Math.max(tree.durationMs, 1e-6);

  return (
    <div className="page trace-page">
      <div className="trace-head">
        <a href="/traces" onClick={onLinkClick} className="small">
          ← Traces
        </a>
        <h2>
          <span className="svc-dot" data-svc={root?.span.service} style={{ background: serviceColor(root?.span.service ?? '') }} />
          {root?.span.service}: {root?.span.name}
        </h2>
        <div className="trace-meta small">
          <span className="mono">{trace.trace_id}</span> · {fmtDateTime(nsToMs(trace.start_unix_nano))} · {fmtDuration(trace.duration_ns)} ·{' '}
          <span data-testid="trace-span-count">{trace.spans.length} spans</span> · {trace.services.length} services
          {errors > 0 && <span className="err-mark"> ⚠ {errors} errors</span>}
          {traceIssues.length > 0 && (
            <>
              {' · '}
              {traceIssues.map((is) => (
                <a key={is.id} href={issueURL(is.id)} onClick={onLinkClick} className="trace-issue" data-testid="trace-issue-link" title={`Issue: ${is.title}`}>
                  ⚑ {is.title}
                </a>
              ))}
            </>
          )}
          {runIdOf(root?.span) && (
            <>
              {' · '}
              <a href={`/runs/${runIdOf(root?.span)}`} onClick={onLinkClick} data-testid="trace-run-link">
                job run ↗
              </a>
            </>
          )}
          {' · '}
          <a href={`/api/loupe/v1/traces/${trace.trace_id}?format=otlp`} download={`trace-${trace.trace_id}.json`}>
            OTLP JSON
          </a>
        </div>
        <div className="trace-tools small">
          {trace.services.map((s) => (
            <span key={s} className="svc-chip" style={{ borderColor: serviceColor(s) }}>
              <span className="svc-dot" data-svc={s} style={{ background: serviceColor(s) }} />
              {s}
            </span>
          ))}
          <label className="check">
            <input type="checkbox" checked={showCritical} onChange={(e) => setShowCritical(e.target.checked)} /> Highlight critical path
          </label>
          <button className="btn small" onClick={() => setCollapsed(new Set())}>
            Expand all
          </button>
          <button
            className="btn small"
            onClick={() => setCollapsed(new Set([...tree.byId.values()].filter((n) => n.children.length && n.depth >= 1).map((n) => n.span.span_id)))}
          >
            Collapse to depth 1
          </button>
        </div>
      </div>
      <div className="trace-body" style={{ height: Math.min(Math.max(rows.length * ROW + 28, sel ? 480 : 0), Math.max(300, 0.62 * window.innerHeight)) }}>
        <div className="waterfall" data-testid="waterfall">
          <div className="wf-header">
            <div className="wf-name">Span</div>
            <div className="wf-timeline">
              {[0, 0.25, 0.5, 0.75, 1].map((f) => (
                <span key={f} className="tick" style={{ left: `${f * 100}%` }}>
                  {fmtDuration(f * dur * 1e6)}
                </span>
              ))}
            </div>
          </div>
          <VirtualList
            className="wf-rows"
            testId="waterfall-rows"
            count={rows.length}
            rowHeight={() => ROW}
            heightsKey="fixed"
            scrollToIndex={scrollTo}
            renderRow={(i) => {
              const n = rows[i];
              return (
                <SpanRow
                  node={n}
                  selected={n === sel}
                  critical={showCritical && n.critical}
                  collapsed={collapsed.has(n.span.span_id)}
                  color={serviceColor(n.span.service)}
                  dur={dur}
                  onSelect={onSelect}
                  onToggle={toggle}
                />
              );
            }}
          />
        </div>
        {sel && <SpanDetail node={sel} traceStartNs={tree.startNs} color={serviceColor(sel.span.service)} issues={spanIssues.get(sel.span.span_id) ?? []} onClose={() => onSelect('')} />}
      </div>
      <TraceLogs traceId={trace.trace_id} spanId={sel?.span.span_id} start={trace.start_unix_nano} durationNs={trace.duration_ns} />
    </div>
  );
}

interface SpanRowProps {
  node: Node;
  selected: boolean;
  critical: boolean;
  collapsed: boolean;
  color: string;
  dur: number;
  onSelect: (id: string) => void;
  onToggle: (n: Node) => void;
}

// Memoised: while scrolling, rows that stay in view are not rendered again.
const SpanRow = memo(function SpanRow({ node: n, selected, critical, collapsed, color, dur, onSelect, onToggle }: SpanRowProps) {
  const left = (n.start / dur) * 100;
  const width = Math.max(((n.end - n.start) / dur) * 100, 0.15);
  return (
    <div
      className={`wf-row ${selected ? 'selected' : ''} ${n.error ? 'error' : ''} ${critical ? 'critical' : ''}`}
      data-testid="span-row"
      data-span-id={n.span.span_id}
      data-depth={n.depth}
      onClick={() => onSelect(n.span.span_id)}
    >
      <div className="wf-name" style={{ paddingLeft: 4 + n.depth * 14 }} title={`${n.span.service}: ${n.span.name}`}>
        {n.children.length > 0 ? (
          <button
            className="twisty"
            data-testid="span-toggle"
            onClick={(e) => {
              e.stopPropagation();
              onToggle(n);
            }}
            title={collapsed ? `Expand (${countDescendants(n)} spans)` : 'Collapse'}
          >
            {collapsed ? '▸' : '▾'}
          </button>
        ) : (
          <span className="twisty" />
        )}
        <span className="svc-dot" data-svc={n.span.service} style={{ background: color }} />
        {n.error && <span className="err-mark">⚠</span>}
        <span className="wf-svc">{n.span.service}</span> <span className="wf-span-name">{n.span.name}</span>
      </div>
      <div className="wf-timeline">
        <div className="wf-bar" data-svc={n.span.service} style={{ left: `${left}%`, width: `${width}%`, background: color }} />
        <span className="wf-dur" style={left > 70 ? { right: `${100 - left + 0.5}%` } : { left: `${left + width + 0.5}%` }}>
          {fmtDuration(n.span.duration_ns)}
        </span>
      </div>
    </div>
  );
});

function SpanDetail({ node, traceStartNs, color, issues, onClose }: { node: Node; traceStartNs: bigint; color: string; issues: Issue[]; onClose: () => void }) {
  const s = node.span;
  const offset = Number(BigInt(s.start_unix_nano) - traceStartNs);
  return (
    <aside className="span-detail" data-testid="span-detail">
      <div className="detail-head">
        <h3>
          <span className="svc-dot" style={{ background: color }} />
          {s.name}
        </h3>
        <button className="btn ghost small" onClick={onClose} title="Close">
          ✕
        </button>
      </div>
      <table className="kv small">
        <tbody>
          <tr><td>Service</td><td>{s.service}</td></tr>
          <tr><td>Kind</td><td>{s.kind}</td></tr>
          <tr><td>Duration</td><td>{fmtDuration(s.duration_ns)} (starts at +{fmtDuration(offset)})</td></tr>
          <tr>
            <td>Status</td>
            <td className={s.status.code === 'error' ? 'error-text' : ''} data-testid="span-status">
              {s.status.code}
              {s.status.message ? `: ${s.status.message}` : ''}
            </td>
          </tr>
          <tr><td>Span id</td><td className="mono">{s.span_id}</td></tr>
          {s.parent_span_id && <tr><td>Parent</td><td className="mono">{s.parent_span_id}</td></tr>}
          <tr><td>Scope</td><td>{s.scope.name || '–'} {s.scope.version}</td></tr>
          <tr><td>Critical path</td><td>{node.critical ? 'yes' : 'no'}</td></tr>
        </tbody>
      </table>
      {issues.length > 0 && (
        <div className="section span-issues" data-testid="span-issues">
          <h4>Issues ({issues.length})</h4>
          {issues.map((is) => (
            <div key={is.id} className="small span-issue">
              <IssueStatusBadge status={is.status} />{' '}
              <a href={issueURL(is.id)} onClick={onLinkClick} data-testid="span-issue-link">
                {is.title}
              </a>
              <span className="muted"> · {is.events.toLocaleString()} events</span>
            </div>
          ))}
        </div>
      )}
      <Sections sections={[['Attributes', s.attributes], ['Resource', s.resource]]} json={s} />
      <div className="section">
        <h4>Events ({s.events.length})</h4>
        {s.events.length === 0 && <div className="muted small">none</div>}
        {s.events.map((e, i) => (
          <div key={i} className="event">
            <div className="small">
              <b>{e.name}</b> at +{fmtDuration(Number(BigInt(e.time_unix_nano) - BigInt(s.start_unix_nano)))}
            </div>
            {Object.keys(e.attributes).length > 0 && <AttrTable attrs={e.attributes} />}
          </div>
        ))}
      </div>
      <div className="section">
        <h4>Links ({s.links.length})</h4>
        {s.links.length === 0 && <div className="muted small">none</div>}
        {s.links.map((l, i) => (
          <div key={i} className="small">
            <a href={href(`/traces/${l.trace_id}`, { span: l.span_id })} onClick={onLinkClick} className="mono">
              {l.trace_id} / {l.span_id}
            </a>
          </div>
        ))}
      </div>
      {runIdOf(s) && (
        <div className="small">
          <a href={`/runs/${runIdOf(s)}`} onClick={onLinkClick} data-testid="span-run-link">
            The job run of this span →
          </a>
        </div>
      )}
      <div className="small">
        <a href={href('/logs', { trace_id: '', span_id: s.span_id, from: 'now-7d' })} onClick={onLinkClick} data-testid="span-logs-link">
          Logs of this span in the explorer →
        </a>
      </div>
      <div className="small">
        <a href={spanProfileURL(s)} onClick={onLinkClick} data-testid="span-profile-link">
          Profile of this span →
        </a>
      </div>
    </aside>
  );
}

function TraceLogs({ traceId, spanId, start, durationNs }: { traceId: string; spanId?: string; start: string; durationNs: number }) {
  const [onlySpan, setOnlySpan] = useState(false);
  const useSpan = onlySpan && !!spanId;
  // A window around the trace keeps the query cheap; logs can trail the last span a little.
  const startMs = nsToMs(start);
  const p = new URLSearchParams({
    trace_id: traceId,
    start: new Date(startMs - 60_000).toISOString(),
    end: new Date(startMs + durationNs / 1e6 + 5 * 60_000).toISOString(),
    limit: '500',
  });
  if (useSpan) p.set('span_id', spanId!);
  const key = p.toString();
  const logs = useAsync(key, (signal) => getJSON<LogsPage>('/api/loupe/v1/logs', new URLSearchParams(key), signal));
  const recs = logs.data?.records ?? [];
  return (
    <section className="trace-logs" data-testid="trace-logs">
      <div className="section-head">
        <h3>Logs for this {useSpan ? 'span' : 'trace'}</h3>
        {spanId && (
          <label className="check small">
            <input type="checkbox" checked={onlySpan} onChange={(e) => setOnlySpan(e.target.checked)} /> only the selected span
          </label>
        )}
        <a className="small" href={href('/logs', { trace_id: traceId, span_id: useSpan ? spanId : '', from: 'now-7d' })} onClick={onLinkClick} data-testid="trace-logs-link">
          Open in the logs explorer →
        </a>
      </div>
      {logs.error && <ErrorBox error={logs.error} />}
      {logs.loading && !logs.data && <Spinner label="Loading logs…" />}
      {logs.data && recs.length === 0 && <div className="muted small">No logs carry this {useSpan ? 'span' : 'trace'} id.</div>}
      {recs.length > 0 && (
        <div className="mini-logs">
          {recs.map((r, i) => (
            <div key={i} className={`log-line ${severityClass(r.severity_text, r.severity_number)}`}>
              <span className="sev-bar" />
              <span className="log-time">{fmtLogTime(r.time_unix_nano)}</span>
              <span className="log-sev">{r.severity_text}</span>
              <span className="log-service">
                <span className="svc-dot" data-svc={r.service} style={{ background: serviceColor(r.service) }} />
                {r.service}
              </span>
              <BodyText body={r.body} />
            </div>
          ))}
          {logs.data?.next_cursor && <div className="small muted">showing the newest 500; open the explorer for all</div>}
        </div>
      )}
    </section>
  );
}

/** spanProfileURL opens the Profiles page on the samples taken while the span ran (a minute either side, as a profile covers a window). */
function spanProfileURL(s: Span): string {
  const start = nsToMs(s.start_unix_nano);
  const end = nsToMs(s.end_unix_nano);
  return href('/profiles', { span_id: s.span_id, from: isoSeconds(Math.floor(start / 1000) * 1000 - 60_000), to: isoSeconds(Math.ceil(end / 1000) * 1000 + 60_000) });
}
