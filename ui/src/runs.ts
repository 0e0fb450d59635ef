// Types of the runs API (/api/loupe/v1/runs, see docs/run.md and runs-api) and the pure
// logic of the job pages: formatting, the drift line, grouping of a comparison.

// lost is never stored: the server shows a running run whose `loupe run` stopped sending
// heartbeats as lost (docs/run.md, "Lost runs").
export type RunStatus = 'running' | 'lost' | 'succeeded' | 'failed' | 'killed';

export interface RunSummary {
  run_id: string;
  name: string;
  status: RunStatus | string;
  start_time: string;
  end_time?: string;
  duration_seconds?: number;
  host: string;
  user?: string;
  command_line?: string;
  exit_code?: number;
  signal?: string;
  tags?: Record<string, string>;
  peak_rss_bytes?: number;
  max_rss_bytes?: number;
  user_cpu_seconds?: number;
  system_cpu_seconds?: number;
  trace_id?: string;
  /** running and lost runs that heartbeat: when the run is (or became) lost without a heartbeat */
  lost_after?: string;
}

export interface RunsPage {
  runs: RunSummary[];
  next_cursor?: string;
}

export interface RunName {
  name: string;
  runs: number;
  last_start: string;
}

export interface Package {
  name: string;
  version: string;
}

export interface Sample {
  t: number;
  cpu_percent: number;
  rss_bytes: number;
  read_bytes: number;
  write_bytes: number;
  threads: number;
  processes: number;
  max_hwm_bytes: number;
}

/** RunRecord is jobs.Record as JSON; every section may be missing. */
export interface RunRecord {
  record_version?: number;
  run_id: string;
  name: string;
  tags?: Record<string, string>;
  command?: string[];
  command_line?: string;
  cwd?: string;
  user?: string;
  pid?: number;
  start_time: string;
  end_time?: string;
  timezone?: string;
  tz_offset?: string;
  duration_seconds?: number;
  status: RunStatus | string;
  exit_code?: number;
  signal?: string;
  error?: string;
  heartbeat_seconds?: number;
  heartbeat_time?: string;
  host?: Record<string, string | number>;
  scheduler?: { type: string; job_id?: string; vars?: Record<string, string> };
  git?: { root?: string; commit?: string; branch?: string; dirty?: boolean; remote_url?: string };
  python?: {
    version?: string;
    executable?: string;
    prefix?: string;
    env_type?: string;
    env_name?: string;
    packages?: Package[];
    conda_packages?: Package[];
  };
  go?: { version: string; path?: string };
  r?: { version: string; path?: string };
  gpus?: { index: number; name: string; uuid?: string; driver_version?: string; memory_total_bytes?: number }[];
  cgroup?: Record<string, string | number>;
  env?: Record<string, string>;
  resources?: Record<string, number>;
  samples?: Sample[];
  output?: Record<string, number>;
  telemetry?: { trace_id?: string; span_id?: string; parent_span_id?: string; server?: string; spool_file?: string; profile?: boolean };
  capture_errors?: Record<string, string>;
}

export interface ResourceDiff {
  key: string;
  a: number;
  b: number;
  delta: number;
  ratio?: number;
}

export interface Change {
  section: string;
  key: string;
  a: string;
  b: string;
}

export interface PackageChange {
  manager: string;
  name: string;
  a: string;
  b: string;
  change: 'added' | 'removed' | 'changed' | string;
}

export interface Comparison {
  a: RunSummary;
  b: RunSummary;
  resources: ResourceDiff[];
  changes: Change[];
  packages: PackageChange[];
  unchanged_packages: number;
}

export const statuses: RunStatus[] = ['running', 'lost', 'succeeded', 'failed', 'killed'];

/** Colours per status, shared by the badges and the duration chart. */
export const statusColors: Record<string, string> = {
  running: '#4f8cff',
  lost: '#8b949e',
  succeeded: '#3fb27f',
  failed: '#e5484d',
  killed: '#e5a823',
};

export const statusIcons: Record<string, string> = {
  running: '●',
  lost: '◌',
  succeeded: '✓',
  failed: '✗',
  killed: '⚡',
};

/** openEnded: the run has no known end (running, or lost: its end was never reported). */
export function openEnded(status: string): boolean {
  return status === 'running' || status === 'lost';
}

/** LOST_WHY is why a run is lost, the tooltip of every lost badge. */
export const LOST_WHY =
  'No heartbeat from loupe run for 3 heartbeat periods (at least 10s): it probably died (kill -9, a node crash, ' +
  "the scheduler's time limit, the OOM killer) before it could send the run's final record. " +
  'A final record arriving later replaces this status.';

/**
 * lostTitle is the tooltip of a lost run's badge: since when (lost_after of a summary) or
 * the last heartbeat (heartbeat_time of a record, else its start), then LOST_WHY.
 */
export function lostTitle(r: { start_time: string; lost_after?: string; heartbeat_time?: string }): string {
  if (r.lost_after) return `lost since ${new Date(r.lost_after).toLocaleString()}. ${LOST_WHY}`;
  const last = r.heartbeat_time ?? r.start_time;
  return `last heartbeat ${new Date(last).toLocaleString()}. ${LOST_WHY}`;
}

