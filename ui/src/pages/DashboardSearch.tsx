// The traces and errors panels of dashboards: a trace search (GET /api/loupe/v1/traces)
// listing traces that link to the trace waterfall, and an issue list filter (GET
// /api/loupe/v1/issues) listing issues that link to the issue page. Their options.query
// holds the API's parameters with dashboard variables (searchRequests); the range is the
// dashboard's.
import { type TraceSummary } from '../api';
import { href, onLinkClick } from '../router';
import { fmtDateTime, fmtDuration, isoSeconds } from '../util';
import { builtinValues, unsetVariables, type Panel } from '../dashboards';
import { searchRequests } from '../dashpanels';
import { type IssueList } from '../errors';
import { IssueStatusBadge } from '../components/IssueStatus';
import { useAsync } from '../components/hooks';
import { cachedGet, NoValue, PanelState, varsKey, type PanelContext } from './DashboardPanels';

type ListedIssue = IssueList['issues'][number];

/** useSearch runs a panel's requests against path and merges their answers. */
function useSearch<T>(p: Panel, ctx: PanelContext, path: string, pick: (data: unknown) => T[], id: (x: T) => string) {
  const query = String(p.options?.query ?? '');
  const limit = Number(p.options?.limit) || 20;
  const b = builtinValues({ intervalMs: 60000, rangeMs: ctx.end - ctx.start });
  const reqs = searchRequests(query, ctx.vars, b);
  const key = `${path}|${query}|${limit}|${ctx.start}|${ctx.end}|${ctx.gen}|${varsKey(ctx)}`;
  const res = useAsync(key, async () => {
    const unset = unsetVariables(query, ctx.vars);
    if (unset.length) throw new NoValue(unset);
    const answers = await Promise.all(
      reqs.map((r) => {
        const params = new URLSearchParams(r);
        params.set('start', isoSeconds(ctx.start));
        params.set('end', isoSeconds(ctx.end));
        if (!params.has('limit')) params.set('limit', String(limit));
        return cachedGet<unknown>(ctx.gen, path, params);
      }),
    );
    const seen = new Set<string>();
    return answers.flatMap(pick).filter((x) => !seen.has(id(x)) && !!seen.add(id(x)));
  });
  return { res, reqs, limit };
}

export function TracesPanel({ p, ctx }: { p: Panel; ctx: PanelContext }) {
  const { res, reqs, limit } = useSearch<TraceSummary>(p, ctx, '/api/loupe/v1/traces', (d) => (d as { traces: TraceSummary[] }).traces ?? [], (t) => t.trace_id);
  // Newest first over the merged answers, as the search orders one answer.
  const traces = (res.data ?? []).sort((a, b) => (BigInt(b.start_unix_nano) > BigInt(a.start_unix_nano) ? 1 : -1)).slice(0, limit);
  const first = reqs[0] ?? new URLSearchParams();
  const explore = href('/traces', {
    service: first.get('service') ?? '',
    span_name: first.get('span_name') ?? '',
    attrs: first.getAll('attr').join(' '),
    min: first.get('min_duration') ?? '',
    max: first.get('max_duration') ?? '',
    errors: first.get('errors') === 'true' ? '1' : '',
    from: ctx.range.from,
    to: ctx.range.to === 'now' ? '' : ctx.range.to,
  });
  if (res.error || !res.data || traces.length === 0) return <PanelState error={res.error} loading={!res.data} empty />;
  return (
    <div className="dash-table-wrap" data-testid="panel-traces" data-count={traces.length}>
      <table className="table dash-search">
        <thead>
          <tr>
            <th>Start</th>
            <th>Trace</th>
            <th className="num">Duration</th>
            <th className="num">Spans</th>
            <th className="num">Errors</th>
          </tr>
        </thead>
        <tbody>
          {traces.map((t) => (
            <tr key={t.trace_id} data-testid="panel-trace-row" data-trace-id={t.trace_id} data-duration-ns={t.duration_ns} data-errors={t.error_count}>
              <td className="muted nowrap">{fmtDateTime(Number(BigInt(t.start_unix_nano) / 1_000_000n))}</td>
              <td>
                <a href={`/traces/${t.trace_id}`} onClick={onLinkClick} data-testid="panel-trace-link" title={t.trace_id}>
                  <span className="muted">{t.root_service}</span> {t.root_span_name}
                </a>
              </td>
              <td className="num">{fmtDuration(t.duration_ns)}</td>
              <td className="num">{t.span_count}</td>
              <td className={`num ${t.error_count ? 'error-text' : 'muted'}`}>{t.error_count}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <a className="small" href={explore} onClick={onLinkClick} data-testid="panel-traces-link">
        Open in Traces
      </a>
    </div>
  );
}

export function ErrorsPanel({ p, ctx }: { p: Panel; ctx: PanelContext }) {
  const { res, reqs, limit } = useSearch<ListedIssue>(p, ctx, '/api/loupe/v1/issues', (d) => (d as IssueList).issues ?? [], (i) => i.id);
  const issues = (res.data ?? []).sort((a, b) => (b.last_seen > a.last_seen ? 1 : b.last_seen < a.last_seen ? -1 : 0)).slice(0, limit);
  const first = reqs[0] ?? new URLSearchParams();
  const explore = href('/errors', {
    service: first.get('service') ?? '',
    project: first.get('project') ?? '',
    environment: first.get('environment') ?? '',
    release: first.get('release') ?? '',
    // The panel's search without a status lists every status; the Errors page would
    // default to unresolved ones.
    status: first.get('status') || 'all',
    q: first.get('q') ?? '',
    from: ctx.range.from,
    to: ctx.range.to === 'now' ? '' : ctx.range.to,
  });
  if (res.error || !res.data || issues.length === 0) return <PanelState error={res.error} loading={!res.data} empty />;
  return (
    <div className="dash-table-wrap" data-testid="panel-errors" data-count={issues.length}>
      <table className="table dash-search">
        <thead>
          <tr>
            <th>Issue</th>
            <th>Status</th>
            <th className="num">Events</th>
            <th className="num">Users</th>
            <th>Last seen</th>
          </tr>
        </thead>
        <tbody>
          {issues.map((i) => (
            <tr key={i.id} data-testid="panel-issue-row" data-issue-id={i.id}>
              <td>
                <a href={`/errors/${encodeURIComponent(i.id)}`} onClick={onLinkClick} data-testid="panel-issue-link">
                  {i.title}
                </a>
                <div className="muted small">
                  {i.service} {i.culprit ? `· ${i.culprit}` : ''}
                </div>
              </td>
              <td>
                <IssueStatusBadge status={i.status} />
              </td>
              <td className="num">{i.events}</td>
              <td className="num">{i.users}</td>
              <td className="muted nowrap">{fmtDateTime(Date.parse(i.last_seen))}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <a className="small" href={explore} onClick={onLinkClick} data-testid="panel-errors-link">
        Open in Errors
      </a>
    </div>
  );
}
