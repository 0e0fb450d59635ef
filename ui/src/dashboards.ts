// Dashboards: the model (as GET /api/loupe/v1/dashboards/{uid} answers it, Grafana's field
// names), variables and their substitution into queries, query intervals, units and a
// safe Markdown subset for text panels. Pure functions, tested in dashboards.test.ts.
import { fmtNumber, parseDurationMs } from './util';

export interface Datasource {
  type: string;
  uid?: string;
}
export interface Target {
  refId: string;
  expr: string;
  datasource?: Datasource;
  legendFormat?: string;
  instant?: boolean;
  format?: string;
  interval?: string;
  hide?: boolean;
  maxLines?: number;
}
export interface Thresholds {
  mode: string;
  steps: { color: string; value: number | null }[];
}
export interface FieldDefaults {
  unit?: string;
  min?: number;
  max?: number;
  decimals?: number;
  displayName?: string;
  noValue?: string;
  thresholds?: Thresholds;
}
export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: Datasource;
  targets?: Target[];
  fieldConfig?: { defaults: FieldDefaults };
  options?: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  interval?: string;
  maxDataPoints?: number;
  collapsed?: boolean;
  panels?: Panel[];
}
export interface Variable {
  type: string;
  name: string;
  label?: string;
  description?: string;
  query?: string;
  datasource?: Datasource;
  regex?: string;
  sort?: number;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  current?: { text: unknown; value: unknown };
  hide?: number;
  auto?: boolean;
  auto_count?: number;
  auto_min?: string;
}
export interface Dashboard {
  uid: string;
  title: string;
  description?: string;
  tags: string[];
  time: { from: string; to: string };
  refresh?: string;
  timezone?: string;
  templating: { list: Variable[] };
  panels: Panel[];
  version?: number;
}
export interface DashboardMeta {
  version: number;
  updated: string;
  provisioned: boolean;
  source?: string;
  readOnly: boolean;
}
export interface DashboardSummary {
  uid: string;
  title: string;
  tags: string[] | null;
  version: number;
  updated: string;
  provisioned: boolean;
  source?: string;
}
export interface ImportReport {
  schemaVersion: number;
  panels: number;
  unsupported: number;
  items: { kind: string; panelId?: number; panelTitle?: string; panelType?: string; path: string; message: string }[] | null;
}

export const ALL = '$__all';

/** The values a variable can take, and which are selected (ALL for "All"). */
export interface VarState {
  v: Variable;
  options: string[];
  selected: string[];
  error?: string;
}

/** datasourceType is loki or prometheus (the default) for a target of panel p. */
export function datasourceType(p: Panel, t?: Target): 'loki' | 'prometheus' {
  const ds = t?.datasource?.type || p.datasource?.type;
  return ds === 'loki' ? 'loki' : 'prometheus';
}

/** currentValues reads a variable's default selection from its `current`. */
export function currentValues(v: Variable): string[] {
  const val = v.current?.value;
  if (Array.isArray(val)) return val.map(String);
  if (val === undefined || val === null || val === '') return [];
  return [String(val)];
}

/** staticOptions are the values of the variables that need no query. */
export function staticOptions(v: Variable): string[] {
  const q = v.query ?? '';
  switch (v.type) {
    case 'custom':
      // Grafana's custom values: "a, b, c" and "key : value" pairs (the value is used).
      return splitList(q).map((s) => {
        const m = /^(.*?)\s+:\s+(.*)$/.exec(s);
        return m ? m[2] : s;
      });
    case 'interval':
      return splitList(q);
    case 'constant':
    case 'textbox':
      return [q];
    default:
      return [];
  }
}

function splitList(q: string): string[] {
  return q
    .split(/(?<!\\),/)
    .map((s) => s.replace(/\\,/g, ',').trim())
    .filter((s) => s !== '');
}

/**
 * select picks the selection of a variable from the URL's values (var-NAME), else its
 * default, else the first option; selections that are no longer options are dropped.
 */
