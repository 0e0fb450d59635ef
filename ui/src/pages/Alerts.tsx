// The Alerts page: the firing and pending alerts (labels, annotations, runbook, the query
// that fired, silences that cover them, a one-click silence), every rule group and rule
// with its state, health and last evaluation (/api/v1/rules), and the embedded
// Alertmanager's silences (/alertmanager/api/v2/silences: listed by state, created,
// expired). The filters live in the URL; the logic is in alerts.ts.
import { Fragment, useEffect, useMemo, useState } from 'react';
import { amRequest, ApiError, getJSON } from '../api';
import { onLinkClick, setAutoRefresh, submit as go, useRefresh } from '../router';
import { autoRefreshIntervals, fmtDateTime, fmtDuration, fmtNumber } from '../util';
import {
  activeAlerts, alertsFilterFromParams, alertsURL, filterGroups, fmtMatcher, mergeRuleGroups, newSilence, parseMatcher, queryLink, relatedLinks, ruleState, ruleStates,
  labelsKey, shownSilenceStates, silenceMatchers, silencesFor, silenceStates, sortSilences, stateCounts, type ActiveAlert, type AlertsFilter, type Matcher,
  type Rule, type RuleGroup, type Silence,
} from '../alerts';
import { fmtAgo } from '../errors';
import { ErrorBox, Spinner } from '../components/States';
import { useAsync } from '../components/hooks';
import { useFirstRender } from '../components/perf';

const stateColors: Record<string, string> = {
  firing: '#e5534b', pending: '#d29922', inactive: '#3fb27f', active: '#539bf5', expired: '#6e7681', ok: '#3fb27f', err: '#e5534b', unknown: '#6e7681',
};

function Badge({ state, testId }: { state: string; testId?: string }) {
  const color = stateColors[state] ?? '#6e7681';
  return (
    <span className="status-badge" style={{ color, borderColor: color }} data-testid={testId} data-state={state}>
      {state}
    </span>
  );
}

/** Labels as chips; alertname first. */
function Labels({ labels, skip = [] }: { labels: Record<string, string>; skip?: string[] }) {
  const keys = Object.keys(labels)
    .filter((k) => !skip.includes(k))
    .sort((a, b) => (a === 'alertname' ? -1 : b === 'alertname' ? 1 : a.localeCompare(b)));
  return (
    <span data-testid="alert-labels">
      {keys.map((k) => (
        <span key={k} className="tag-chip">
          {k}={labels[k]}
        </span>
      ))}
    </span>
  );
}

const lastEval = (t: string) => {
  const ms = Date.parse(t);
  return !Number.isFinite(ms) || ms <= 0 ? 'never' : fmtAgo(ms);
};

