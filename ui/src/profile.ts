// The Profiles page's data and pure logic: the JSON shapes of /api/loupe/v1/profiles/...,
// the icicle layout of a flame graph (root at the top), search, the sandwich view of one
// function computed from the merged tree, and the colours of a diff. No React here, so the
// unit tests (profile.test.ts) run it directly.
import { ApiError } from './api';
import { fmtDuration, fmtNumber, fmtSpan, isoSeconds, parseDurationMs, resolveRange, type Range } from './util';

export interface ProfileType {
  id: string;
  name: string;
  sample_type: string;
  sample_unit: string;
  period_type: string;
  period_unit: string;
}

/** A node of the merged call tree; a diff carries left_* and right_* instead of self/total. */
export interface FlameNode {
  name: string;
  file?: string;
  self: number;
  total: number;
  left_self?: number;
  left_total?: number;
  right_self?: number;
  right_total?: number;
  children?: FlameNode[];
}

export interface TopRow {
  function: string;
  file?: string;
  self: number;
  total: number;
  left_self?: number;
  left_total?: number;
  right_self?: number;
  right_total?: number;
}

export interface FlameGraph {
  type: string;
  unit: string;
  total: number;
  left_total?: number;
  right_total?: number;
  root: FlameNode;
  top: TopRow[];
}

export interface ProfileSeries {
  labels: Record<string, string>;
  points: [number, number][];
}

export const profilesAPI = '/api/loupe/v1/profiles';

/**
 * profileGet fetches a profiles endpoint. It takes the native API's envelope
 * ({"status","data"}) or a bare object, and turns {"error": "..."} into an ApiError.
 */
export async function profileGet<T>(path: string, params: URLSearchParams, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${profilesAPI}/${path}?${params}`, { signal, headers: { Accept: 'application/json' } });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`cannot reach the Loupe server (${(e as Error).message})`, 0);
  }
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(`${res.status} ${res.statusText}: ${text.slice(0, 300) || 'empty answer'}`, res.status);
  }
  if (!res.ok || body?.status === 'error') throw new ApiError(body?.error ?? `${res.status} ${res.statusText}`, res.status);
  return (body && body.status === 'success' && 'data' in body ? body.data : body) as T;
}

/** fmtValue writes a sample value in its unit: durations, bytes, or plain counts. */
export function fmtValue(v: number, unit: string): string {
  if (unit === 'nanoseconds') return fmtDuration(v);
  if (unit === 'bytes') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${i === 0 ? Math.round(v) : v.toFixed(Math.abs(v) >= 100 ? 0 : 1)} ${units[i]}`;
  }
  return fmtNumber(v);
}

/** typeLabel names a profile type for the picker: "process_cpu cpu (nanoseconds)". */
export function typeLabel(t: ProfileType): string {
  return `${t.name} · ${t.sample_type} (${t.sample_unit})`;
}

/** defaultType picks the type to show first: a CPU profile when there is one. */
export function defaultType(types: ProfileType[]): string {
  return (types.find((t) => t.sample_type === 'cpu') ?? types[0])?.id ?? '';
}

// ---- weights: what the width of a frame stands for ----

/**
 * A Weigher gives a node's width as a share of the root (0..1). In a flame graph that is
 * total/root total; in a diff, the mean of the two sides' shares, so that both matter and
 * children never outgrow their parent.
 */
export type Weigher = (n: FlameNode) => number;

export function weigher(g: FlameGraph): Weigher {
  if (isDiff(g)) {
    const l = g.left_total || 0;
    const r = g.right_total || 0;
    return (n) => ((l ? (n.left_total ?? 0) / l : 0) + (r ? (n.right_total ?? 0) / r : 0)) / ((l ? 1 : 0) + (r ? 1 : 0) || 1);
  }
  const t = g.root.total || g.total;
  return (n) => (t ? n.total / t : 0);
}

export function isDiff(g: FlameGraph): boolean {
  return g.left_total !== undefined || g.right_total !== undefined;
}

// ---- layout ----