export function select(v: Variable, options: string[], fromURL: string[]): string[] {
  if (v.type === 'textbox' || v.type === 'constant') {
    if (v.type === 'textbox' && fromURL.length) return [fromURL[0]];
    return [currentValues(v)[0] ?? options[0] ?? ''];
  }
  const pick = (vals: string[]): string[] | null => {
    if (vals.includes(ALL) || vals.includes('All')) return v.includeAll ? [ALL] : null;
    const ok = vals.filter((x) => options.includes(x));
    if (!ok.length) return null;
    return v.multi ? ok : [ok[0]];
  };
  return pick(fromURL) ?? pick(currentValues(v)) ?? (options.length ? [options[0]] : v.includeAll ? [ALL] : []);
}

/** sortValues applies Grafana's sort (1/2 alphabetical, 3/4 numerical, 5/6 case-insensitive). */
export function sortValues(vals: string[], sort = 0): string[] {
  const out = [...new Set(vals)];
  if (sort === 1 || sort === 2) out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (sort === 3 || sort === 4) out.sort((a, b) => (parseFloat(a.replace(/^\D+/, '')) || 0) - (parseFloat(b.replace(/^\D+/, '')) || 0));
  if (sort === 5 || sort === 6) out.sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
  if (sort === 2 || sort === 4 || sort === 6) out.reverse();
  return out;
}

/** applyRegex filters values by a variable's regex (/re/flags); a group extracts. */
export function applyRegex(vals: string[], regex?: string): string[] {
  if (!regex) return vals;
  const m = /^\/(.*)\/([gimsuy]*)$/.exec(regex);
  let re: RegExp;
  try {
    re = m ? new RegExp(m[1], m[2].replace('g', '')) : new RegExp(regex);
  } catch {
    return vals;
  }
  const out: string[] = [];
  for (const v of vals) {
    const r = re.exec(v);
    if (!r) continue;
    out.push(r.groups?.value ?? r.groups?.text ?? r[1] ?? v);
  }
  return out;
}

/** A query variable's query, parsed: what to ask the label API or the query API. */
export type VarQuery =
  | { kind: 'label_names'; match?: string }
  | { kind: 'label_values'; label: string; match?: string }
  | { kind: 'query_result'; expr: string }
  | { kind: 'invalid'; error: string };

export function parseVarQuery(q: string): VarQuery {
  q = q.trim();
  let m = /^label_names\(\s*(.*?)\s*\)$/s.exec(q);
  if (m) return m[1] ? { kind: 'label_names', match: m[1] } : { kind: 'label_names' };
  m = /^label_values\(\s*(?:(.*)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/s.exec(q);
  if (m) return m[1] ? { kind: 'label_values', label: m[2], match: m[1].trim() } : { kind: 'label_values', label: m[2] };
  m = /^query_result\((.*)\)$/s.exec(q);
  if (m) return { kind: 'query_result', expr: m[1].trim() };
  return { kind: 'invalid', error: `unsupported variable query ${JSON.stringify(q)}: use label_values(...), label_names() or query_result(...)` };
}

/** regexEscape escapes what PromQL's =~ would read as regex syntax. */
export function regexEscape(s: string): string {
  return s.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&');
}

/** formatValue writes a variable's selection into a query, as Grafana's Prometheus source does. */
export function formatValue(st: VarState, format?: string): string {
  const isAll = st.selected.includes(ALL);
  if (isAll && st.v.allValue && !format) return st.v.allValue;
  const vals = isAll ? st.options : st.selected;
  switch (format) {
    case 'raw':
      return vals.join(',');
    case 'csv':
      return vals.join(',');
    case 'pipe':
      return vals.join('|');
    case 'text':
      return isAll ? 'All' : vals.join(' + ');
    default:
      break;
  }
  if (!st.v.multi && !st.v.includeAll) return vals[0] ?? '';
  // "All" of no values matches any value: an empty alternation would be a query error in
  // LogQL (a stream selector needs a matcher that does not match the empty string).
  if (isAll && !vals.length) return '.+';
  const esc = vals.map(regexEscape);
  if (esc.length === 1) return esc[0];
  return `(${esc.join('|')})`;
}

/** Built-in variables: $__interval, $__rate_interval, $__range and their _ms/_s forms. */
export interface Builtins {
  intervalMs: number;
  rangeMs: number;
  scrapeMs?: number;
}

export function builtinValues(b: Builtins): Record<string, string> {
  const scrape = b.scrapeMs ?? 15000;
  const rate = Math.max(b.intervalMs + scrape, 4 * scrape);
  return {
    __interval: promDuration(b.intervalMs),
    __interval_ms: String(Math.round(b.intervalMs)),
    __rate_interval: promDuration(rate),
    __range: promDuration(b.rangeMs),
    __range_s: String(Math.round(b.rangeMs / 1000)),
    __range_ms: String(Math.round(b.rangeMs)),
  };
}

/**
 * interpolate replaces $name, ${name}, ${name:format} and [[name]] by the variables'
 * values and the built-ins; unknown names stay as they are.
 */
export function interpolate(s: string, vars: Map<string, VarState>, builtins: Record<string, string>): string {
  return s.replace(/\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)/g, (whole, a, af, b, bf, c) => {
    const name = a ?? b ?? c;
    const fmt = af ?? bf;
    if (name in builtins) return builtins[name];
    const st = vars.get(name);
    return st ? formatValue(st, fmt) : whole;
  });
}

/**
 * unsetVariables names the variables s uses that have no value (a query variable whose
 * query found nothing): such a query is not run; the panel says which variable is empty.
 */
export function unsetVariables(s: string, vars: Map<string, VarState>): string[] {
  const out = new Set<string>();
  for (const m of s.matchAll(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)/g)) {
    const st = vars.get(m[1] ?? m[2] ?? m[3]);
    if (st && st.v.type === 'query' && st.selected.length === 0) out.add(st.v.name);
  }
  return [...out];
}

