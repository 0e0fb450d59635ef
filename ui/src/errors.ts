// Error tracking: the shapes of the issues API (docs/errors.md, "API") and the logic of the
// Errors pages that is worth testing on its own: the list's URL state, sparkline buckets
// and bar heights, the order and collapsing of stack frames, the exception chain, context
// lines and the status actions.
import { isoSeconds, parseDurationMs, rangeFromParams, type Range } from './util';

export interface Bucket {
  start: string;
  count: number;
}

export interface Issue {
  id: string;
  fingerprint?: string;
  grouping_version?: number;
  title: string;
  culprit?: string;
  type?: string;
  level?: string;
  project?: string;
  service?: string;
  status: string;
  resolved_in_release?: string;
  ignore_until?: string;
  ignore_count?: number;
  first_seen: string;
  last_seen: string;
  events: number;
  users: number;
  first_release?: string;
  last_release?: string;
  releases: string[] | null;
  environments: string[] | null;
  last_event_id?: string;
}

export interface IssueList {
  issues: (Issue & { series?: Bucket[] })[];
  next?: string;
  start: string;
  end: string;
  step: number;
}

export interface TagDistribution {
  key: string;
  values: { value: string; count: number }[];
}

export interface IssueDetail {
  issue: Issue;
  tags: TagDistribution[];
  series: Bucket[];
  start: string;
  end: string;
  step: number;
}

export interface Frame {
  function?: string;
  module?: string;
  filename?: string;
  abs_path?: string;
  lineno?: number;
  colno?: number;
  in_app?: boolean;
  context_line?: string;
  pre_context?: string[];
  post_context?: string[];
  vars?: Record<string, unknown>;
}

export interface Exception {
  type?: string;
  value?: string;
  module?: string;
  handled?: boolean;
  mechanism?: string;
  frames?: Frame[];
  raw_stacktrace?: string;
}

export interface Breadcrumb {
  timestamp?: string;
  type?: string;
  category?: string;
  level?: string;
  message?: string;
  data?: Record<string, unknown>;
}

export interface ErrorEvent {
  event_id: string;
  source?: string;
  project?: string;
  service?: string;
  timestamp?: string;
  received?: string;
  level?: string;
  platform?: string;
  release?: string;
  environment?: string;
  server_name?: string;
  logger?: string;
  transaction?: string;
  message?: string;
  exceptions?: Exception[];
  fingerprint?: string[];
  tags?: Record<string, string>;
  user?: { id?: string; email?: string; username?: string; ip_address?: string };
  request?: { method?: string; url?: string; query_string?: string; headers?: Record<string, string>; cookies?: Record<string, string>; data?: unknown };
  breadcrumbs?: Breadcrumb[];
  contexts?: Record<string, unknown>;
  extra?: Record<string, unknown>;
  trace_id?: string;
  span_id?: string;
  group_id?: string;
  grouping_key?: string;
}

export interface EventPage {
  events: ErrorEvent[];
  next?: string;
}

export interface TraceEvents {
  events: ErrorEvent[];
  issues: Record<string, Issue>;
}

// ---- the list's state in the URL ----

export const defaultIssuesRange: Range = { from: 'now-24h', to: 'now' };
export const issueSorts = [
  { value: 'last_seen', label: 'Last seen' },
  { value: 'first_seen', label: 'First seen' },
  { value: 'events', label: 'Events' },
  { value: 'users', label: 'Users' },
];
/** The status filter's choices; "unresolved" (the default, as in Sentry) includes regressed issues. */
export const statusFilters = [
  { value: 'unresolved', label: 'Unresolved' },
  { value: 'regressed', label: 'Regressed' },
  { value: 'resolved', label: 'Resolved' },
  { value: 'ignored', label: 'Ignored' },
  { value: 'all', label: 'Any' },
];

export interface IssuesFilter {
  service: string;
  project: string;
  environment: string;
  release: string;
  /** a statusFilters value; "all" does not filter. */
  status: string;
  q: string;
  sort: string;
  range: Range;
}

export function issuesFilterFromParams(p: URLSearchParams): IssuesFilter {
  return {
    service: p.get('service') ?? '',
    project: p.get('project') ?? '',
    environment: p.get('environment') ?? '',
    release: p.get('release') ?? '',
    status: p.get('status') || 'unresolved',
    q: p.get('q') ?? '',
    sort: p.get('sort') || 'last_seen',
    range: rangeFromParams(p, defaultIssuesRange),
  };
}

