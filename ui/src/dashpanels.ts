// Pure helpers of the heatmap, traces and errors panels of dashboards (tested in
// dashpanels.test.ts): a heatmap's cells from Prometheus classic or native histograms, its
// colours, and the API requests of a trace search or issue filter with the dashboard's
// variables in them.
import { ALL, interpolate, type VarState } from './dashboards';

export interface HeatSeries {
  metric: Record<string, string>;
  values?: [number, string][];
  // A native histogram's samples, as Prometheus' API gives them: each bucket is
  // [boundary rule, lower, upper, count], its own count (not cumulative).
  histograms?: [number, { count: string; sum: string; buckets?: [number, string, string, string][] }][];
}

export interface Heatmap {
  rows: string[]; // bucket upper bounds (le) or series names, bottom row first
  xs: number[]; // step times, seconds
  cells: number[][]; // cells[row][step]; NaN where no sample
  max: number;
  sums: number[]; // per row, over the steps
}

/** leValue is a bucket bound as a number (+Inf last). */
function leValue(le: string): number {
  return le === '+Inf' || le === 'Inf' ? Infinity : parseFloat(le);
}

/**
 * heatmapCells arranges range-query series as a heatmap: one row per series, one column
 * per step. When every series has an `le` label and `deaccumulate` is set (Grafana's
 * `format: heatmap`), rows are the buckets sorted by bound and each cell is the count of
 * its own bucket (Prometheus buckets are cumulative: le="0.5" counts everything up to
 * 0.5, so the cell is its count minus the one below). Native histograms (series with
 * `histograms`) give a row per bucket upper bound met in any sample, each cell the
 * bucket's own count, as Grafana draws them. Otherwise rows are the series by name, as
 * drawn.
 */
export function heatmapCells(series: HeatSeries[], name: (m: Record<string, string>) => string, deaccumulate: boolean): Heatmap {
  const native = series.some((s) => s.histograms?.length);
  const byLe = native || (series.length > 0 && series.every((s) => s.metric.le !== undefined));
  // Series of the same bound (several histograms not summed by le) add up.
  const rows = new Map<string, Map<number, number>>();
  const add = (key: string, t: number, v: string) => {
    const row = rows.get(key) ?? new Map<number, number>();
    rows.set(key, row);
    const f = parseFloat(v);
    if (Number.isFinite(f)) row.set(t, (row.get(t) ?? 0) + f);
  };
  for (const s of series) {
    if (native) {
      for (const [t, h] of s.histograms ?? []) for (const [, , upper, count] of h.buckets ?? []) add(upper, t, count);
      continue;
    }
    for (const [t, v] of s.values ?? []) add(byLe ? s.metric.le : name(s.metric), t, v);
  }
  const keys = [...rows.keys()];
  if (byLe) keys.sort((a, b) => leValue(a) - leValue(b));
  else keys.sort();
  const ts = new Set<number>();
  rows.forEach((r) => r.forEach((_, t) => ts.add(t)));
  const xs = [...ts].sort((a, b) => a - b);
  const cum = keys.map((k) => xs.map((t) => rows.get(k)!.get(t) ?? NaN));
  const cells = cum.map((row, i) =>
    byLe && !native && deaccumulate && i > 0 ? row.map((v, j) => (Number.isNaN(v) ? NaN : Math.max(0, v - (Number.isNaN(cum[i - 1][j]) ? 0 : cum[i - 1][j])))) : row,
  );
  let max = 0;
  const sums = cells.map((row) => row.reduce((a, v) => (Number.isNaN(v) ? a : a + v), 0));
  cells.forEach((row) => row.forEach((v) => !Number.isNaN(v) && v > max && (max = v)));
  return { rows: keys, xs, cells, max, sums };
}