/** promDuration writes milliseconds as a PromQL duration (1m30s, 250ms). */
export function promDuration(ms: number): string {
  ms = Math.max(1, Math.round(ms));
  if (ms % 1000 !== 0) return `${ms}ms`;
  let s = ms / 1000;
  let out = '';
  for (const [u, n] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (s >= n) {
      out += `${Math.floor(s / n)}${u}`;
      s %= n;
    }
  }
  if (s) out += `${s}s`;
  return out;
}

const niceSteps = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/**
 * intervalFor is a panel's query step ($__interval): the range over the data points
 * (maxDataPoints, else about one per 2 px of its width), rounded up to a round step, and at
 * least the panel's minimum interval.
 */
export function intervalFor(rangeMs: number, points: number, minInterval?: string): number {
  const raw = rangeMs / Math.max(1, points) / 1000;
  let step = niceSteps.find((s) => s >= raw) ?? Math.ceil(raw / 86400) * 86400;
  const min = minInterval ? parseDurationMs(minInterval.replace(/^>/, '')) : null;
  if (min && step * 1000 < min) step = min / 1000;
  return step * 1000;
}

/** legendName fills a legendFormat ({{label}}) from a series' labels. */
export function legendName(metric: Record<string, string>, legendFormat?: string): string {
  if (legendFormat && legendFormat !== '__auto') return legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_w, k) => metric[k] ?? '');
  const { __name__, ...rest } = metric;
  const labels = Object.keys(rest)
    .sort()
    .map((k) => `${k}="${rest[k]}"`)
    .join(', ');
  if (!__name__ && !labels) return legendFormat === '__auto' ? 'value' : '{}';
  return `${__name__ ?? ''}{${labels}}`;
}

/** reduce computes Grafana's calculations over a series' values. */
export function reduce(vals: (number | null)[], calc: string): number | null {
  const xs = vals.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!xs.length) return null;
  switch (calc) {
    case 'min':
      return Math.min(...xs);
    case 'max':
      return Math.max(...xs);
    case 'mean':
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    case 'sum':
      return xs.reduce((a, b) => a + b, 0);
    case 'first':
    case 'firstNotNull':
      return xs[0];
    case 'count':
      return xs.length;
    case 'range':
      return Math.max(...xs) - Math.min(...xs);
    case 'delta':
    case 'diff':
      return xs[xs.length - 1] - xs[0];
    default: // last, lastNotNull
      return xs[xs.length - 1];
  }
}