/** One frame to draw: its node, the names from the root's child down to it, depth, x and width in 0..1. */
export interface Rect {
  node: FlameNode;
  path: string[];
  depth: number;
  x: number;
  w: number;
  /** A caller of the zoomed-in frame, drawn full width above it. */
  ancestor: boolean;
}

/** findPath walks names from the root; it stops at the deepest frame found. */
export function findPath(root: FlameNode, path: string[]): FlameNode[] {
  const chain = [root];
  let n = root;
  for (const name of path) {
    const c = n.children?.find((x) => x.name === name);
    if (!c) break;
    chain.push(c);
    n = c;
  }
  return chain;
}

/**
 * layoutFlame places the frames of an icicle: the root (depth 0) on top, callees below their
 * callers, children left to right in the server's order (largest first). focus is the path
 * of the zoomed-in frame: it and its callers span the full width and its callees are
 * scaled to it. Frames narrower than minW (a fraction of the width) are left out with
 * their callees.
 */
export function layoutFlame(root: FlameNode, weight: Weigher, focus: string[] = [], minW = 0): Rect[] {
  const chain = findPath(root, focus);
  const rects: Rect[] = [];
  chain.forEach((node, depth) =>
    rects.push({ node, path: chain.slice(1, depth + 1).map((n) => n.name), depth, x: 0, w: 1, ancestor: depth < chain.length - 1 }),
  );
  const f = chain[chain.length - 1];
  const scale = weight(f) || 1;
  const walk = (n: FlameNode, path: string[], depth: number, x: number) => {
    for (const c of n.children ?? []) {
      const w = weight(c) / scale;
      if (w >= minW && w > 0) {
        const p = [...path, c.name];
        rects.push({ node: c, path: p, depth, x, w: Math.min(w, 1 - x), ancestor: false });
        walk(c, p, depth + 1, x);
      }
      x += w;
    }
  };
  walk(f, chain.slice(1).map((n) => n.name), chain.length, 0);
  return rects;
}

/** depthOf is the number of rows a layout needs. */
export function depthOf(rects: Rect[]): number {
  return rects.reduce((m, r) => Math.max(m, r.depth + 1), 0);
}

// ---- search ----

/**
 * searchMatcher matches frame names case-insensitively: a plain substring, or a regular
 * expression written /like this/. Empty text matches nothing (no search); a bad regular
 * expression matches nothing either.
 */
export function searchMatcher(q: string): ((name: string) => boolean) | null {
  q = q.trim();
  if (!q) return null;
  const re = /^\/(.+)\/$/.exec(q);
  if (re) {
    try {
      const r = new RegExp(re[1], 'i');
      return (s) => r.test(s);
    } catch {
      return () => false;
    }
  }
  const l = q.toLowerCase();
  return (s) => s.toLowerCase().includes(l);
}

/**
 * matchedShare is the share of the root that runs in a matching frame: the weights of the
 * outermost matches (a match under a match is counted once), over the root's weight.
 */
export function matchedShare(root: FlameNode, match: (name: string) => boolean, weight: Weigher): number {
  let sum = 0;
  const walk = (n: FlameNode) => {
    for (const c of n.children ?? []) {
      if (match(c.name)) sum += weight(c);
      else walk(c);
    }
  };
  walk(root);
  const w = weight(root);
  return w ? Math.min(1, sum / w) : 0;
}

// ---- sandwich ----

const numeric = ['self', 'total', 'left_self', 'left_total', 'right_self', 'right_total'] as const;

function addInto(dst: FlameNode, src: FlameNode, scale?: FlameNode) {
  for (const k of numeric) if (src[k] !== undefined) dst[k] = (dst[k] ?? 0) + ((scale ?? src)[k] as number);
}

/** mergeChild adds c (and its callees) under parent, merging frames of the same name. */
function mergeChild(parent: FlameNode, c: FlameNode) {
  parent.children ??= [];
  let d = parent.children.find((x) => x.name === c.name);
  if (!d) {
    d = { name: c.name, file: c.file, self: 0, total: 0 };
    parent.children.push(d);
  }
  addInto(d, c);
  for (const g of c.children ?? []) mergeChild(d, g);
}

