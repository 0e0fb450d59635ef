// The Errors page: issues (error events grouped by fingerprint, from Sentry SDKs and
// OpenTelemetry exceptions), filtered by service, project, environment, release, status,
// time and text, sorted by last or first seen, events or users, each with a sparkline of
// its events over the range. The filters live in the URL.
import { useEffect, useMemo, useState } from 'react';
import { getJSON } from '../api';
import { href, onLinkClick, submit as go, useRefresh } from '../router';
import { fmtDateTime, serviceColor } from '../util';
import {
  bucketCount, defaultIssuesRange, denseSeries, fmtAgo, issueSorts, issuesAPIParams, issuesFilterFromParams, issueURL, levelColors,
  statusFilters, type Issue, type IssueList, type IssuesFilter,
} from '../errors';
import { TimeRangePicker } from '../components/TimeRange';
import { ErrorBox, Spinner, useListen } from '../components/States';
import { SparkBars } from '../components/SparkBars';
import { IssueStatusBadge } from '../components/IssueStatus';
import { useAsync } from '../components/hooks';
import { useFirstRender } from '../components/perf';

const PAGE = 100;
// The selects offer the services, projects, environments and releases of this many issues
// last seen in the range (any value can still be set in the URL).
const FACET_ISSUES = 200;
type ListedIssue = IssueList['issues'][number];
const noIssues: ListedIssue[] = [];

/** issuesURL is the Errors page's URL for f, leaving out the defaults. */
export function issuesURL(f: Partial<IssuesFilter>): string {
  return href('/errors', {
    service: f.service,
    project: f.project,
    environment: f.environment,
    release: f.release,
    status: f.status === 'unresolved' ? '' : f.status,
    q: f.q?.trim(),
    sort: f.sort === 'last_seen' ? '' : f.sort,
    from: !f.range || f.range.from === defaultIssuesRange.from ? '' : f.range.from,
    to: !f.range || f.range.to === 'now' ? '' : f.range.to,
  });
}

/** facets collects the values the selects offer from a list of issues. */
function facets(issues: Issue[]) {
  const set = (f: (i: Issue) => (string | undefined)[]) => [...new Set(issues.flatMap(f).filter((x): x is string => !!x))].sort();
  const projectNames: Record<string, string> = {};
  for (const i of issues) if (i.project && i.service) projectNames[i.project] = i.service;
  return {
    projectNames,
    services: set((i) => [i.service]),
    projects: set((i) => [i.project]),
    environments: set((i) => i.environments ?? []),
    releases: set((i) => i.releases ?? []),
  };
}

