// One issue: its status and the actions that change it, its counts, releases,
// environments, tag value distributions and events over the last 14 days, and one of its
// events in full (the latest by default; `event=` in the URL picks another, and the pager
// walks through them): exceptions with their stack traces, breadcrumbs, tags, request,
// user, contexts, with links to the event's trace and to the logs around it.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { getJSON, sendJSON } from '../api';
import { href, navigate, onLinkClick, useRefresh } from '../router';
import { fmtDateTime, serviceColor } from '../util';
import {
  denseSeries, bucketCount, fmtAgo, rebucket, issueURL, levelColors, logsWindow, statusActions, statusBody, statusNote,
  type Breadcrumb, type ErrorEvent, type EventPage, type Issue, type IssueDetail, type StatusAction,
} from '../errors';
import { ErrorBox, Spinner } from '../components/States';
import { AttrTable, Sections } from '../components/Attributes';
import { Exceptions } from '../components/StackTrace';
import { SparkBars } from '../components/SparkBars';
import { IssueStatusBadge } from '../components/IssueStatus';
import { useAsync } from '../components/hooks';
import { useFirstRender } from '../components/perf';
import { issuesURL } from './Errors';

const EVENTS_PAGE = 20;
// How many pages of events the pager reads to find the event named in the URL.
const FIND_PAGES = 10;

const issuePath = (id: string) => `/api/loupe/v1/issues/${encodeURIComponent(id)}`;

export function IssuePage({ id, params }: { id: string; params: URLSearchParams }) {
  const gen = useRefresh();
  const detail = useAsync(`${id}#${gen}`, (signal) => getJSON<IssueDetail>(issuePath(id), undefined, signal));
  useFirstRender('issue', !!detail.data || !!detail.error);
  // The issue as a status change answered it, until the detail is read again.
  const [changed, setChanged] = useState<Issue | null>(null);
  useEffect(() => setChanged(null), [detail.data]);

  if (detail.error) {
    return (
      <div className="page">
        <ErrorBox error={detail.error} title={`Issue ${id}`} />
        <a href="/errors" onClick={onLinkClick}>
          ← Back to the errors
        </a>
      </div>
    );
  }
  if (!detail.data) return <div className="page"><Spinner label="Loading issue…" /></div>;
  const issue = changed ?? detail.data.issue;
  return (
    <div className="page issue-page" data-testid="issue-page" data-issue-id={issue.id}>
      <IssueHead issue={issue} onChange={setChanged} />
      <div className="issue-grid">
        <div className="issue-main">
          <Events issue={issue} eventId={params.get('event') ?? ''} gen={gen} />
        </div>
        <IssueSide detail={detail.data} issue={issue} />
      </div>
    </div>
  );
}

function IssueHead({ issue, onChange }: { issue: Issue; onChange: (is: Issue) => void }) {
  const level = issue.level || 'error';
  const note = statusNote(issue);
  return (
    <div className="issue-head">
      <a href={issuesURL({ service: issue.service })} onClick={onLinkClick} className="small">
        ← Errors{issue.service ? ` of ${issue.service}` : ''}
      </a>
      <h2 data-testid="issue-title">
        <span className="level-dot" style={{ background: levelColors[level] ?? levelColors.error }} title={`level ${level}`} />
        {issue.title || '(no title)'}
      </h2>
      <div className="issue-meta small">
        {issue.culprit && <span className="mono" data-testid="issue-culprit">{issue.culprit}</span>}
        {issue.service && (
          <span>
            <span className="svc-dot" data-svc={issue.service} style={{ background: serviceColor(issue.service) }} />
            {issue.service}
          </span>
        )}
        {issue.project && <span>Sentry project {issue.project}</span>}
        <span className={`level-text level-${level}`}>{level}</span>
        <span className="mono muted">{issue.id}</span>
      </div>
      <div className="toolbar wrap status-bar">
        <IssueStatusBadge status={issue.status} />
        {note && <span className="small muted" data-testid="issue-status-note">{note}</span>}
        <span className="grow" />
        <StatusActions issue={issue} onChange={onChange} />
      </div>
    </div>
  );
}

const ignoreChoices = [
  { value: '', label: 'until it is unresolved' },
  { value: '1h', label: 'for 1 hour' },
  { value: '24h', label: 'for 24 hours' },
  { value: '7d', label: 'for 7 days' },
];