/** issuesAPIParams is f as the parameters of GET /api/loupe/v1/issues. */
export function issuesAPIParams(f: IssuesFilter, limit: number): URLSearchParams {
  const p = new URLSearchParams({ start: f.range.from, end: f.range.to, limit: String(limit) });
  for (const k of ['service', 'project', 'environment', 'release'] as const) if (f[k]) p.set(k, f[k]);
  if (f.status && f.status !== 'all') p.set('status', f.status);
  if (f.q.trim()) p.set('q', f.q.trim());
  if (f.sort && f.sort !== 'last_seen') p.set('sort', f.sort);
  return p;
}

// ---- sparklines ----

/**
 * denseSeries places the buckets of a series (empty ones omitted by the API) in n slots of
 * step seconds from start. Buckets outside the range are dropped.
 */
export function denseSeries(buckets: Bucket[] | undefined, start: string, step: number, n: number): number[] {
  const out = new Array<number>(Math.max(0, n)).fill(0);
  const t0 = Date.parse(start);
  const stepMs = step * 1000;
  if (!Number.isFinite(t0) || !(stepMs > 0)) return out;
  for (const b of buckets ?? []) {
    const i = Math.floor((Date.parse(b.start) - t0) / stepMs + 1e-6);
    if (i >= 0 && i < n) out[i] += b.count;
  }
  return out;
}

/** bucketCount is how many buckets of step seconds cover [start, end). */
export function bucketCount(start: string, end: string, step: number): number {
  const span = Date.parse(end) - Date.parse(start);
  if (!Number.isFinite(span) || !(step > 0) || span <= 0) return 0;
  return Math.ceil(span / (step * 1000) - 1e-6);
}

/**
 * barHeights scales counts to bar heights in [0, height]: the largest count fills the
 * height, zero is no bar, and any other count is at least minBar high so that a single
 * event next to thousands stays visible. max (default: the largest count) lets several
 * sparklines share one scale.
 */
export function barHeights(values: number[], height: number, max?: number, minBar = 1): number[] {
  const hi = max ?? Math.max(0, ...values);
  if (!(hi > 0)) return values.map(() => 0);
  return values.map((v) => (v <= 0 ? 0 : Math.min(height, Math.max(minBar, (v / hi) * height))));
}

/**
 * rebucket sums groups of factor consecutive buckets, aligned on the last one (the newest
 * group is whole; the oldest may be partial): hourly counts to daily ones.
 */
export function rebucket(values: number[], factor: number): number[] {
  const f = Math.max(1, Math.floor(factor));
  const out = new Array<number>(Math.ceil(values.length / f)).fill(0);
  const shift = out.length * f - values.length;
  values.forEach((v, i) => (out[Math.floor((i + shift) / f)] += v));
  return out;
}

// ---- stack traces ----

export interface NumberedFrame {
  frame: Frame;
  /** index in the stored order (outermost call first). */
  index: number;
}

export type FrameItem = { kind: 'frame'; frame: Frame; index: number } | { kind: 'library'; frames: NumberedFrame[] };

/**
 * frameGroups orders an exception's frames for display and collapses library code.
 * Frames are stored outermost call first (as Sentry sends them); newestFirst shows the
 * crashing frame at the top. When any frame is in-app, each run of consecutive library
 * frames becomes one collapsed item, so the application's own frames are what the trace
 * shows first; when none is, every frame shows (there is nothing else to show).
 */
export function frameGroups(frames: Frame[] | undefined, newestFirst: boolean): FrameItem[] {
  const numbered = (frames ?? []).map((frame, index) => ({ frame, index }));
  if (newestFirst) numbered.reverse();
  if (!numbered.some((f) => f.frame.in_app)) return numbered.map((f) => ({ kind: 'frame', ...f }));
  const out: FrameItem[] = [];
  for (const f of numbered) {
    if (f.frame.in_app) {
      out.push({ kind: 'frame', ...f });
      continue;
    }
    const last = out[out.length - 1];
    if (last?.kind === 'library') last.frames.push(f);
    else out.push({ kind: 'library', frames: [f] });
  }
  return out;
}

/**
 * crashFrame is the index (stored order) of the frame to open by default: the innermost
 * in-app frame, else the innermost frame; -1 without frames.
 */
export function crashFrame(frames: Frame[] | undefined): number {
  const fs = frames ?? [];
  for (let i = fs.length - 1; i >= 0; i--) if (fs[i].in_app) return i;
  return fs.length - 1;
}

/** frameLabel names a frame's code as Sentry does: "module in function" or the file. */
export function frameLabel(f: Frame): { where: string; fn: string } {
  const where = f.module || f.filename || f.abs_path || '?';
  return { where, fn: f.function || '?' };
}

export interface ContextLine {
  lineno: number | null;
  text: string;
  current: boolean;
}