/** fmtBytes shows a byte count in binary units with 3 significant digits: 1.50 GiB. */
export function fmtBytes(n: number | undefined | null): string {
  if (n == null || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const s = i === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${n < 0 ? '-' : ''}${s} ${units[i]}`;
}

/** fmtSeconds shows a duration given in seconds: 350ms, 12.3s, 5m3s, 6h0m. */
export function fmtSeconds(s: number | undefined | null): string {
  if (s == null || !Number.isFinite(s)) return '–';
  const a = Math.abs(s);
  const sign = s < 0 ? '-' : '';
  if (a < 1) return `${sign}${Math.round(a * 1000)}ms`;
  if (a < 60) return `${sign}${a < 10 ? a.toFixed(2) : a.toFixed(1)}s`;
  if (a < 3600) return `${sign}${Math.floor(a / 60)}m${Math.round(a % 60)}s`;
  if (a < 86400) return `${sign}${Math.floor(a / 3600)}h${Math.round((a % 3600) / 60)}m`;
  return `${sign}${Math.floor(a / 86400)}d${Math.round((a % 86400) / 3600)}h`;
}

/** Units of the resource keys of a comparison, for formatting. */
const resourceUnits: Record<string, 'seconds' | 'bytes' | 'percent' | 'count'> = {
  duration_seconds: 'seconds',
  user_cpu_seconds: 'seconds',
  system_cpu_seconds: 'seconds',
  peak_rss_bytes: 'bytes',
  max_rss_bytes: 'bytes',
  read_bytes: 'bytes',
  write_bytes: 'bytes',
  cpu_percent_mean: 'percent',
  cpu_percent_max: 'percent',
  max_threads: 'count',
  max_processes: 'count',
};

export const resourceLabels: Record<string, string> = {
  duration_seconds: 'Duration',
  user_cpu_seconds: 'User CPU',
  system_cpu_seconds: 'System CPU',
  peak_rss_bytes: 'Peak memory (tree RSS)',
  max_rss_bytes: 'Max RSS (one process)',
  read_bytes: 'Read',
  write_bytes: 'Written',
  cpu_percent_mean: 'CPU % mean',
  cpu_percent_max: 'CPU % max',
  max_threads: 'Max threads',
  max_processes: 'Max processes',
};

/** fmtResource formats a value of a resource key in its unit. */
export function fmtResource(key: string, v: number | undefined | null): string {
  if (v == null || !Number.isFinite(v)) return '–';
  switch (resourceUnits[key]) {
    case 'seconds':
      return fmtSeconds(v);
    case 'bytes':
      return fmtBytes(v);
    case 'percent':
      return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}%`;
    default:
      return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }
}

/** fmtDelta formats b-a with an explicit sign. */
export function fmtDelta(key: string, d: number): string {
  if (d === 0) return '0';
  return (d > 0 ? '+' : '-') + fmtResource(key, Math.abs(d));
}

/** fmtRatio shows b/a: "×2.50". */
export function fmtRatio(r: number | undefined): string {
  if (r == null || !Number.isFinite(r)) return '–';
  return `×${r >= 10 ? r.toFixed(1) : r.toFixed(2)}`;
}

/**
 * changeLevel classifies a ratio b/a: "big" when it at least doubles or halves, "some" when
 * it moves by a quarter or more, "" otherwise. Small absolute values (under a second, a
 * mebibyte) are never big: a 10 ms run that takes 30 ms is noise, not a regression.
 */
export function changeLevel(d: ResourceDiff): '' | 'some-up' | 'some-down' | 'big-up' | 'big-down' {
  const unit = resourceUnits[d.key];
  const floor = unit === 'seconds' ? 1 : unit === 'bytes' ? 1 << 20 : unit === 'percent' ? 5 : 1;
  if (Math.max(Math.abs(d.a), Math.abs(d.b)) < floor) return '';
  const r = d.ratio ?? (d.a === 0 ? (d.b === 0 ? 1 : Infinity) : d.b / d.a);
  if (r >= 2) return 'big-up';
  if (r <= 0.5) return 'big-down';
  if (r >= 1.25) return 'some-up';
  if (r <= 0.8) return 'some-down';
  return '';
}

export const sectionLabels: Record<string, string> = {
  run: 'Run',
  tags: 'Tags',
  host: 'Host',
  scheduler: 'Scheduler',
  git: 'Git',
  python: 'Python',
  go: 'Go',
  r: 'R',
  gpus: 'GPUs',
  cgroup: 'Cgroup',
  env: 'Environment',
};

/** groupChanges keeps the server's order and groups consecutive changes by section. */
export function groupChanges(changes: Change[]): [string, Change[]][] {
  const out: [string, Change[]][] = [];
  for (const c of changes) {
    const last = out[out.length - 1];
    if (last && last[0] === c.section) last[1].push(c);
    else out.push([c.section, [c]]);
  }
  return out;
}