function sortTree(n: FlameNode, key: Weigher) {
  n.children?.sort((a, b) => key(b) - key(a));
  n.children?.forEach((c) => sortTree(c, key));
}

/**
 * sandwich computes the view of one function from the merged tree: callees, a tree rooted
 * at fn merging everything fn called, and callers, an inverted tree rooted at fn whose
 * children are the functions that called it (then their callers, up to the roots). Each
 * outermost call of fn counts once, so recursion does not count twice. The callers tree
 * carries the call's totals all the way up, as each caller spent that much in fn.
 */
export function sandwich(root: FlameNode, fn: string, weight: Weigher): { callers: FlameNode; callees: FlameNode; found: boolean } {
  const callees: FlameNode = { name: fn, self: 0, total: 0 };
  const callers: FlameNode = { name: fn, self: 0, total: 0 };
  let found = false;
  const walk = (n: FlameNode, stack: FlameNode[]) => {
    for (const c of n.children ?? []) {
      if (c.name !== fn) {
        walk(c, [...stack, c]);
        continue;
      }
      found = true;
      callees.file ??= c.file;
      addInto(callees, c);
      for (const g of c.children ?? []) mergeChild(callees, g);
      addInto(callers, c);
      // The inverted chain: the caller nearest fn first, each carrying fn's values here.
      let at = callers;
      for (let i = stack.length - 1; i >= 0; i--) {
        const s = stack[i];
        at.children ??= [];
        let d = at.children.find((x) => x.name === s.name);
        if (!d) {
          d = { name: s.name, file: s.file, self: 0, total: 0 };
          at.children.push(d);
        }
        addInto(d, c);
        at = d;
      }
      // No descent into c: recursive calls of fn are among its callees already.
    }
  };
  walk(root, []);
  // In the callers tree a frame's "self" is what reached fn through it and no further caller.
  const selfs = (n: FlameNode) => {
    const kids = n.children ?? [];
    for (const k of numeric.filter((k) => k.endsWith('self'))) {
      const tk = k.replace('self', 'total') as (typeof numeric)[number];
      if (n[tk] !== undefined) n[k] = (n[tk] as number) - kids.reduce((s, c) => s + ((c[tk] as number) ?? 0), 0);
    }
    kids.forEach(selfs);
  };
  callers.children?.forEach(selfs);
  sortTree(callers, weight);
  sortTree(callees, weight);
  return { callers, callees, found };
}

// ---- top table ----

export type TopSort = 'function' | 'self' | 'total' | 'change';

/** diffChange is how a function's (or frame's) share of its side's total moved. */
export interface Change {
  left: number;
  right: number;
  /** right - left, in shares (0.1 = ten percentage points). */
  delta: number;
  /** delta relative to the left share; Infinity for new, -1 for gone. */
  rel: number;
}

export function diffChange(n: { left_total?: number; right_total?: number }, leftTotal: number, rightTotal: number): Change {
  const left = leftTotal ? (n.left_total ?? 0) / leftTotal : 0;
  const right = rightTotal ? (n.right_total ?? 0) / rightTotal : 0;
  const delta = right - left;
  const rel = left > 0 ? delta / left : right > 0 ? Infinity : 0;
  return { left, right, delta, rel };
}

/** sortTop orders the top table (a diff's self and total are the right side's); ties by name so the order is stable. */
export function sortTop(rows: TopRow[], key: TopSort, dir: 'asc' | 'desc', lt = 0, rt = 0): TopRow[] {
  const val = (r: TopRow): number | string =>
    key === 'function' ? r.function : key === 'change' ? diffChange(r, lt, rt).delta : key === 'self' ? r.right_self ?? r.self : r.right_total ?? r.total;
  const sign = dir === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = val(a);
    const y = val(b);
    const c = typeof x === 'string' ? x.localeCompare(y as string) : x - (y as number);
    return sign * c || a.function.localeCompare(b.function);
  });
}

// ---- colours ----