/** contextLines numbers a frame's source lines around its line, when the SDK sent them. */
export function contextLines(f: Frame): ContextLine[] {
  if (f.context_line === undefined || f.context_line === null) return [];
  const pre = f.pre_context ?? [];
  const post = f.post_context ?? [];
  const at = f.lineno ?? null;
  const num = (d: number) => (at === null ? null : at + d);
  return [
    ...pre.map((text, i) => ({ lineno: num(i - pre.length), text, current: false })),
    { lineno: at, text: f.context_line, current: true },
    ...post.map((text, i) => ({ lineno: num(i + 1), text, current: false })),
  ];
}

/**
 * exceptionChain is the display order of an event's exceptions: the raised exception
 * first, then what caused it (the API stores causes first, as Sentry's SDKs send them).
 */
export function exceptionChain(exceptions: Exception[] | undefined): Exception[] {
  return [...(exceptions ?? [])].reverse();
}

// ---- status ----

export type StatusAction = 'resolve' | 'resolve-next' | 'ignore' | 'unresolve';

/** statusActions lists what can be done to an issue in its status. */
export function statusActions(is: Pick<Issue, 'status'>): StatusAction[] {
  if (is.status === 'resolved' || is.status === 'ignored') return ['unresolve'];
  return ['resolve', 'resolve-next', 'ignore'];
}

/** statusBody is the body of PUT issues/{id} for an action; ignoreFor is "" (no bound) or a duration such as "24h". */
export function statusBody(a: StatusAction, ignoreFor = ''): Record<string, unknown> {
  switch (a) {
    case 'resolve':
      return { status: 'resolved' };
    case 'resolve-next':
      return { status: 'resolved', in_next_release: true };
    case 'ignore':
      return ignoreFor ? { status: 'ignored', ignore_duration: ignoreFor } : { status: 'ignored' };
    case 'unresolve':
      return { status: 'unresolved' };
  }
}

/** statusNote says what a status means for this issue ("until 2026-…", "in releases after 1.2.0"). */
export function statusNote(is: Issue): string {
  if (is.status === 'resolved' && is.resolved_in_release) return `in the next release: events from ${is.resolved_in_release} or older do not reopen it`;
  if (is.status === 'ignored') {
    const parts: string[] = [];
    if (is.ignore_until) parts.push(`until ${new Date(is.ignore_until).toLocaleString()}`);
    if (is.ignore_count) parts.push(`for ${is.ignore_count} more events`);
    return parts.join(' or ');
  }
  if (is.status === 'regressed') return 'it was resolved and came back';
  return '';
}

export const levelColors: Record<string, string> = {
  fatal: '#b3246d',
  error: '#e5484d',
  warning: '#e5a823',
  info: '#3fb27f',
  debug: '#5b8def',
};

export const statusColors: Record<string, string> = {
  unresolved: '#e5a823',
  regressed: '#e5484d',
  resolved: '#3fb27f',
  ignored: '#8a8f98',
};

// ---- times and links ----

/** fmtAgo writes how long before now ms was: "just now", "5m ago", "3h ago", "2d ago". */
export function fmtAgo(ms: number, nowMs: number = Date.now()): string {
  const s = Math.max(0, (nowMs - ms) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 86400 * 60) return `${Math.floor(s / 86400)}d ago`;
  return `${Math.floor(s / 86400 / 30)}mo ago`;
}

/**
 * logsWindow is the time range of the logs around an event: margin (default 5 minutes)
 * before and after it, on whole seconds; null without a valid timestamp.
 */
export function logsWindow(timestamp: string | undefined, margin = '5m'): Range | null {
  const t = Date.parse(timestamp ?? '');
  const m = parseDurationMs(margin) ?? 300_000;
  if (!Number.isFinite(t)) return null;
  return { from: isoSeconds(Math.floor((t - m) / 1000) * 1000), to: isoSeconds(Math.ceil((t + m) / 1000) * 1000) };
}

/**
 * issuesBySpan groups the issues of a trace's error events by span id, each issue once per
 * span, in the order of the events (newest first).
 */
export function issuesBySpan(te: TraceEvents | undefined): Map<string, Issue[]> {
  const out = new Map<string, Issue[]>();
  for (const ev of te?.events ?? []) {
    const is = ev.group_id ? te!.issues[ev.group_id] : undefined;
    if (!is || !ev.span_id) continue;
    const list = out.get(ev.span_id) ?? [];
    if (!list.some((x) => x.id === is.id)) list.push(is);
    out.set(ev.span_id, list);
  }
  return out;
}

/** issueURL is the issue page, optionally on one of its events. */
export function issueURL(id: string, eventId?: string): string {
  const base = `/errors/${encodeURIComponent(id)}`;
  return eventId ? `${base}?event=${encodeURIComponent(eventId)}` : base;
}