function StatusActions({ issue, onChange }: { issue: Issue; onChange: (is: Issue) => void }) {
  const [busy, setBusy] = useState<StatusAction | ''>('');
  const [error, setError] = useState<Error | null>(null);
  const [ignoreFor, setIgnoreFor] = useState('');
  const act = async (a: StatusAction) => {
    setBusy(a);
    setError(null);
    try {
      onChange(await sendJSON<Issue>('PUT', issuePath(issue.id), statusBody(a, ignoreFor)));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy('');
    }
  };
  const actions = statusActions(issue);
  const button = (a: StatusAction, label: string, title: string, primary = false, disabled = false) => (
    <button type="button" className={`btn ${primary ? 'primary' : ''}`} data-testid={`issue-${a}`} onClick={() => act(a)} disabled={!!busy || disabled} title={title}>
      {busy === a ? '…' : label}
    </button>
  );
  return (
    <div className="status-actions">
      {actions.includes('resolve') && button('resolve', '✓ Resolve', 'Mark as resolved: the next event reopens it as regressed', true)}
      {actions.includes('resolve-next') &&
        button(
          'resolve-next',
          'Resolve in next release',
          issue.last_release
            ? `Resolved in the release after ${issue.last_release}: events from ${issue.last_release} or older do not reopen it`
            : 'No release was seen with this issue, so there is no "next" one',
          false,
          !issue.last_release,
        )}
      {actions.includes('ignore') && (
        <span className="btn-group">
          {button('ignore', '⊘ Ignore', 'Hide it from the unresolved issues; new events still count')}
          <select aria-label="Ignore for how long" data-testid="issue-ignore-for" value={ignoreFor} onChange={(e) => setIgnoreFor(e.target.value)} disabled={!!busy}>
            {ignoreChoices.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </select>
        </span>
      )}
      {actions.includes('unresolve') && button('unresolve', '↺ Unresolve', 'Mark as unresolved again', true)}
      {error && <span className="error-text small" role="alert">{error.message}</span>}
    </div>
  );
}

function IssueSide({ detail, issue }: { detail: IssueDetail; issue: Issue }) {
  const n = bucketCount(detail.start, detail.end, detail.step);
  const values = denseSeries(detail.series, detail.start, detail.step, n);
  const t0 = Date.parse(detail.start);
  const t1 = Date.parse(detail.end);
  // The hourly series as the last 24 hours and as days; another step is shown as it is.
  const hourly = detail.step === 3600;
  const graphs = hourly
    ? [
        { title: 'Last 24 hours', values: values.slice(-24), stepMs: 3600_000, testId: 'issue-series-24h' },
        { title: `Last ${Math.round((t1 - t0) / 86400_000)} days`, values: rebucket(values, 24), stepMs: 86400_000, testId: 'issue-series' },
      ]
    : [{ title: `Events per ${detail.step} s`, values, stepMs: detail.step * 1000, testId: 'issue-series' }];
  const stat = (label: string, value: React.ReactNode, testId: string, title?: string) => (
    <div className="stat" title={title}>
      <div className="tiny muted">{label}</div>
      <div className="stat-value" data-testid={testId}>{value}</div>
    </div>
  );
  return (
    <aside className="issue-side" data-testid="issue-side">
      <div className="stat-row wrap">
        {stat('Events', issue.events.toLocaleString(), 'issue-events')}
        {stat('Users', issue.users.toLocaleString(), 'issue-users', 'distinct user ids (or e-mails, names, IPs without an id)')}
      </div>
      <table className="kv small">
        <tbody>
          <tr>
            <td>First seen</td>
            <td data-testid="issue-first-seen">
              {fmtDateTime(Date.parse(issue.first_seen))} <span className="muted">({fmtAgo(Date.parse(issue.first_seen))})</span>
              {issue.first_release && <div className="tiny muted">in {issue.first_release}</div>}
            </td>
          </tr>
          <tr>
            <td>Last seen</td>
            <td data-testid="issue-last-seen">
              {fmtDateTime(Date.parse(issue.last_seen))} <span className="muted">({fmtAgo(Date.parse(issue.last_seen))})</span>
              {issue.last_release && <div className="tiny muted">in {issue.last_release}</div>}
            </td>
          </tr>
        </tbody>
      </table>
      {graphs.map((g) => {
        const from = t1 - g.values.length * g.stepMs;
        const titles = g.values.map((v, i) => `${v} event${v === 1 ? '' : 's'} from ${fmtDateTime(from + i * g.stepMs)}`);
        return (
          <div className="side-section" key={g.testId}>
            <h4>
              {g.title} <span className="muted">· {g.values.reduce((a, b) => a + b, 0).toLocaleString()} events</span>
            </h4>
            <SparkBars values={g.values} titles={titles} width="100%" height={40} label={`${g.title}: events per bucket`} testId={g.testId} />
            <div className="tiny muted series-axis">
              <span>{fmtDateTime(from).slice(hourly && g.stepMs === 3600_000 ? 11 : 0, hourly && g.stepMs === 3600_000 ? 16 : 10)}</span>
              <span>now</span>
            </div>
          </div>
        );
      })}
      <div className="side-section" data-testid="issue-releases">
        <h4>Releases ({issue.releases?.length ?? 0})</h4>
        {(issue.releases ?? []).length === 0 && <div className="muted small">none sent</div>}
        {(issue.releases ?? []).map((r) => (
          <a key={r} className="tag-chip" href={issuesURL({ release: r, status: 'all' })} onClick={onLinkClick} title="Issues of this release">
            {r}
          </a>
        ))}
      </div>
      <div className="side-section" data-testid="issue-environments">
        <h4>Environments ({issue.environments?.length ?? 0})</h4>
        {(issue.environments ?? []).length === 0 && <div className="muted small">none sent</div>}
        {(issue.environments ?? []).map((e) => (
          <a key={e} className="tag-chip" href={issuesURL({ environment: e, status: 'all' })} onClick={onLinkClick} title="Issues of this environment">
            {e}
          </a>
        ))}
      </div>
      <div className="side-section" data-testid="issue-tags">
        <h4>Tags</h4>
        {detail.tags.length === 0 && <div className="muted small">none</div>}
        {detail.tags.map((t) => {
          const total = t.values.reduce((a, v) => a + v.count, 0) || 1;
          return (
            <div key={t.key} className="tag-dist" data-testid="tag-dist" data-key={t.key}>
              <div className="small mono tag-key">{t.key}</div>
              {t.values.map((v) => (
                <div key={v.value} className="tag-value small" title={`${v.count} of the ${total} events with this tag (top ${t.values.length} values)`}>
                  <span className="tag-bar" style={{ width: `${(v.count / total) * 100}%` }} />
                  <span className="tag-label mono">{v.value || '(empty)'}</span>
                  <span className="tag-pct">{Math.round((v.count / total) * 100)}%</span>
                </div>
              ))}
            </div>
          );
        })}
      </div>
      {issue.fingerprint && (
        <details className="side-section small">
          <summary>Why these events are grouped</summary>
          <pre className="code">{issue.fingerprint}</pre>
          <div className="tiny muted">grouping version {issue.grouping_version} (docs/errors.md, "Grouping")</div>
        </details>
      )}
    </aside>
  );
}

interface Loaded {
  key: string;
  events: ErrorEvent[];
  next?: string;
  loading: boolean;
  pages: number;
  error?: Error;
}

/**
 * Events shows one event and a pager over the issue's events (newest first), read a page
 * at a time from GET issues/{id}/events. The event of the URL is looked for in up to
 * FIND_PAGES pages; it is shown at once from GET events/{id} whatever the pager finds.
 */
function Events({ issue, eventId, gen }: { issue: Issue; eventId: string; gen: number }) {
  const key = `${issue.id}#${gen}`;
  const [loaded, setLoaded] = useState<Loaded>({ key: '', events: [], loading: false, pages: 0 });
  const cur = loaded.key === key ? loaded : { key, events: [] as ErrorEvent[], next: undefined, loading: true, pages: 0, error: undefined };

  const load = useCallback(
    (cursor?: string): Promise<ErrorEvent[]> => {
      const p = new URLSearchParams({ limit: String(EVENTS_PAGE) });
      if (cursor) p.set('cursor', cursor);
      setLoaded((l) => (l.key === key ? { ...l, loading: true } : { key, events: [], loading: true, pages: 0 }));
      return getJSON<EventPage>(`${issuePath(issue.id)}/events`, p).then(
        (page) => {
          setLoaded((l) => (l.key === key ? { key, events: l.events.concat(page.events), next: page.next, loading: false, pages: l.pages + 1 } : l));
          return page.events;
        },
        (error) => {
          setLoaded((l) => (l.key === key ? { ...l, loading: false, error } : l));
          return [];
        },
      );
    },
    [issue.id, key],
  );
  useEffect(() => {
    load();
  }, [load]);

  const idx = eventId ? cur.events.findIndex((e) => e.event_id === eventId) : cur.events.length ? 0 : -1;
  // Keep reading pages while the URL's event is not among them.
  useEffect(() => {
    if (eventId && idx < 0 && !cur.loading && !cur.error && cur.next && cur.pages < FIND_PAGES) load(cur.next);
  }, [eventId, idx, cur.loading, cur.error, cur.next, cur.pages, load]);
  const single = useAsync(eventId && idx < 0 ? eventId : '', (signal) => getJSON<ErrorEvent>(`/api/loupe/v1/events/${encodeURIComponent(eventId)}`, undefined, signal));
  const ev = idx >= 0 ? cur.events[idx] : single.data;

  const goTo = (e: ErrorEvent | undefined) => e && navigate(issueURL(issue.id, e.event_id === cur.events[0]?.event_id ? undefined : e.event_id));
  const older = async () => {
    if (idx >= 0 && idx < cur.events.length - 1) return goTo(cur.events[idx + 1]);
    if (idx === cur.events.length - 1 && cur.next && !cur.loading) goTo((await load(cur.next))[0]);
  };
  const hasOlder = idx >= 0 && (idx < cur.events.length - 1 || !!cur.next);

  return (
    <section className="event-section" data-testid="event-section">
      <div className="section-head event-pager">
        <h3>{idx === 0 ? 'Latest event' : 'Event'}</h3>
        <nav className="pager" aria-label="Events of this issue">
          <button type="button" className="btn small" data-testid="event-newest" disabled={idx === 0 || cur.events.length === 0} onClick={() => goTo(cur.events[0])} title="The latest event">
            ⇤ Latest
          </button>
          <button type="button" className="btn small" data-testid="event-newer" disabled={!(idx > 0)} onClick={() => goTo(cur.events[idx - 1])} title="The next newer event">
            ← Newer
          </button>
          <span className="small muted" data-testid="event-position">
            {idx >= 0 ? `${idx + 1} of ${issue.events.toLocaleString()}` : cur.loading ? 'looking…' : ''}
          </span>
          <button type="button" className="btn small" data-testid="event-older" disabled={!hasOlder || cur.loading} onClick={older} title="The next older event">
            Older →
          </button>
        </nav>
      </div>
      {cur.error && <ErrorBox error={cur.error} title="Loading the events failed" />}
      {single.error && <ErrorBox error={single.error} title={`Event ${eventId}`} />}
      {!ev && (cur.loading || single.loading) && <Spinner label="Loading the event…" />}
      {!ev && !cur.loading && !single.loading && !cur.error && !single.error && (
        <div className="empty-state">
          <h3>No stored events</h3>
          <p>The events of this issue are past the error retention (<code>retention.errors</code>); its counters keep what they counted.</p>
        </div>
      )}
      {ev && <EventView key={ev.event_id} ev={ev} />}
    </section>
  );
}

function EventView({ ev }: { ev: ErrorEvent }) {
  const ts = Date.parse(ev.timestamp ?? '');
  const win = logsWindow(ev.timestamp);
  const kv: [string, React.ReactNode][] = [
    ['Time', Number.isFinite(ts) ? `${fmtDateTime(ts)} (${fmtAgo(ts)})` : '–'],
    ['Release', ev.release],
    ['Environment', ev.environment],
    ['Service', ev.service],
    ['Level', ev.level],
    ['Transaction', ev.transaction],
    ['Server', ev.server_name],
    ['Platform', ev.platform],
    ['Logger', ev.logger],
    ['Source', ev.source === 'sentry' ? 'Sentry SDK' : ev.source === 'otel.span' ? 'OpenTelemetry span event' : ev.source === 'otel.log' ? 'OpenTelemetry log record' : ev.source],
    ['Trace', ev.trace_id ? <span className="mono">{ev.trace_id}{ev.span_id ? ` / ${ev.span_id}` : ''}</span> : undefined],
  ];
  return (
    <div className="event-view" data-testid="event-view" data-event-id={ev.event_id}>
      <div className="links small event-links">
        <span className="mono muted" data-testid="event-id">{ev.event_id}</span>
        {ev.trace_id ? (
          <a href={href(`/traces/${ev.trace_id}`, { span: ev.span_id })} onClick={onLinkClick} data-testid="event-trace-link">
            Trace of this event →
          </a>
        ) : (
          <span className="muted" title="The SDK sent no trace context with this event">no trace</span>
        )}
        {win && (
          <a href={href('/logs', { service: ev.service, from: win.from, to: win.to })} onClick={onLinkClick} data-testid="event-logs-link" title="The service's logs from 5 minutes before the event to 5 minutes after">
            Logs of {ev.service || 'every service'} around it →
          </a>
        )}
        <a href={`/api/loupe/v1/events/${ev.event_id}`} target="_blank" rel="noreferrer">
          JSON
        </a>
      </div>
      <table className="kv small event-kv">
        <tbody>
          {kv
            .filter(([, v]) => v)
            .map(([k, v]) => (
              <tr key={k}>
                <td>{k}</td>
                <td>{v}</td>
              </tr>
            ))}
        </tbody>
      </table>
      {ev.message && (
        <section>
          <h3>Message</h3>
          <pre className="log-full-body" data-testid="event-message">{ev.message}</pre>
        </section>
      )}
      {(ev.exceptions ?? []).length > 0 && <Exceptions exceptions={ev.exceptions!} />}
      <Breadcrumbs crumbs={ev.breadcrumbs ?? []} eventMs={ts} level={ev.level || 'error'} />
      {ev.tags && Object.keys(ev.tags).length > 0 && (
        <section data-testid="event-tags">
          <h3>Tags</h3>
          {Object.entries(ev.tags)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => (
              <span key={k} className="tag-chip" data-testid="event-tag">
                {k}=<b>{v}</b>
              </span>
            ))}
        </section>
      )}
      {ev.request && <RequestView req={ev.request} />}
      {ev.user && (
        <section data-testid="event-user">
          <h3>User</h3>
          <AttrTable attrs={ev.user} />
        </section>
      )}
      {(ev.contexts || ev.extra) && (
        <section>
          <h3>Contexts and extra data</h3>
          <Sections sections={[['Contexts', ev.contexts ?? {}], ['Extra', ev.extra ?? {}]]} json={{ contexts: ev.contexts, extra: ev.extra }} />
        </section>
      )}
    </div>
  );
}