/** matchPackage: a case-insensitive substring of the name, or of "name==version". */
export function matchPackage(p: { name: string; version?: string }, q: string): boolean {
  q = q.trim().toLowerCase();
  if (!q) return true;
  return `${p.name}==${p.version ?? ''}`.toLowerCase().includes(q);
}

/**
 * durationSeries turns runs into chart columns sorted by start time: x (epoch seconds), a
 * column of durations per status (null where the run has another status), and a rolling
 * median over the last `window` finished runs, which makes a drift stand out from noise.
 * Running runs have no duration and are left out.
 */
export function durationSeries(runs: RunSummary[], window = 3) {
  const done = runs
    .filter((r) => r.duration_seconds != null && !openEnded(r.status))
    .map((r) => ({ r, x: Date.parse(r.start_time) / 1000 }))
    .filter((p) => Number.isFinite(p.x))
    .sort((a, b) => a.x - b.x);
  const xs = done.map((p) => p.x);
  const byStatus: Record<string, (number | null)[]> = {};
  for (const s of ['succeeded', 'failed', 'killed']) byStatus[s] = done.map((p) => (p.r.status === s ? p.r.duration_seconds! : null));
  const median: number[] = done.map((_, i) => medianOf(done.slice(Math.max(0, i - window + 1), i + 1).map((p) => p.r.duration_seconds!)));
  return { runs: done.map((p) => p.r), xs, byStatus, median };
}

export function medianOf(v: number[]): number {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * drift compares the median duration of the newest third of the runs with the oldest
 * third: ratio > 1 means the job got slower. null with fewer than 6 finished runs.
 */
export function drift(runs: RunSummary[]): { ratio: number; before: number; after: number } | null {
  const d = durationSeries(runs).runs.map((r) => r.duration_seconds!);
  if (d.length < 6) return null;
  const k = Math.floor(d.length / 3);
  const before = medianOf(d.slice(0, k));
  const after = medianOf(d.slice(d.length - k));
  if (!(before > 0)) return null;
  return { ratio: after / before, before, after };
}

/** parseTags reads "k=v k2=v2" (spaces or commas) into the API's repeated tag values. */
export function parseTags(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

/**
 * samplesToSeries turns a record's samples into chart columns: t (seconds since start), CPU
 * %, RSS, max HWM, cumulative read and write bytes.
 */
export function samplesToSeries(samples: Sample[]) {
  const s = [...samples].sort((a, b) => a.t - b.t);
  return {
    t: s.map((x) => x.t),
    cpu: s.map((x) => x.cpu_percent),
    rss: s.map((x) => x.rss_bytes),
    hwm: s.map((x) => x.max_hwm_bytes),
    read: s.map((x) => x.read_bytes),
    write: s.map((x) => x.write_bytes),
  };
}

/** Tick steps for a duration axis in seconds: whole seconds, minutes, hours and days. */
export const durationIncrs = [
  0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
];

/**
 * alignSeries merges Prometheus matrix values ([unix seconds, "value"]) of several queries
 * onto one x axis of seconds since t0; a query without a point at an x gets null there.
 */
export function alignSeries(t0: number, columns: ([number, string][] | undefined)[], scale: number[] = []): (number | null)[][] {
  const xs = [...new Set(columns.flatMap((c) => (c ?? []).map((v) => v[0])))].sort((a, b) => a - b);
  const out: (number | null)[][] = [xs.map((x) => x - t0)];
  columns.forEach((c, i) => {
    const m = new Map((c ?? []).map((v) => [v[0], parseFloat(v[1]) * (scale[i] ?? 1)]));
    out.push(xs.map((x) => m.get(x) ?? null));
  });
  return out;
}

/** elapsedSeconds is a run's duration, or for a running (or lost) run the time since it started. */
export function elapsedSeconds(r: { status: string; start_time: string; duration_seconds?: number }, nowMs = Date.now()): number | undefined {
  if (r.duration_seconds != null && !openEnded(r.status)) return r.duration_seconds;
  const s = Date.parse(r.start_time);
  return Number.isFinite(s) ? Math.max(0, (nowMs - s) / 1000) : undefined;
}

/** compareOrder puts the older run first, so that ratios read "new / old". */
export function compareOrder(x: RunSummary, y: RunSummary): [RunSummary, RunSummary] {
  return Date.parse(x.start_time) <= Date.parse(y.start_time) ? [x, y] : [y, x];
}

/** The Profiles page's selection of one run's CPU profiles, as `loupe run --profile` labels
 *  them (loupe_run_id), over the run's time with a minute either side. */
export function runProfileSel(r: { run_id: string; status: string; start_time: string; end_time?: string; duration_seconds?: number }) {
  const s = Date.parse(r.start_time);
  const e = s + (r.duration_seconds ?? 0) * 1000;
  return {
    query: `{loupe_run_id="${r.run_id}"}`,
    from: new Date(s - 60_000).toISOString(),
    to: openEnded(r.status) ? 'now' : new Date(e + 60_000).toISOString(),
  };
}
export const cpuProfileType = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