export const calcNames: Record<string, string> = { min: 'Min', max: 'Max', mean: 'Mean', lastNotNull: 'Last', last: 'Last', sum: 'Total', first: 'First', firstNotNull: 'First', count: 'Count', range: 'Range', delta: 'Delta', diff: 'Diff' };

const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
const decByteUnits = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

function scaled(v: number, base: number, units: string[], suffix = ''): string {
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < units.length - 1) {
    x /= base;
    i++;
  }
  return `${short(x)} ${units[i]}${suffix}`;
}

function short(x: number, decimals?: number): string {
  if (decimals !== undefined) return x.toFixed(decimals);
  return fmtNumber(x);
}

/** formatUnit writes v in one of Grafana's common units (unknown units: a plain number and the unit). */
export function formatUnit(v: number | null, unit?: string, decimals?: number): string {
  if (v === null || !Number.isFinite(v)) return '–';
  switch (unit ?? '') {
    case '':
    case 'none':
    case 'short':
      return short(v, decimals);
    case 'percent':
      return `${short(v, decimals)}%`;
    case 'percentunit':
      return `${short(v * 100, decimals)}%`;
    case 'bytes':
    case 'decbytes':
      return unit === 'bytes' ? scaled(v, 1024, byteUnits) : scaled(v, 1000, decByteUnits);
    case 'bits':
      return scaled(v, 1000, ['b', 'kb', 'Mb', 'Gb', 'Tb']);
    case 'Bps':
    case 'binBps':
      return scaled(v, unit === 'Bps' ? 1000 : 1024, unit === 'Bps' ? decByteUnits : byteUnits, '/s');
    case 'bps':
      return scaled(v, 1000, ['b', 'kb', 'Mb', 'Gb', 'Tb'], '/s');
    case 'celsius':
      return `${short(v, decimals)} °C`;
    case 'reqps':
      return `${short(v, decimals)} req/s`;
    case 'ops':
      return `${short(v, decimals)} ops/s`;
    case 's':
      return duration(v * 1000);
    case 'ms':
      return duration(v);
    case 'µs':
    case 'us':
      return duration(v / 1000);
    case 'ns':
      return duration(v / 1e6);
    case 'dtdurations':
      return duration(v * 1000);
    default:
      return `${short(v, decimals)} ${unit}`;
  }
}

function duration(ms: number): string {
  const a = Math.abs(ms);
  if (a === 0) return '0 s';
  if (a < 1e-3) return `${short(ms * 1e6)} ns`;
  if (a < 1) return `${short(ms * 1000)} µs`;
  if (a < 1000) return `${short(ms)} ms`;
  if (a < 60_000) return `${short(ms / 1000)} s`;
  if (a < 3_600_000) return `${short(ms / 60_000)} min`;
  if (a < 86_400_000) return `${short(ms / 3_600_000)} hour`;
  return `${short(ms / 86_400_000)} day`;
}

const namedColors: Record<string, string> = {
  green: '#56a64b',
  red: '#e02f44',
  yellow: '#f2cc0c',
  orange: '#ff9830',
  blue: '#3274d9',
  purple: '#a352cc',
  'dark-red': '#ad0317',
  'semi-dark-red': '#c4162a',
  'light-red': '#ff7383',
  'dark-green': '#19730e',
  'semi-dark-green': '#37872d',
  'light-green': '#96d98d',
  'dark-yellow': '#cc9d00',
  'semi-dark-yellow': '#e0b400',
  'dark-orange': '#e55400',
  'semi-dark-orange': '#fa6400',
  text: 'var(--text)',
  transparent: 'transparent',
};

/** thresholdColor is the colour of the step v falls in (CSS colour). */
export function thresholdColor(v: number | null, t?: Thresholds, min = 0, max = 100): string | undefined {
  if (!t || !t.steps?.length || v === null) return undefined;
  let color = t.steps[0].color;
  for (const s of t.steps) {
    if (s.value === null) continue;
    const limit = t.mode === 'percentage' ? min + ((max - min) * s.value) / 100 : s.value;
    if (v >= limit) color = s.color;
  }
  return namedColors[color] ?? color;
}

