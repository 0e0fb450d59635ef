// Parsing and formatting shared by the pages.

/** A time range as it appears in the URL: "now-1h".."now", or absolute RFC3339 times. */
export interface Range {
  from: string;
  to: string;
}

export const relativeRanges = [
  { label: 'Last 5 minutes', from: 'now-5m' },
  { label: 'Last 15 minutes', from: 'now-15m' },
  { label: 'Last 1 hour', from: 'now-1h' },
  { label: 'Last 6 hours', from: 'now-6h' },
  { label: 'Last 24 hours', from: 'now-24h' },
  { label: 'Last 7 days', from: 'now-7d' },
];

export const defaultRange: Range = { from: 'now-1h', to: 'now' };

export function rangeFromParams(p: URLSearchParams, def: Range = defaultRange): Range {
  return { from: p.get('from') || def.from, to: p.get('to') || def.to };
}

const unitMs: Record<string, number> = {
  ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000,
};

/** parseDurationMs reads "5m", "1h30m", "250ms", "1.5s", "7d", or bare seconds. */
export function parseDurationMs(s: string): number | null {
  s = s.trim();
  if (s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h|d|w|y)/g;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    if (m.index !== consumed) return null;
    consumed += m[0].length;
    const n = parseFloat(m[1]);
    const u = m[2];
    if (u === 'us' || u === 'µs') total += n / 1000;
    else if (u === 'ns') total += n / 1e6;
    else total += n * unitMs[u];
  }
  return consumed === s.length ? total : null;
}