/** A change smaller than this (relative to the left share) draws as unchanged. */
export const unchangedBelow = 0.05;

/** changeKind is what a diff frame's colour says: grew (red), shrank (green) or same. */
export function changeKind(c: Change): 'grew' | 'shrank' | 'same' {
  if (c.rel > unchangedBelow) return 'grew';
  if (c.rel < -unchangedBelow) return 'shrank';
  return 'same';
}

/**
 * diffColor is red for a frame whose share grew and green for one that shrank, the more
 * saturated the larger the relative change (full at +100% or new, and at gone); grey when
 * unchanged.
 */
export function diffColor(c: Change): string {
  const k = changeKind(c);
  if (k === 'same') return 'rgb(140,145,155)';
  const t = Math.min(1, Math.abs(c.rel));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * (0.35 + 0.65 * t));
  return k === 'grew' ? `rgb(${mix(140, 229)},${mix(145, 72)},${mix(155, 77)})` : `rgb(${mix(140, 48)},${mix(145, 164)},${mix(155, 108)})`;
}

/** packageOf is a Go or Java function's package: "net/http.(*conn).serve" -> "net/http". */
export function packageOf(name: string): string {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  return dot > 0 ? name.slice(0, dot) : name;
}

/** frameColor gives frames of one package one warm colour, so packages read as blocks. */
export function frameColor(name: string): string {
  let h = 0;
  for (const ch of packageOf(name)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${(h % 50) + 5},${60 + (h % 25)}%,${52 + ((h >> 5) % 12)}%)`;
}

// ---- selectors ----

export interface Matcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

/** parseSelector reads `{a="b", c=~"d"}`; null when it is not one. */
export function parseSelector(q: string): Matcher[] | null {
  q = q.trim();
  if (q === '' || q === '{}') return [];
  if (!q.startsWith('{') || !q.endsWith('}')) return null;
  const body = q.slice(1, -1);
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  const out: Matcher[] = [];
  let m: RegExpExecArray | null;
  while (re.lastIndex < body.length && (m = re.exec(body))) {
    out.push({ name: m[1], op: m[2] as Matcher['op'], value: m[3].replace(/\\(.)/g, '$1') });
    if (m[4] === '') break;
  }
  return re.lastIndex === body.length || body.trim() === '' ? out : null;
}

export function formatSelector(ms: Matcher[]): string {
  if (!ms.length) return '';
  return `{${ms.map((m) => `${m.name}${m.op}"${m.value.replace(/["\\]/g, '\\$&')}"`).join(', ')}}`;
}

/** withLabel sets name="value" in the selector q (removes it for an empty value). */
export function withLabel(q: string, name: string, value: string): string {
  const ms = (parseSelector(q) ?? []).filter((m) => m.name !== name);
  if (value) ms.push({ name, op: '=', value });
  return formatSelector(ms);
}

/** labelValue is the value of name="..." in q, or ''. */
export function labelValue(q: string, name: string): string {
  return parseSelector(q)?.find((m) => m.name === name && m.op === '=')?.value ?? '';
}

/** alignSeries puts the series on one x axis (seconds) for the chart; missing points are null. */
export function alignSeries(series: ProfileSeries[]): (number | null)[][] {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const y: (number | null)[] = xs.map(() => null);
    for (const [t, v] of s.points) y[index.get(t)!] = v;
    return y;
  });
  return [xs.map((x) => x / 1000), ...ys];
}

/**
 * previousRange is the range of the same length just before r, the default baseline of a
 * diff: "now-1h".."now" gives "now-2h".."now-1h".
 */
export function previousRange(r: Range, nowMs = Date.now()): Range {
  if (r.to === 'now' && r.from.startsWith('now-')) {
    const d = parseDurationMs(r.from.slice(4));
    if (d) return { from: `now-${fmtSpan(2 * d)}`, to: r.from };
  }
  const t = resolveRange(r, nowMs);
  if (!t) return r;
  return { from: isoSeconds(2 * t.start - t.end), to: isoSeconds(t.start) };
}