export function AlertsPage({ params }: { params: URLSearchParams }) {
  const filter = useMemo(() => alertsFilterFromParams(params), [params]);
  const [q, setQ] = useState(filter.q);
  useEffect(() => setQ(filter.q), [filter.q]);
  const submit = (f: Partial<AlertsFilter>) => go(alertsURL({ ...filter, ...f }));
  const gen = useRefresh();

  const rules = useAsync(`rules#${gen}`, (signal) => getJSON<{ groups: RuleGroup[] }>('/api/v1/rules', undefined, signal));
  // The LogQL rules (rules.logql_files) are in Loki's rules API, not in /api/v1/rules. A
  // server without that API answers the UI's HTML (or a 404): no LogQL rules then.
  const logqlRules = useAsync(`logql-rules#${gen}`, (signal) =>
    getJSON<{ groups: RuleGroup[] }>('/prometheus/api/v1/rules', undefined, signal).catch((e) => {
      if (e instanceof ApiError && (e.status === 404 || (e.status === 200 && /<!doctype|<html/i.test(e.message)))) return { groups: [] as RuleGroup[] };
      throw e;
    }),
  );
  const silences = useAsync(`silences#${gen}`, (signal) => amRequest<Silence[]>('GET', '/silences', undefined, signal));
  useFirstRender('alerts', !rules.loading);
  const amMissing = silences.error instanceof ApiError && silences.error.type === 'not_configured';

  const groups = useMemo(() => mergeRuleGroups(rules.data?.groups ?? [], logqlRules.data?.groups ?? []), [rules.data, logqlRules.data]);
  const shown = useMemo(() => filterGroups(groups, filter), [groups, filter]);
  const alerts = useMemo(() => activeAlerts(shown), [shown]);
  const counts = useMemo(() => stateCounts(groups), [groups]);
  const toggle = (list: string[], v: string) => (list.includes(v) ? list.filter((x) => x !== v) : [...list, v]);

  return (
    <div className="page alerts-page" data-testid="alerts-page">
      <form
        className="toolbar wrap"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          submit({ q });
        }}
      >
        <label className="field grow">
          Search
          <input data-testid="alerts-search" placeholder="Group, rule, expression or label value" value={q} onChange={(e) => setQ(e.target.value)} spellCheck={false} />
        </label>
        <label className="field">
          Rules
          <select data-testid="alerts-type" value={filter.type} onChange={(e) => submit({ q, type: e.target.value })}>
            <option value="">Alerting and recording</option>
            <option value="alert">Alerting</option>
            <option value="record">Recording</option>
          </select>
        </label>
        <div className="field">
          State
          <div className="seg" data-testid="alerts-state">
            {ruleStates.map((s) => (
              <button type="button" key={s} className={filter.state.includes(s) ? 'on' : ''} data-state={s} onClick={() => submit({ q, state: toggle(filter.state, s) })}>
                {s} {rules.data ? `(${counts[s] ?? 0})` : ''}
              </button>
            ))}
          </div>
        </div>
        <select className="auto-refresh" data-testid="auto-refresh" value={params.get('refresh') ?? ''} onChange={(e) => setAutoRefresh(e.target.value)} title="Load again every…">
          {autoRefreshIntervals.map((v) => (
            <option key={v} value={v}>
              {v ? `⟳ ${v}` : '⟳ off'}
            </option>
          ))}
        </select>
        <button className="btn primary" type="submit" data-testid="alerts-run">
          Refresh
        </button>
      </form>
      {rules.error && <ErrorBox error={rules.error} title="Cannot read the rules (/api/v1/rules)" />}
      {logqlRules.error && <ErrorBox error={logqlRules.error} title="Cannot read the LogQL rules (/prometheus/api/v1/rules)" />}
      {rules.loading && !rules.data && <Spinner label="Loading rules…" />}
      {rules.data && groups.length === 0 && <NoRules />}
      {rules.data && groups.length > 0 && (
        <>
          <div className="section-head">
            <h3>Firing and pending alerts</h3>
            <span className="small muted" data-testid="alerts-count">
              {alerts.length} alert{alerts.length === 1 ? '' : 's'}
              {rules.loading ? ' · refreshing…' : ''}
            </span>
          </div>
          {alerts.length === 0 ? (
            <div className="muted small" data-testid="alerts-none">
              No alert is firing or pending{filter.q || filter.state.length || filter.type ? ' among the rules listed' : ''}.
            </div>
          ) : (
            <AlertsTable alerts={alerts} silences={silences.data ?? []} amMissing={amMissing} onSilenced={silences.reload} />
          )}
          <div className="section-head">
            <h3>Rules</h3>
            <span className="small muted">
              {shown.reduce((n, g) => n + g.rules.length, 0)} rule(s) in {shown.length} group(s)
            </span>
          </div>
          {shown.length === 0 && (
            <div className="muted small" data-testid="rules-none">
              No rule matches these filters. <a href={alertsURL({ silences: filter.silences })} onClick={onLinkClick}>Show every rule</a>.
            </div>
          )}
          {shown.map((g) => (
            <GroupTable key={`${g.file}|${g.name}`} g={g} />
          ))}
        </>
      )}
      <div className="section-head">
        <h3>Silences</h3>
        {!amMissing && (
          <div className="seg small" data-testid="silences-state">
            {silenceStates.map((s) => (
              <button type="button" key={s} className={shownSilenceStates(filter).includes(s) ? 'on' : ''} data-state={s} onClick={() => submit({ q, silences: toggle(shownSilenceStates(filter), s) })}>
                {s}
              </button>
            ))}
          </div>
        )}
      </div>
      {amMissing && <NoAlertmanager />}
      {silences.error && !amMissing && <ErrorBox error={silences.error} title="Cannot list silences" />}
      {silences.data && <SilencesTable silences={silences.data} states={shownSilenceStates(filter)} onChange={silences.reload} />}
    </div>
  );
}

