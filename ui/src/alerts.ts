// The Alerts page's logic that is worth testing on its own: the shapes of Prometheus' rules
// API and Alertmanager's API v2, the page's URL state, the links from an alert to the query
// that fired it (PromQL or LogQL), to an issue or a run, the matchers of a silence made from
// an alert, which silences match an alert, and Prometheus' /graph links turned into the
// metrics explorer's.
import { isoSeconds, parseDurationMs } from './util';

/** href builds path?params, leaving out empty values (router.ts's, which needs a window). */
function href(path: string, params: Record<string, string | string[] | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.filter((x) => x !== '').forEach((x) => p.append(k, x));
    else if (v) p.set(k, v);
  }
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

// GET /api/v1/rules and /api/v1/alerts (Prometheus' HTTP API).
export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | string;
  activeAt?: string;
  keepFiringSince?: string;
  value: string;
}

export interface Rule {
  type: 'alerting' | 'recording';
  name: string;
  query: string;
  duration?: number;
  keepFiringFor?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  alerts?: PromAlert[];
  state?: 'inactive' | 'pending' | 'firing';
  health: 'ok' | 'err' | 'unknown' | string;
  lastError?: string;
  evaluationTime: number;
  lastEvaluation: string;
}

export interface RuleGroup {
  name: string;
  file: string;
  /** Set by the UI: 'logql' for the groups of Loki's rules API (/prometheus/api/v1/rules). */
  lang?: 'promql' | 'logql';
  rules: Rule[];
  interval: number;
  limit?: number;
  evaluationTime: number;
  lastEvaluation: string;
}

// Alertmanager API v2 (/alertmanager/api/v2/...).
export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