/** A Markdown block of a text panel: only this small subset is drawn, all as text. */
export type MdBlock =
  | { t: 'h'; level: number; text: MdInline[] }
  | { t: 'p'; text: MdInline[] }
  | { t: 'ul'; items: MdInline[][] }
  | { t: 'code'; text: string };
export type MdInline = { t: 'text' | 'b' | 'i' | 'code'; s: string } | { t: 'a'; s: string; href: string };

/**
 * parseMarkdown reads headings, paragraphs, lists, code blocks and inline bold, italic,
 * code and links. Raw HTML is not interpreted: it stays text, which React escapes, since an
 * imported dashboard may be hostile. Links keep only http(s), mailto and same-site paths.
 */
export function parseMarkdown(src: string): MdBlock[] {
  const out: MdBlock[] = [];
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  let para: string[] = [];
  let list: MdInline[][] | null = null;
  const flush = () => {
    if (para.length) out.push({ t: 'p', text: parseInline(para.join(' ')) });
    para = [];
    if (list) out.push({ t: 'ul', items: list });
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (/^\s*```/.test(l)) {
      flush();
      const code: string[] = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
      out.push({ t: 'code', text: code.join('\n') });
      continue;
    }
    const h = /^(#{1,6})\s+(.*)$/.exec(l);
    if (h) {
      flush();
      out.push({ t: 'h', level: h[1].length, text: parseInline(h[2]) });
      continue;
    }
    const li = /^\s*(?:[-*+]|\d+\.)\s+(.*)$/.exec(l);
    if (li) {
      if (para.length) {
        out.push({ t: 'p', text: parseInline(para.join(' ')) });
        para = [];
      }
      (list ??= []).push(parseInline(li[1]));
      continue;
    }
    if (l.trim() === '') {
      flush();
      continue;
    }
    if (list) flush();
    para.push(l.trim());
  }
  flush();
  return out;
}

export function safeHref(u: string): string | null {
  u = u.trim();
  if (/^https?:\/\//i.test(u) || /^mailto:/i.test(u)) return u;
  if (/^\/(?!\/)/.test(u) || u.startsWith('#')) return u;
  return null;
}

export function parseInline(s: string): MdInline[] {
  const out: MdInline[] = [];
  const re = /`([^`]+)`|\*\*(.+?)\*\*|__(.+?)__|\*([^*]+)\*|_([^_]+)_|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    if (m.index > last) out.push({ t: 'text', s: s.slice(last, m.index) });
    if (m[1] !== undefined) out.push({ t: 'code', s: m[1] });
    else if (m[2] !== undefined || m[3] !== undefined) out.push({ t: 'b', s: m[2] ?? m[3] });
    else if (m[4] !== undefined || m[5] !== undefined) out.push({ t: 'i', s: m[4] ?? m[5] });
    else {
      const href = safeHref(m[7]);
      out.push(href ? { t: 'a', s: m[6], href } : { t: 'text', s: m[6] });
    }
    last = re.lastIndex;
  }
  if (last < s.length) out.push({ t: 'text', s: s.slice(last) });
  return out;
}

/** nextPanelPos places a new panel of w x h below the others. */
export function nextPanelPos(panels: Panel[], w = 12, h = 8): Panel['gridPos'] {
  const bottom = panels.reduce((m, p) => Math.max(m, p.gridPos.y + p.gridPos.h), 0);
  const last = panels.filter((p) => p.gridPos.y + p.gridPos.h === bottom);
  const right = last.reduce((m, p) => Math.max(m, p.gridPos.x + p.gridPos.w), 0);
  if (last.length && right + w <= 24) return { x: right, y: Math.max(...last.map((p) => p.gridPos.y)), w, h };
  return { x: 0, y: bottom, w, h };
}

/** visiblePanels lists what the grid draws: every panel, and rows (their panels when collapsed are hidden). */
export function visiblePanels(panels: Panel[], expanded: Set<number>): Panel[] {
  const out: Panel[] = [];
  for (const p of panels) {
    out.push(p);
    if (p.type === 'row' && p.collapsed && expanded.has(p.id)) out.push(...(p.panels ?? []));
  }
  return out;
}