export function ErrorsPage({ params }: { params: URLSearchParams }) {
  const filter = useMemo(() => issuesFilterFromParams(params), [params]);
  const [draft, setDraft] = useState(filter);
  useEffect(() => setDraft(filter), [filter]);
  const submit = (f: IssuesFilter) => go(issuesURL(f));
  const gen = useRefresh();

  const key = issuesAPIParams(filter, PAGE).toString();
  const first = useAsync(`${key}#${gen}`, (signal) => getJSON<IssueList>('/api/loupe/v1/issues', new URLSearchParams(key), signal));
  useFirstRender('errors', !first.loading);
  // The choices of the selects: the issues of the range, whatever the other filters.
  const facetKey = new URLSearchParams({ start: filter.range.from, end: filter.range.to, limit: String(FACET_ISSUES) }).toString();
  const all = useAsync(`${facetKey}#${gen}`, (signal) => getJSON<IssueList>('/api/loupe/v1/issues', new URLSearchParams(facetKey), signal));
  const opts = useMemo(() => facets(all.data?.issues ?? []), [all.data]);

  // Later pages, appended by "Load more"; dropped when the filter changes.
  const [more, setMore] = useState<{ key: string; issues: ListedIssue[]; cursor?: string; loading: boolean; error?: Error }>({ key: '', issues: [], loading: false });
  const extra = more.key === key ? more : { key, issues: noIssues, cursor: undefined, loading: false, error: undefined };
  const issues = useMemo(() => (first.data?.issues ?? []).concat(extra.issues), [first.data, extra.issues]);
  const cursor = extra.issues.length ? extra.cursor : first.data?.next;
  const loadMore = () => {
    if (!cursor || extra.loading) return;
    const base = extra.issues;
    const p = new URLSearchParams(key);
    p.set('cursor', cursor);
    setMore({ key, issues: base, cursor, loading: true });
    getJSON<IssueList>('/api/loupe/v1/issues', p).then(
      (page) => setMore((m) => (m.key === key ? { key, issues: base.concat(page.issues), cursor: page.next, loading: false } : m)),
      (error) => setMore((m) => (m.key === key ? { ...m, loading: false, error } : m)),
    );
  };

  const select = (name: 'service' | 'project' | 'environment' | 'release', label: string, values: string[], names: Record<string, string> = {}) => (
    <label className="field">
      {label}
      <select data-testid={`errors-${name}`} value={draft[name]} onChange={(e) => submit({ ...draft, [name]: e.target.value })}>
        <option value="">Any</option>
        {values.map((v) => (
          <option key={v} value={v}>
            {names[v] ? `${v} · ${names[v]}` : v}
          </option>
        ))}
        {draft[name] && !values.includes(draft[name]) && <option value={draft[name]}>{draft[name]}</option>}
      </select>
    </label>
  );

  return (
    <div className="page errors-page">
      <form
        className="toolbar wrap"
        data-testid="errors-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          submit(draft);
        }}
      >
        <label className="field grow">
          Search
          <input
            data-testid="errors-search"
            placeholder="Title or culprit: ZeroDivisionError, checkout…"
            value={draft.q}
            onChange={(e) => setDraft({ ...draft, q: e.target.value })}
            spellCheck={false}
          />
        </label>
        {select('service', 'Service', opts.services)}
        {(opts.projects.length > 0 || filter.project) && select('project', 'Sentry project', opts.projects, opts.projectNames)}
        {select('environment', 'Environment', opts.environments)}
        {select('release', 'Release', opts.releases)}
        <label className="field">
          Status
          <select data-testid="errors-status" value={draft.status} onChange={(e) => submit({ ...draft, status: e.target.value })}>
            {statusFilters.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Sort by
          <select data-testid="errors-sort" value={draft.sort} onChange={(e) => submit({ ...draft, sort: e.target.value })}>
            {issueSorts.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <TimeRangePicker range={draft.range} onChange={(range) => submit({ ...draft, range })} />
        <button className="btn primary" type="submit" data-testid="errors-run">
          Search
        </button>
      </form>
      {first.error && <ErrorBox error={first.error} />}
      {first.loading && !first.data && <Spinner label="Loading issues…" />}
      {/* Nothing listed: "no match" when the range has issues, else how to send errors. */}
      {first.data && issues.length === 0 && !first.loading && !all.data && all.loading && <Spinner label="Looking for issues in the range…" />}
      {first.data && issues.length === 0 && !first.loading && (all.data || !all.loading) && ((all.data?.issues.length ?? 0) > 0 ? (
        <div className="empty-state" data-testid="errors-empty">
          <h3>No issues match</h3>
          <p>
            No issue seen in this range matches every filter.{' '}
            {filter.status === 'unresolved' && (
              <>
                Resolved and ignored issues are hidden: <a href={issuesURL({ ...filter, status: 'all' })} onClick={onLinkClick}>show every status</a>.{' '}
              </>
            )}
            Widen the range or remove a filter.
          </p>
        </div>
      ) : (
        <NoErrors />
      ))}
      {issues.length > 0 && first.data && (
        <>
          <div className="toolbar small">
            <span className="muted grow" data-testid="errors-status-line">
              {issues.length} issue{issues.length === 1 ? '' : 's'}
              {cursor ? ' loaded' : ''}
              {first.loading && ' · refreshing…'} · graphs: events per {fmtStep(first.data.step)}
            </span>
          </div>
          <table className="table issues-table" data-testid="issues-table">
            <thead>
              <tr>
                <th>Issue</th>
                <th>Status</th>
                <th>Events over the range</th>
                <th className="num">Events</th>
                <th className="num">Users</th>
                <th>First seen</th>
                <th>Last seen</th>
              </tr>
            </thead>
            <tbody>
              {issues.map((is) => (
                <IssueRow key={is.id} is={is} list={first.data!} filter={filter} />
              ))}
            </tbody>
          </table>
          {extra.error && <ErrorBox error={extra.error} />}
          {cursor && (
            <button className="btn" data-testid="errors-more" onClick={loadMore} disabled={extra.loading}>
              {extra.loading ? 'Loading…' : 'Load more issues'}
            </button>
          )}
        </>
      )}
    </div>
  );
}