export interface Silence {
  id: string;
  status: { state: 'active' | 'pending' | 'expired' };
  updatedAt?: string;
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

/** The body of POST /alertmanager/api/v2/silences. */
export interface PostableSilence {
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

// The page's URL state.
export const ruleStates = ['firing', 'pending', 'inactive'] as const;
export const silenceStates = ['active', 'pending', 'expired'] as const;

export interface AlertsFilter {
  /** Text matched against group, rule and label values (case-insensitive). */
  q: string;
  /** Rule states to list; empty = every state. */
  state: string[];
  /** 'alert' or 'record' to list one kind of rule; '' = both. */
  type: string;
  /** Silence states to list; empty = active and pending (expired ones hidden by default). */
  silences: string[];
}

const keep = (vals: string[], allowed: readonly string[]) => [...new Set(vals.filter((v) => allowed.includes(v)))];

export function alertsFilterFromParams(p: URLSearchParams): AlertsFilter {
  const type = p.get('type') ?? '';
  return {
    q: p.get('q') ?? '',
    state: keep(p.getAll('state'), ruleStates),
    type: type === 'alert' || type === 'record' ? type : '',
    silences: keep(p.getAll('silences'), silenceStates),
  };
}

/** alertsURL is the Alerts page's URL for f, leaving out the defaults. */
export function alertsURL(f: Partial<AlertsFilter>): string {
  return href('/alerts', { q: f.q?.trim(), state: f.state, type: f.type, silences: f.silences });
}

/** shownSilenceStates: the silence states a filter lists (active and pending by default). */
export function shownSilenceStates(f: AlertsFilter): string[] {
  return f.silences.length ? f.silences : ['active', 'pending'];
}

/** ruleState is an alerting rule's state, or '' for a recording rule. */
export function ruleState(r: Rule): string {
  return r.type === 'alerting' ? r.state ?? 'inactive' : '';
}

/** ruleMatches says whether a rule of group g is listed under filter f. */
export function ruleMatches(r: Rule, g: RuleGroup, f: AlertsFilter): boolean {
  if (f.type === 'alert' && r.type !== 'alerting') return false;
  if (f.type === 'record' && r.type !== 'recording') return false;
  // A state filter lists alerting rules only: recording rules have no state.
  if (f.state.length && !f.state.includes(ruleState(r))) return false;
  const q = f.q.trim().toLowerCase();
  if (!q) return true;
  const texts = [g.name, g.file, r.name, r.query, ...Object.values(r.labels ?? {})];
  for (const a of r.alerts ?? []) texts.push(...Object.values(a.labels));
  return texts.some((t) => t.toLowerCase().includes(q));
}

/** filterGroups keeps the rules f lists, and the groups that still have one. */
export function filterGroups(groups: RuleGroup[], f: AlertsFilter): RuleGroup[] {
  return groups.map((g) => ({ ...g, rules: g.rules.filter((r) => ruleMatches(r, g, f)) })).filter((g) => g.rules.length > 0);
}

/** stateCounts counts the alerting rules per state, over every group. */
export function stateCounts(groups: RuleGroup[]): Record<string, number> {
  const c: Record<string, number> = { firing: 0, pending: 0, inactive: 0 };
  for (const g of groups) for (const r of g.rules) if (r.type === 'alerting') c[ruleState(r)] = (c[ruleState(r)] ?? 0) + 1;
  return c;
}

/** An alert with the rule and group it came from. */
export interface ActiveAlert {
  alert: PromAlert;
  rule: Rule;
  group: RuleGroup;
}

/** activeAlerts lists the firing then pending alerts of the groups, the longest active first. */
export function activeAlerts(groups: RuleGroup[]): ActiveAlert[] {
  const out: ActiveAlert[] = [];
  for (const group of groups) for (const rule of group.rules) for (const alert of rule.alerts ?? []) out.push({ alert, rule, group });
  const rank = (s: string) => (s === 'firing' ? 0 : s === 'pending' ? 1 : 2);
  const t = (a: PromAlert) => (a.activeAt ? Date.parse(a.activeAt) : Infinity);
  return out.sort((a, b) => rank(a.alert.state) - rank(b.alert.state) || t(a.alert) - t(b.alert) || labelsKey(a.alert.labels).localeCompare(labelsKey(b.alert.labels)));
}

/** labelsKey is a label set as {a="1", b="2"}, sorted by name. */
export function labelsKey(labels: Record<string, string>): string {
  return `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(', ')}}`;
}

/**
 * mergeRuleGroups lists the groups of /api/v1/rules (PromQL) and of Loki's rules API
 * (/prometheus/api/v1/rules: the LogQL rules of rules.logql_files) together, the LogQL
 * ones marked so; a group both list (same file and name) is listed once, as LogQL.
 */
export function mergeRuleGroups(prom: RuleGroup[], logql: RuleGroup[]): RuleGroup[] {
  const key = (g: RuleGroup) => `${g.file}\u0000${g.name}`;
  const lq = new Set(logql.map(key));
  return [...prom.filter((g) => !lq.has(key(g))), ...logql.map((g) => ({ ...g, lang: 'logql' as const }))];
}

/**
 * isLogQL tells a LogQL expression from PromQL, for a rule whose API does not say (Loki's
 * rule files have Prometheus' format): a stream selector followed by a line filter or a
 * pipeline stage (`{app="x"} |= "error"`, `{...} | json`: `|` is no PromQL operator, and
 * PromQL compares with numbers, not strings), or a range aggregation over a bare selector
 * without a metric name (`count_over_time({app="x"}[5m])`).
 */
export function isLogQL(expr: string): boolean {
  if (/\}\s*(\||!=\s*["`]|!~\s*["`])/.test(expr)) return true;
  const m = /\b(count_over_time|bytes_over_time|bytes_rate|rate|absent_over_time)\s*\(\s*\{([^}]*)\}\s*\[/.exec(expr);
  return !!m && !m[2].includes('__name__');
}

/** queryWindow is the range shown for an alert: from margin before it became active to now. */
export function queryWindow(activeAt: string | undefined, nowMs: number = Date.now(), margin = '15m'): { from: string; to: string } {
  const t = activeAt ? Date.parse(activeAt) : NaN;
  const m = parseDurationMs(margin) ?? 15 * 60_000;
  if (!Number.isFinite(t) || t <= 0) return { from: 'now-1h', to: 'now' };
  return { from: isoSeconds(Math.floor(Math.min(t - m, nowMs - m) / 1000) * 1000), to: 'now' };
}

/**
 * queryLink is the page that runs a rule's expression around the time an alert became
 * active: the metrics explorer for PromQL, the logs view's LogQL mode for LogQL (lang, when
 * the API said, else isLogQL).
 */
export function queryLink(expr: string, lang: RuleGroup['lang'], activeAt?: string, nowMs: number = Date.now()): { url: string; label: string; lang: 'promql' | 'logql' } {
  const w = queryWindow(activeAt, nowMs);
  const to = w.to === 'now' ? '' : w.to;
  if (lang === 'logql' || (lang !== 'promql' && isLogQL(expr))) return { url: href('/logs', { mode: 'logql', logql: expr, from: w.from, to }), label: 'LogQL in the logs view', lang: 'logql' };
  return { url: href('/query', { expr, from: w.from === 'now-1h' ? '' : w.from, to }), label: 'PromQL in the metrics explorer', lang: 'promql' };
}

/**
 * relatedLinks are the Loupe pages an alert's labels name: the issue of an error-events
 * rule (`issue_id`, docs/errors.md) and the run of a job rule (`instance` = run id on the
 * loupe_run_* series, docs/run.md).
 */
export function relatedLinks(labels: Record<string, string>, expr: string): { url: string; label: string }[] {
  const out: { url: string; label: string }[] = [];
  if (labels.issue_id) out.push({ url: `/errors/${encodeURIComponent(labels.issue_id)}`, label: `issue ${labels.issue_id}` });
  if (labels.instance && /\bloupe_run_/.test(expr)) out.push({ url: `/runs/${encodeURIComponent(labels.instance)}`, label: `run ${labels.instance}` });
  return out;
}

/** silenceMatchers are the equality matchers of an alert's labels, sorted by name. */
export function silenceMatchers(labels: Record<string, string>): Matcher[] {
  return Object.keys(labels)
    .sort()
    .map((name) => ({ name, value: labels[name], isRegex: false, isEqual: true }));
}

/** parseMatcher reads one matcher as typed: name="value", name!="v", name=~"re", name!~"re" (quotes optional). */
export function parseMatcher(s: string): Matcher | null {
  const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/.exec(s);
  if (!m) return null;
  let v = m[3];
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    try {
      v = JSON.parse(v);
    } catch {
      return null;
    }
  }
  return { name: m[1], value: v, isRegex: m[2].endsWith('~'), isEqual: !m[2].startsWith('!') };
}

/** fmtMatcher writes a matcher as parseMatcher reads it. */
export function fmtMatcher(m: Matcher): string {
  const neg = m.isEqual === false;
  const op = m.isRegex ? (neg ? '!~' : '=~') : neg ? '!=' : '=';
  return `${m.name}${op}${JSON.stringify(m.value)}`;
}

/**
 * newSilence builds the body of POST /alertmanager/api/v2/silences: the matchers, from now
 * for the duration (Go-style: 30m, 2h, 1d). It throws a message for the form to show.
 */
export function newSilence(matchers: Matcher[], duration: string, createdBy: string, comment: string, nowMs: number = Date.now()): PostableSilence {
  const d = parseDurationMs(duration.trim());
  if (d === null || d <= 0) throw new Error(`invalid duration "${duration}": use a number and a unit, e.g. 30m, 2h, 1d`);
  if (!matchers.length) throw new Error('a silence needs at least one matcher');
  if (!createdBy.trim()) throw new Error('say who creates the silence (Created by)');
  if (!comment.trim()) throw new Error('a silence needs a comment');
  return { matchers, startsAt: new Date(nowMs).toISOString(), endsAt: new Date(nowMs + d).toISOString(), createdBy: createdBy.trim(), comment: comment.trim() };
}

/** matcherMatches says whether m matches the label set, as Alertmanager does (an absent label is ""; regexes are anchored). */
export function matcherMatches(m: Matcher, labels: Record<string, string>): boolean {
  const v = labels[m.name] ?? '';
  let ok: boolean;
  if (m.isRegex) {
    try {
      ok = new RegExp(`^(?:${m.value})$`).test(v);
    } catch {
      return false;
    }
  } else ok = v === m.value;
  return m.isEqual === false ? !ok : ok;
}

/** silencesFor are the active silences whose every matcher matches the labels. */
export function silencesFor(labels: Record<string, string>, silences: Silence[]): Silence[] {
  return silences.filter((s) => s.status.state === 'active' && s.matchers.every((m) => matcherMatches(m, labels)));
}

/** sortSilences orders silences active, pending, expired, then by end (expired: newest first). */
export function sortSilences(silences: Silence[]): Silence[] {
  const rank = { active: 0, pending: 1, expired: 2 } as Record<string, number>;
  return [...silences].sort((a, b) => {
    const r = (rank[a.status.state] ?? 3) - (rank[b.status.state] ?? 3);
    if (r) return r;
    const d = Date.parse(a.endsAt) - Date.parse(b.endsAt);
    return a.status.state === 'expired' ? -d : d;
  });
}

/**
 * graphRedirect turns Prometheus' graph link (/graph?g0.expr=...&g0.tab=1, the
 * generatorURL of alerts in notifications) into the metrics explorer's URL. Tab 0 or
 * "graph" is the graph, anything else Prometheus' table ("console"); g0.range_input (1h)
 * becomes the range ending now.
 */
export function graphRedirect(p: URLSearchParams): string {
  const expr = p.get('g0.expr') ?? p.get('expr') ?? '';
  const tab = p.get('g0.tab') ?? '';
  const range = p.get('g0.range_input') ?? '';
  const table = tab !== '' && tab !== '0' && tab !== 'graph';
  return href('/query', {
    expr,
    tab: table ? 'table' : '',
    from: range && parseDurationMs(range) ? `now-${range}` : p.get('from'),
    to: p.get('to'),
  });
}