function RequestView({ req }: { req: NonNullable<ErrorEvent['request']> }) {
  return (
    <section data-testid="event-request">
      <h3>Request</h3>
      <div className="mono small request-line">
        <b>{req.method}</b> {req.url}
        {req.query_string ? `${req.url?.includes('?') ? '&' : '?'}${req.query_string}` : ''}
      </div>
      {req.headers && Object.keys(req.headers).length > 0 && (
        <>
          <h4>Headers</h4>
          <AttrTable attrs={req.headers} />
        </>
      )}
      {req.cookies && Object.keys(req.cookies).length > 0 && (
        <>
          <h4>Cookies</h4>
          <AttrTable attrs={req.cookies} />
        </>
      )}
      {req.data !== undefined && req.data !== null && (
        <>
          <h4>Body</h4>
          <pre className="code json">{typeof req.data === 'string' ? req.data : JSON.stringify(req.data, null, 2)}</pre>
        </>
      )}
    </section>
  );
}

const crumbTime = (ms: number) => {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
};

/** Breadcrumbs lists what happened before the event, oldest first, as Sentry's SDKs record it. */
function Breadcrumbs({ crumbs, eventMs, level }: { crumbs: Breadcrumb[]; eventMs: number; level: string }) {
  const rows = useMemo(() => crumbs.map((c) => ({ c, ms: Date.parse(c.timestamp ?? '') })), [crumbs]);
  if (crumbs.length === 0) return null;
  return (
    <section data-testid="breadcrumbs">
      <h3>Breadcrumbs ({crumbs.length})</h3>
      <div className="crumbs">
        <table className="table crumbs-table">
          <thead>
            <tr>
              <th>Time</th>
              <th>Category</th>
              <th>Level</th>
              <th>Message and data</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ c, ms }, i) => (
              <tr key={i} data-testid="breadcrumb" className="crumb" data-level={c.level || 'info'}>
                <td className="mono nowrap" title={Number.isFinite(ms) && Number.isFinite(eventMs) ? `${((eventMs - ms) / 1000).toFixed(3)} s before the event` : ''}>
                  {Number.isFinite(ms) ? crumbTime(ms) : ''}
                </td>
                <td className="nowrap">
                  {c.category || c.type || 'default'}
                  {c.type && c.category && c.type !== 'default' && <span className="tiny muted"> {c.type}</span>}
                </td>
                <td className={`nowrap level-text level-${c.level || 'info'}`}>{c.level || 'info'}</td>
                <td className="crumb-msg">
                  {c.message && <div>{c.message}</div>}
                  {c.data && Object.keys(c.data).length > 0 && <div className="mono tiny muted crumb-data">{JSON.stringify(c.data)}</div>}
                </td>
              </tr>
            ))}
            <tr className="crumb crumb-event">
              <td className="mono nowrap">{Number.isFinite(eventMs) ? crumbTime(eventMs) : ''}</td>
              <td>this event</td>
              <td className={`level-text level-${level}`}>{level}</td>
              <td className="muted">the error was captured</td>
            </tr>
          </tbody>
        </table>
      </div>
    </section>
  );
}