function fmtStep(s: number): string {
  if (s % 86400 === 0) return s === 86400 ? 'day' : `${s / 86400} days`;
  if (s % 3600 === 0) return s === 3600 ? 'hour' : `${s / 3600} hours`;
  if (s % 60 === 0) return s === 60 ? 'minute' : `${s / 60} minutes`;
  return `${s} s`;
}

function IssueRow({ is, list, filter }: { is: ListedIssue; list: IssueList; filter: IssuesFilter }) {
  const n = bucketCount(list.start, list.end, list.step) || 24;
  const values = denseSeries(is.series, list.start, list.step, n);
  const t0 = Date.parse(list.start);
  const titles = values.map((v, i) => `${v} event${v === 1 ? '' : 's'} from ${fmtDateTime(t0 + i * list.step * 1000)}`);
  const level = is.level || 'error';
  return (
    <tr data-testid="issue-row" data-issue-id={is.id} data-status={is.status} data-service={is.service ?? ''} className="issue-row">
      <td className="issue-cell">
        <span className="level-bar" style={{ background: levelColors[level] ?? levelColors.error }} title={`level ${level}`} />
        <div className="issue-text">
          <a href={issueURL(is.id)} onClick={onLinkClick} data-testid="issue-link" className="issue-title">
            {is.title || '(no title)'}
          </a>
          <div className="tiny muted issue-sub">
            {is.culprit && <span className="mono" data-testid="issue-culprit">{is.culprit}</span>}
            {is.service && (
              <a href={issuesURL({ ...filter, service: is.service })} onClick={onLinkClick} className="plain" title="Only this service's issues">
                <span className="svc-dot" data-svc={is.service} style={{ background: serviceColor(is.service) }} />
                {is.service}
              </a>
            )}
            <span className={`level-text level-${level}`}>{level}</span>
            {is.last_release && <span title="latest release seen">{is.last_release}</span>}
          </div>
        </div>
      </td>
      <td>
        <IssueStatusBadge status={is.status} />
      </td>
      <td>
        <SparkBars values={values} titles={titles} width={150} height={26} label={`${is.title}: events per bucket`} testId="issue-sparkline" />
      </td>
      <td className="num" data-testid="issue-events">{is.events.toLocaleString()}</td>
      <td className="num" data-testid="issue-users">{is.users.toLocaleString()}</td>
      <td className="nowrap" title={fmtDateTime(Date.parse(is.first_seen))}>{fmtAgo(Date.parse(is.first_seen))}</td>
      <td className="nowrap" title={fmtDateTime(Date.parse(is.last_seen))}>{fmtAgo(Date.parse(is.last_seen))}</td>
    </tr>
  );
}

/** NoErrors tells a newcomer how to send errors: a Sentry DSN, or OpenTelemetry exceptions. */
function NoErrors() {
  const listen = useListen();
  return (
    <div className="empty-state" data-testid="errors-empty">
      <h3>No errors in this range yet</h3>
      <p>
        Point any Sentry SDK at Loupe with a DSN; no code change. Create one with the CLI (pass the <code>--config</code> or <code>--data-dir</code> of <code>loupe serve</code>):
      </p>
      <pre className="code">{`loupe sentry-dsn create --project my-service --url http://${listen.http}
# http://<key>@${listen.http}/1`}</pre>
      <pre className="code">{`import sentry_sdk
sentry_sdk.init(dsn="http://<key>@${listen.http}/1", release="my-service@1.0.0", environment="prod")`}</pre>
      <p>
        Programs that use only OpenTelemetry need nothing more: exceptions recorded on spans (<code>span.RecordError</code>, <code>record_exception</code>) and log records with{' '}
        <code>exception.type</code> / <code>exception.stacktrace</code> sent to <code>http://{listen.otlp}</code> become issues here too.
      </p>
      <p className="muted">Only unresolved issues are listed by default; if you have sent errors already, try a wider time range or another status.</p>
    </div>
  );
}