/** resolveTime turns "now", "now-1h" or an absolute time into epoch milliseconds. */
export function resolveTime(s: string, nowMs: number = Date.now()): number | null {
  s = s.trim();
  if (s === 'now') return nowMs;
  const rel = /^now([+-])(.+)$/.exec(s);
  if (rel) {
    const d = parseDurationMs(rel[2]);
    if (d === null) return null;
    return rel[1] === '-' ? nowMs - d : nowMs + d;
  }
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

export function resolveRange(r: Range, nowMs: number = Date.now()): { start: number; end: number } | null {
  const start = resolveTime(r.from, nowMs);
  const end = resolveTime(r.to, nowMs);
  if (start === null || end === null || start >= end) return null;
  return { start, end };
}

/** relativeSpan reads "now-15m" as 15 minutes in ms (the range "now-15m".."now"), else null. */
function relativeSpan(r: Range): number | null {
  if (r.to !== 'now' || !r.from.startsWith('now-')) return null;
  return parseDurationMs(r.from.slice(4));
}

/** fmtSpan writes ms as the largest unit that divides it: 7200000 -> "2h", 90000 -> "90s". */
export function fmtSpan(ms: number): string {
  for (const u of ['d', 'h', 'm', 's'] as const) if (ms >= unitMs[u] && ms % unitMs[u] === 0) return `${ms / unitMs[u]}${u}`;
  return `${Math.max(1, Math.round(ms))}ms`;
}

/**
 * zoomOutRange doubles the span of r around its middle. A relative range stays relative
 * ("now-15m" becomes "now-30m"); an absolute one that would end in the future ends now.
 */
export function zoomOutRange(r: Range, nowMs: number = Date.now()): Range {
  const rel = relativeSpan(r);
  if (rel !== null) return { from: `now-${fmtSpan(rel * 2)}`, to: 'now' };
  const t = resolveRange(r, nowMs);
  if (!t) return r;
  const span = t.end - t.start;
  let end = t.end + span / 2;
  let start = t.start - span / 2;
  if (end > nowMs) {
    start -= end - nowMs;
    end = nowMs;
  }
  return { from: isoSeconds(start), to: isoSeconds(end) };
}

/**
 * shiftRange moves r by half its span, earlier (dir -1) or later (dir 1), as absolute times.
 * A shift later that would reach past now becomes the relative range of the same span
 * ending now.
 */
export function shiftRange(r: Range, dir: -1 | 1, nowMs: number = Date.now()): Range {
  const t = resolveRange(r, nowMs);
  if (!t) return r;
  const span = t.end - t.start;
  const d = (dir * span) / 2;
  // Within a second (or 1% of the span) of now counts as now: the range was resolved a
  // moment ago, so "now" has moved on a little since.
  if (t.end + d >= nowMs - Math.max(1000, span / 100)) return { from: `now-${fmtSpan(Math.round(span / 1000) * 1000)}`, to: 'now' };
  return { from: isoSeconds(t.start + d), to: isoSeconds(t.end + d) };
}

/** The auto-refresh choices ('' is off), as they appear in the URL (`refresh=`). */
export const autoRefreshIntervals = ['', '5s', '10s', '30s', '1m'];

export function describeRange(r: Range): string {
  if (r.to === 'now') {
    const rel = relativeRanges.find((x) => x.from === r.from);
    if (rel) return rel.label;
    if (r.from.startsWith('now-')) return `Last ${r.from.slice(4)}`;
  }
  return `${fmtAbs(r.from)} → ${fmtAbs(r.to)}`;
}

function fmtAbs(s: string): string {
  const t = resolveTime(s);
  if (t === null || s.startsWith('now')) return s;
  return fmtDateTime(t);
}

export function isoSeconds(ms: number): string {
  return new Date(Math.round(ms)).toISOString().replace('.000Z', 'Z');
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export function fmtDateTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** fmtLogTime shows a record time with milliseconds in the browser's time zone. */
export function fmtLogTime(unixNano: string): string {
  const ms = Number(BigInt(unixNano) / 1_000_000n);
  const d = new Date(ms);
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** fmtDuration shows nanoseconds with a unit that keeps 3 significant digits. */
export function fmtDuration(ns: number): string {
  if (!Number.isFinite(ns)) return '–';
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)}ns`;
  if (a < 1e6) return `${sig(ns / 1e3)}µs`;
  if (a < 1e9) return `${sig(ns / 1e6)}ms`;
  if (a < 60e9) return `${sig(ns / 1e9)}s`;
  if (a < 3600e9) return `${Math.floor(ns / 60e9)}m${Math.round((ns % 60e9) / 1e9)}s`;
  return `${Math.floor(ns / 3600e9)}h${Math.round((ns % 3600e9) / 60e9)}m`;
}

function sig(x: number): string {
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function fmtNumber(x: number): string {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1e9) return `${sig(x / 1e9)}G`;
  if (a >= 1e6) return `${sig(x / 1e6)}M`;
  if (a >= 1e4) return `${sig(x / 1e3)}k`;
  if (Number.isInteger(x)) return String(x);
  return a >= 1 ? sig(x) : x.toPrecision(3);
}

export function fmtPercent(x: number): string {
  if (!Number.isFinite(x)) return '–';
  if (x === 0) return '0%';
  const p = x * 100;
  return p < 0.1 ? '<0.1%' : `${p < 10 ? p.toFixed(1) : p.toFixed(0)}%`;
}

/** nsToMs converts an OTLP nanosecond string to epoch milliseconds (a float). */
export function nsToMs(ns: string): number {
  const b = BigInt(ns);
  return Number(b / 1000n) / 1000;
}

/**
 * A search bar splits into free text and attribute filters: tokens shaped like key=value,
 * key!=value, key=~regex or key!~regex become filters (the `attr` parameter); everything
 * else, joined by single spaces, is the text the body must contain (the `q` parameter).
 * Double quotes group words: "card declined" or key="a b".
 */
export interface ParsedSearch {
  text: string;
  attrs: string[];
}

export function tokenize(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') {
      quoted = !quoted;
      has = true;
      continue;
    }
    if (c === '\\' && quoted && i + 1 < s.length) {
      cur += s[++i];
      continue;
    }
    if (!quoted && /\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
      continue;
    }
    cur += c;
    has = true;
  }
  if (has) out.push(cur);
  return out;
}

const attrToken = /^([A-Za-z_@][\w.\-/@:]*)(!=|=~|!~|=)(.*)$/s;

export function parseSearch(s: string): ParsedSearch {
  const text: string[] = [];
  const attrs: string[] = [];
  for (const t of tokenize(s)) {
    const m = attrToken.exec(t);
    if (m) attrs.push(`${m[1]}${m[2]}${m[3]}`);
    else text.push(t);
  }
  return { text: text.join(' '), attrs };
}

export const severities = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

/** severityClass maps a severity text or number to one of the colour classes. */
export function severityClass(text: string, num: number): string {
  const t = text.toUpperCase();
  for (const s of severities) if (t.startsWith(s)) return `sev-${s.toLowerCase()}`;
  if (t.startsWith('WARNING')) return 'sev-warn';
  if (num >= 21) return 'sev-fatal';
  if (num >= 17) return 'sev-error';
  if (num >= 13) return 'sev-warn';
  if (num >= 9) return 'sev-info';
  if (num >= 5) return 'sev-debug';
  if (num >= 1) return 'sev-trace';
  return 'sev-unspecified';
}

/** Fixed colours per severity, used by the histogram and the list. */
export const severityColors: Record<string, string> = {
  TRACE: '#8a8f98',
  DEBUG: '#5b8def',
  INFO: '#3fb27f',
  WARN: '#e5a823',
  ERROR: '#e5484d',
  FATAL: '#b3246d',
  UNSPECIFIED: '#6e7681',
};

export function severityColor(sev: string): string {
  const s = sev.toUpperCase();
  for (const k of Object.keys(severityColors)) if (s.startsWith(k)) return severityColors[k];
  return severityColors.UNSPECIFIED;
}

/**
 * serviceColor gives each service a stable colour from its name. It is the only source of
 * service colours: logs, trace search, the waterfall, services and runs all call it, so a
 * service has the same colour in every view.
 */
const palette = ['#4f8cff', '#f0883e', '#3fb950', '#db61a2', '#a371f7', '#2bb6c8', '#d29922', '#f85149', '#8ddb8c', '#79c0ff', '#ffa657', '#bc8cff'];
export function serviceColor(name: string): string {
  // FNV-1a spreads similar names better than a plain multiplicative hash.
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return palette[(h >>> 0) % palette.length];
}

export function seriesColor(i: number): string {
  return palette[i % palette.length];
}