// The end colours of Grafana's (d3's) sequential schemes, dark to light, that heatmaps
// use most; other schemes draw as Oranges.
const schemes: Record<string, [number, number, number][]> = {
  Oranges: [[127, 39, 4], [253, 141, 60], [254, 230, 206]],
  Reds: [[103, 0, 13], [251, 106, 74], [254, 224, 210]],
  Blues: [[8, 48, 107], [66, 146, 198], [222, 235, 247]],
  Greens: [[0, 68, 27], [65, 171, 93], [229, 245, 224]],
  Purples: [[63, 0, 125], [128, 125, 186], [239, 237, 245]],
  Greys: [[0, 0, 0], [115, 115, 115], [240, 240, 240]],
  YlOrRd: [[128, 0, 38], [253, 141, 60], [255, 255, 204]],
  Viridis: [[68, 1, 84], [33, 145, 140], [253, 231, 37]],
  Spectral: [[158, 1, 66], [254, 224, 139], [94, 79, 162]],
  RdYlGn: [[165, 0, 38], [255, 255, 191], [0, 104, 55]],
};

export interface HeatColor {
  mode?: string; // scheme (default) or opacity
  scheme?: string;
  fill?: string;
  scale?: string; // exponential (default) or linear
  exponent?: number;
  reverse?: boolean;
  min?: number;
  max?: number;
}

/**
 * heatColor is the colour of a cell of value v (Grafana's heatmap colour options): a
 * point on the scheme from its dark end (low) to its light end (high), on an exponential
 * scale (exponent 0.5) unless `scale` is linear. Values at or below 0 are not drawn (null),
 * as Grafana's default filter hides empty buckets.
 */
export function heatColor(v: number, max: number, c: HeatColor = {}): string | null {
  const lo = c.min ?? 0;
  const hi = c.max ?? max;
  if (!Number.isFinite(v) || v <= 0 || v <= lo) return null;
  let t = hi > lo ? Math.min(1, (v - lo) / (hi - lo)) : 1;
  if (c.scale !== 'linear') t = Math.pow(t, c.exponent ?? 0.5);
  if (c.reverse) t = 1 - t;
  if (c.mode === 'opacity') return `rgba(255, 120, 10, ${(0.1 + 0.9 * t).toFixed(3)})`;
  const stops = schemes[c.scheme ?? 'Oranges'] ?? schemes.Oranges;
  const x = t * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f));
  return `rgb(${rgb.join(', ')})`;
}

/**
 * searchRequests turns a traces or errors panel's options.query (the API's parameters as a
 * query string, with dashboard variables) into the parameters of the requests to make.
 * A parameter that is one variable selected as "All" is left out (every value); one with
 * several values selected becomes one request per value (their answers are merged), as
 * the APIs take one service, environment... per request. At most `cap` requests.
 */
export function searchRequests(query: string, vars: Map<string, VarState>, builtins: Record<string, string>, cap = 10): URLSearchParams[] {
  let out: [string, string][][] = [[]];
  for (const [k, raw] of new URLSearchParams(query.replace(/^\?/, ''))) {
    const m = /^\$(\w+)$|^\$\{(\w+)\}$|^\[\[(\w+)\]\]$/.exec(raw.trim());
    const st = m ? vars.get(m[1] ?? m[2] ?? m[3]) : undefined;
    let vals: string[];
    if (st) {
      if (st.selected.includes(ALL)) vals = st.v.allValue ? [st.v.allValue] : [];
      else vals = st.selected;
    } else vals = [interpolate(raw, vars, builtins)];
    vals = vals.filter((v) => v !== '');
    if (!vals.length) continue;
    if (k === 'attr') {
      // attr repeats: every value is one more filter of the same request.
      out = out.map((r) => [...r, ...vals.map((v) => [k, v] as [string, string])]);
      continue;
    }
    out = out.flatMap((r) => vals.map((v) => [...r, [k, v] as [string, string]])).slice(0, cap);
  }
  return out.map((r) => new URLSearchParams(r));
}