function AlertsTable({ alerts, silences, amMissing, onSilenced }: { alerts: ActiveAlert[]; silences: Silence[]; amMissing: boolean; onSilenced: () => void }) {
  // The open silence form, by the alert's labels (the list may re-sort on a refresh).
  const [open, setOpen] = useState<string | null>(null);
  return (
    <table className="table" data-testid="alerts-table">
      <thead>
        <tr>
          <th>State</th>
          <th>Alert</th>
          <th>Active since</th>
          <th className="num">Value</th>
          <th>Links</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {alerts.map((a) => {
          const { alert, rule, group } = a;
          const id = labelsKey(alert.labels);
          const ann = alert.annotations ?? {};
          const q = queryLink(rule.query, group.lang, alert.activeAt);
          const covered = silencesFor(alert.labels, silences);
          const since = alert.activeAt ? Date.parse(alert.activeAt) : NaN;
          return (
            <Fragment key={id}>
              <tr data-testid="alert-row" data-alertname={alert.labels.alertname} data-state={alert.state} style={{ verticalAlign: 'top' }}>
                <td>
                  <Badge state={alert.state} testId="alert-state" />
                  {covered.length > 0 && (
                    <div className="tiny muted" data-testid="alert-silenced" title={covered.map((s) => `${s.id}: ${s.comment}`).join('\n')}>
                      silenced
                    </div>
                  )}
                </td>
                <td>
                  <div>
                    <strong>{alert.labels.alertname}</strong> <Labels labels={alert.labels} skip={['alertname']} />
                  </div>
                  {ann.summary && <div data-testid="alert-summary">{ann.summary}</div>}
                  {ann.description && <div className="small muted pre-wrap" data-testid="alert-description" style={{ whiteSpace: 'pre-wrap' }}>{ann.description}</div>}
                  <div className="tiny muted">
                    group {group.name} · <span className="mono">{rule.query}</span>
                  </div>
                </td>
                <td className="nowrap" title={Number.isFinite(since) ? fmtDateTime(since) : ''} data-testid="alert-since">
                  {Number.isFinite(since) ? fmtAgo(since) : '–'}
                  {alert.keepFiringSince && <div className="tiny muted">kept firing since {fmtDateTime(Date.parse(alert.keepFiringSince))}</div>}
                </td>
                <td className="num mono" title={alert.value}>{Number.isFinite(parseFloat(alert.value)) ? fmtNumber(parseFloat(alert.value)) : alert.value}</td>
                <td className="small">
                  <div>
                    <a href={q.url} onClick={onLinkClick} data-testid="alert-query" data-lang={q.lang} title={q.label}>
                      {q.lang === 'logql' ? 'LogQL ↗' : 'PromQL ↗'}
                    </a>
                  </div>
                  {ann.runbook_url && (
                    <div>
                      <a href={ann.runbook_url} target="_blank" rel="noreferrer" data-testid="alert-runbook">
                        runbook ↗
                      </a>
                    </div>
                  )}
                  {relatedLinks(alert.labels, rule.query).map((l) => (
                    <div key={l.url}>
                      <a href={l.url} onClick={onLinkClick} data-testid="alert-related">
                        {l.label}
                      </a>
                    </div>
                  ))}
                </td>
                <td>
                  <button
                    className="btn small"
                    data-testid="alert-silence"
                    disabled={amMissing}
                    title={amMissing ? 'No embedded Alertmanager: set alerting.alertmanager_config' : 'Silence this alert (matchers: its labels)'}
                    onClick={() => setOpen(open === id ? null : id)}
                  >
                    Silence…
                  </button>
                </td>
              </tr>
              {open === id && (
                <tr>
                  <td colSpan={6}>
                    <SilenceForm
                      labels={alert.labels}
                      onDone={() => {
                        setOpen(null);
                        onSilenced();
                      }}
                      onCancel={() => setOpen(null)}
                    />
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}

const createdByKey = 'loupe.silence.createdBy';

/** SilenceForm creates a silence for an alert: its labels as matchers, editable. */
function SilenceForm({ labels, onDone, onCancel }: { labels: Record<string, string>; onDone: () => void; onCancel: () => void }) {
  const [matchers, setMatchers] = useState(() => silenceMatchers(labels).map(fmtMatcher).join('\n'));
  const [duration, setDuration] = useState('2h');
  const [createdBy, setCreatedBy] = useState(() => localStorage.getItem(createdByKey) || 'loupe-ui');
  const [comment, setComment] = useState(`Silenced from the Loupe UI: ${labels.alertname ?? 'alert'}`);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const create = async () => {
    setError(null);
    try {
      const lines = matchers.split('\n').filter((l) => l.trim());
      const parsed: Matcher[] = [];
      for (const l of lines) {
        const m = parseMatcher(l);
        if (!m) throw new Error(`cannot read the matcher ${JSON.stringify(l.trim())}: write name="value", name!="value", name=~"regex" or name!~"regex"`);
        parsed.push(m);
      }
      const body = newSilence(parsed, duration, createdBy, comment);
      setBusy(true);
      await amRequest<{ silenceID: string }>('POST', '/silences', body);
      localStorage.setItem(createdByKey, body.createdBy);
      onDone();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      className="silence-form"
      data-testid="silence-form"
      style={{ display: 'flex', gap: 12, flexWrap: 'wrap', alignItems: 'flex-start' }}
      onSubmit={(e) => {
        e.preventDefault();
        void create();
      }}
    >
      <label className="field">
        Matchers (one per line)
        <textarea data-testid="silence-matchers" rows={Math.max(2, matchers.split('\n').length)} cols={48} className="mono" value={matchers} onChange={(e) => setMatchers(e.target.value)} spellCheck={false} />
      </label>
      <label className="field narrow">
        Duration
        <input data-testid="silence-duration" value={duration} onChange={(e) => setDuration(e.target.value)} placeholder="2h" />
      </label>
      <label className="field">
        Created by
        <input data-testid="silence-created-by" value={createdBy} onChange={(e) => setCreatedBy(e.target.value)} />
      </label>
      <label className="field grow">
        Comment
        <input data-testid="silence-comment" value={comment} onChange={(e) => setComment(e.target.value)} />
      </label>
      <div className="toolbar" style={{ alignSelf: 'flex-end' }}>
        <button className="btn primary" type="submit" data-testid="silence-create" disabled={busy}>
          {busy ? 'Creating…' : 'Create silence'}
        </button>
        <button className="btn" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {error && (
        <div style={{ flexBasis: '100%' }}>
          <ErrorBox error={error} title="Cannot create the silence" />
        </div>
      )}
    </form>
  );
}

function GroupTable({ g }: { g: RuleGroup }) {
  return (
    <div data-testid="rule-group" data-group={g.name}>
      <div className="small" style={{ margin: '4px 0' }}>
        <strong>{g.name}</strong> {g.lang === 'logql' && <span className="tag-chip" data-testid="group-logql">LogQL</span>}
        <span className="muted">
          · <span className="mono">{g.file}</span> · every {g.interval}s{g.limit ? ` · limit ${g.limit}` : ''} · last evaluation {lastEval(g.lastEvaluation)} in{' '}
          {fmtDuration(g.evaluationTime * 1e9)}
        </span>
      </div>
      <table className="table" data-testid="rules-table">
        <thead>
          <tr>
            <th>Rule</th>
            <th>State</th>
            <th>Health</th>
            <th>Last evaluation</th>
            <th className="num">Took</th>
          </tr>
        </thead>
        <tbody>
          {g.rules.map((r, i) => (
            <RuleRow key={i} r={r} g={g} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RuleRow({ r, g }: { r: Rule; g: RuleGroup }) {
  const state = ruleState(r);
  const t = Date.parse(r.lastEvaluation);
  const q = queryLink(r.query, g.lang);
  return (
    <tr data-testid="rule-row" data-rule={r.name} data-type={r.type} data-state={state} data-health={r.health} style={{ verticalAlign: 'top' }}>
      <td>
        <div>
          <span className="tiny muted">{r.type === 'alerting' ? 'alert' : 'record'}</span> <strong>{r.name}</strong>
          {r.type === 'alerting' && r.duration ? <span className="small muted"> · for {fmtDuration(r.duration * 1e9)}</span> : null}
          {r.keepFiringFor ? <span className="small muted"> · keep firing for {fmtDuration(r.keepFiringFor * 1e9)}</span> : null}
          {r.labels && Object.keys(r.labels).length > 0 && (
            <>
              {' '}
              <Labels labels={r.labels} />
            </>
          )}
        </div>
        <div className="mono small">
          <a href={q.url} onClick={onLinkClick} className="plain" data-testid="rule-query" data-lang={q.lang} title={q.label}>
            {r.query}
          </a>
        </div>
        {r.annotations?.summary && <div className="small muted">{r.annotations.summary}</div>}
        {r.lastError && (
          <div className="small" style={{ color: 'var(--error)' }} data-testid="rule-error">
            {r.lastError}
          </div>
        )}
      </td>
      <td>{state ? <Badge state={state} testId="rule-state" /> : <span className="muted small">–</span>}</td>
      <td>
        <Badge state={r.health} testId="rule-health" />
      </td>
      <td className="nowrap" title={Number.isFinite(t) && t > 0 ? fmtDateTime(t) : ''}>
        {lastEval(r.lastEvaluation)}
      </td>
      <td className="num">{fmtDuration(r.evaluationTime * 1e9)}</td>
    </tr>
  );
}

function SilencesTable({ silences, states, onChange }: { silences: Silence[]; states: string[]; onChange: () => void }) {
  const [error, setError] = useState<Error | null>(null);
  const shown = sortSilences(silences.filter((s) => states.includes(s.status.state)));
  const expire = async (id: string) => {
    setError(null);
    try {
      await amRequest('DELETE', `/silence/${encodeURIComponent(id)}`);
      onChange();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <>
      {error && <ErrorBox error={error} title="Cannot expire the silence" />}
      {shown.length === 0 ? (
        <div className="muted small" data-testid="silences-none">
          No {states.join(' or ')} silence. Create one from an alert above (<em>Silence…</em>), or with <code>amtool silence add</code>.
        </div>
      ) : (
        <table className="table" data-testid="silences-table">
          <thead>
            <tr>
              <th>State</th>
              <th>Matchers</th>
              <th>Starts</th>
              <th>Ends</th>
              <th>Created by</th>
              <th>Comment</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {shown.map((s) => (
              <tr key={s.id} data-testid="silence-row" data-silence-id={s.id} data-state={s.status.state}>
                <td>
                  <Badge state={s.status.state} />
                </td>
                <td>
                  {s.matchers.map((m, i) => (
                    <span key={i} className="tag-chip">
                      {fmtMatcher(m)}
                    </span>
                  ))}
                </td>
                <td className="nowrap">{fmtDateTime(Date.parse(s.startsAt))}</td>
                <td className="nowrap">{fmtDateTime(Date.parse(s.endsAt))}</td>
                <td>{s.createdBy}</td>
                <td>{s.comment}</td>
                <td>
                  {s.status.state !== 'expired' && (
                    <button className="btn small" data-testid="silence-expire" onClick={() => void expire(s.id)}>
                      Expire
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function NoRules() {
  return (
    <div className="empty-state" data-testid="rules-empty">
      <h3>No rules loaded</h3>
      <p>
        Loupe evaluates Prometheus recording and alerting rule files. Name them in the configuration file (<code>loupe serve --config loupe.yaml</code>) and send{' '}
        <code>SIGHUP</code> or <code>POST /-/reload</code>:
      </p>
      <pre className="code">{`rules:
  files: [rules/*.yml]
  evaluation_interval: 1m`}</pre>
      <p className="muted">See docs/alerting.md for the rule format and examples (rules on scrape targets, error events and job runs).</p>
    </div>
  );
}

function NoAlertmanager() {
  return (
    <div className="empty-state" data-testid="am-not-configured">
      <h3>No embedded Alertmanager</h3>
      <p>
        Silences and notifications need the embedded Alertmanager: set <code>alerting.alertmanager_config</code> to an Alertmanager configuration file (its format unchanged) and
        restart <code>loupe serve</code>. Until then alerts are only visible here, in <code>/api/v1/alerts</code> and in the <code>ALERTS</code> series.
      </p>
      <pre className="code">{`# loupe.yaml
alerting:
  alertmanager_config: alertmanager.yml
  external_url: https://loupe.example.com/

# alertmanager.yml
route:
  receiver: team
receivers:
  - name: team
    webhook_configs:
      - url: http://hooks.internal:8080/alerts`}</pre>
    </div>
  );
}
