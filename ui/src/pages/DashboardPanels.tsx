// The panels of a dashboard: time series (uPlot), stat, gauge, table, text (safe Markdown),
// logs, rows; heatmap (DashboardHeatmap.tsx), traces and errors (DashboardSearch.tsx); and
// a placeholder naming any other type. Queries go through a cache
// shared by the panels and emptied on every refresh, so panels asking the same thing in
// one refresh make one request, and panels query concurrently (each on its own).
import { useMemo, useRef, type ReactNode } from 'react';
import uPlot from 'uplot';
import { getJSON, type PromMatrix, type PromResult } from '../api';
import { href, navigate, onLinkClick } from '../router';
import { seriesColor, severityClass, fmtLogTime, type Range } from '../util';
import { Chart, escapeHTML, themedAxes, tooltipPlugin } from '../components/Chart';
import { useAsync } from '../components/hooks';
import { flattenStreams, logqlURL } from './LogQL';
import { HeatmapPanel } from './DashboardHeatmap';
import { ErrorsPanel, TracesPanel } from './DashboardSearch';
import {
  calcNames,
  datasourceType,
  formatUnit,
  intervalFor,
  builtinValues,
  interpolate,
  legendName,
  parseMarkdown,
  reduce,
  thresholdColor,
  type MdInline,
  type Panel,
  type Target,
  type VarState,
  unsetVariables,
} from '../dashboards';

let cacheGen = -1;
const cache = new Map<string, Promise<unknown>>();

/** cachedGet answers GET path?params once per refresh generation. */
export function cachedGet<T>(gen: number, path: string, params: URLSearchParams): Promise<T> {
  if (gen !== cacheGen) {
    cache.clear();
    cacheGen = gen;
  }
  const key = `${path}?${params}`;
  let p = cache.get(key);
  if (!p) {
    p = getJSON<T>(path, params);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p as Promise<T>;
}

export interface PanelContext {
  range: Range;
  start: number; // ms
  end: number; // ms
  vars: Map<string, VarState>;
  gen: number;
}

interface Series {
  name: string;
  values: [number, number | null][];
  expr: string;
}

/** queryTargets runs a panel's targets (range or instant) and answers its series. */
async function queryTargets(p: Panel, ctx: PanelContext, instant: boolean): Promise<{ series: Series[]; exprs: string[] }> {
  const rangeMs = ctx.end - ctx.start;
  const step = intervalFor(rangeMs, p.maxDataPoints || Math.max(50, (p.gridPos.w / 24) * 600), p.interval);
  const b = builtinValues({ intervalMs: step, rangeMs });
  const targets = (p.targets ?? []).filter((t) => !t.hide && t.expr);
  const unset = [...new Set(targets.flatMap((t) => unsetVariables(t.expr, ctx.vars)))];
  if (unset.length) throw new NoValue(unset);
  const exprs = targets.map((t) => interpolate(t.expr, ctx.vars, b));
  const results = await Promise.all(
    targets.map(async (t, i) => {
      const expr = exprs[i];
      const loki = datasourceType(p, t) === 'loki';
      const inst = instant || t.instant;
      const params = new URLSearchParams({ query: expr });
      if (inst) params.set('time', String(ctx.end / 1000));
      else {
        params.set('start', String(ctx.start / 1000));
        params.set('end', String(ctx.end / 1000));
        params.set('step', String(step / 1000));
      }
      const path = loki ? (inst ? '/loki/api/v1/query' : '/loki/api/v1/query_range') : inst ? '/api/v1/query' : '/api/v1/query_range';
      const res = await cachedGet<PromResult>(ctx.gen, path, params);
      return toSeries(res, t, expr);
    }),
  );
  return { series: results.flat(), exprs };
}

/** NoValue: a query uses a variable without a value, so it is not run. */
export class NoValue extends Error {
  constructor(public names: string[]) {
    super(`No data: ${names.map((n) => `$${n}`).join(', ')} ${names.length > 1 ? 'have' : 'has'} no value`);
  }
}

function toSeries(res: PromResult, t: Target, expr: string): Series[] {
  const num = (v: string) => {
    const f = parseFloat(v);
    return Number.isFinite(f) ? f : null;
  };
  if (res.resultType === 'matrix') return res.result.map((s) => ({ name: legendName(s.metric, t.legendFormat), values: s.values.map(([ts, v]) => [ts, num(v)] as [number, number | null]), expr }));
  if (res.resultType === 'vector') return res.result.map((s) => ({ name: legendName(s.metric, t.legendFormat), values: [[s.value[0], num(s.value[1])]], expr }));
  if (res.resultType === 'scalar') return [{ name: expr, values: [[res.result[0], num(res.result[1])]], expr }];
  throw new Error(`the query answered ${res.resultType} results; this panel draws series`);
}

/** exploreURL opens the metrics explorer (or the LogQL view) with a query and the range. */
export function exploreURL(p: Panel, expr: string, range: Range): string {
  if (datasourceType(p) === 'loki') return logqlURL(expr, range);
  return href('/query', { expr, from: range.from === 'now-1h' ? '' : range.from, to: range.to === 'now' ? '' : range.to });
}

export function PanelBody({ p, ctx, height }: { p: Panel; ctx: PanelContext; height: number }) {
  switch (p.type) {
    case 'timeseries':
      return <TimeSeriesPanel p={p} ctx={ctx} height={height} />;
    case 'stat':
    case 'gauge':
    case 'bargauge':
      return <StatPanel p={p} ctx={ctx} />;
    case 'table':
      return <TablePanel p={p} ctx={ctx} />;
    case 'text':
      return <Markdown src={String(p.options?.content ?? '')} />;
    case 'logs':
      return <LogsPanel p={p} ctx={ctx} />;
    case 'heatmap':
      return <HeatmapPanel p={p} ctx={ctx} height={height} />;
    case 'traces':
      return <TracesPanel p={p} ctx={ctx} />;
    case 'errors':
      return <ErrorsPanel p={p} ctx={ctx} />;
    default:
      return (
        <div className="dash-placeholder muted" data-testid="panel-unsupported">
          The <code>{p.type}</code> panel is not drawn by this version of the UI yet.
        </div>
      );
  }
}

/** varsKey is the variables' selection as text, part of a panel query's cache key. */
export function varsKey(ctx: PanelContext): string {
  return [...ctx.vars.values()].map((v) => `${v.v.name}=${v.selected.join(',')}`).join('&');
}

function usePanelQuery(p: Panel, ctx: PanelContext, instant: boolean) {
  const key = `${p.id}|${JSON.stringify(p.targets)}|${ctx.start}|${ctx.end}|${ctx.gen}|${varsKey(ctx)}|${instant}`;
  return useAsync(key, () => queryTargets(p, ctx, instant));
}

export function PanelState({ error, loading, empty }: { error?: Error; loading: boolean; empty: boolean }) {
  if (error instanceof NoValue)
    return (
      <div className="dash-placeholder muted" data-testid="panel-nodata">
        {error.message}
      </div>
    );
  if (error)
    return (
      <div className="dash-error" data-testid="panel-error" role="alert">
        {error.message}
      </div>
    );
  if (loading) return <div className="dash-placeholder muted">Loading…</div>;
  if (empty)
    return (
      <div className="dash-placeholder muted" data-testid="panel-nodata">
        No data
      </div>
    );
  return null;
}

function TimeSeriesPanel({ p, ctx, height }: { p: Panel; ctx: PanelContext; height: number }) {
  const res = usePanelQuery(p, ctx, false);
  const unit = p.fieldConfig?.defaults.unit;
  const decimals = p.fieldConfig?.defaults.decimals;
  const legend = p.options?.legend ?? {};
  const calcs: string[] = Array.isArray(legend.calcs) ? legend.calcs.filter((c: string) => c in calcNames) : [];
  const showLegend = legend.showLegend !== false && legend.displayMode !== 'hidden';
  const series = (res.data?.series ?? []).slice(0, 100);
  const exprRef = useRef('');
  exprRef.current = res.data?.exprs[0] ?? '';
  const { aligned, names } = useMemo(() => {
    const ts = new Set<number>();
    series.forEach((s) => s.values.forEach(([t]) => ts.add(t)));
    const xs = [...ts].sort((a, b) => a - b);
    const idx = new Map(xs.map((t, i) => [t, i]));
    const ys = series.map((s) => {
      const col: (number | null)[] = new Array(xs.length).fill(null);
      s.values.forEach(([t, v]) => (col[idx.get(t)!] = v));
      return col;
    });
    return { aligned: [xs, ...ys] as uPlot.AlignedData, names: series.map((s) => s.name) };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [res.data]);
  const namesRef = useRef(names);
  namesRef.current = names;
  const fmt = (v: number) => formatUnit(v, unit, decimals);
  const start = ctx.start / 1000;
  const end = ctx.end / 1000;
  const custom = (p.fieldConfig?.defaults as { custom?: { drawStyle?: string; fillOpacity?: number; showPoints?: string } } | undefined)?.custom;
  const drawStyle = custom?.drawStyle;
  const fill = Math.min(100, Math.max(0, custom?.fillOpacity ?? 0));
  const opts = useMemo(
    (): Omit<uPlot.Options, 'width' | 'height'> => ({
      scales: { x: { time: true, range: () => [start, end] } },
      // The y axis is as wide as its longest label (units make labels long).
      axes: themedAxes((v) => formatUnit(v, unit, decimals)).map((a, i) => (i === 1 ? { ...a, size: (_u: uPlot, vals: string[]) => Math.max(40, Math.max(0, ...(vals ?? []).map((x) => String(x).length)) * 7 + 14) } : a)),
      legend: { show: false },
      cursor: { focus: { prox: 30 }, drag: { x: false, y: false } },
      series: [{ label: 'time' }, ...names.map((l, i) => ({
          label: l,
          stroke: seriesColor(i),
          width: drawStyle === 'points' ? 0 : 1.5,
          // Grafana's drawStyle bars and fillOpacity (0-100) of fieldConfig.defaults.custom.
          paths: drawStyle === 'bars' ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
          fill: drawStyle === 'bars' ? seriesColor(i) : fill ? fillColor(seriesColor(i), fill / 100) : undefined,
          // Points when asked for; else uPlot's default, which shows them where the data is
          // sparse (an isolated value would draw nothing as a line).
          points: drawStyle === 'points' || custom?.showPoints === 'always' ? { show: true } : custom?.showPoints === 'never' ? { show: false } : {},
        }))],
      hooks: {
        ready: [
          (u) =>
            u.over.addEventListener('click', () => {
              // A click on the chart opens the explorer with the query of the series under
              // the cursor (else the first query) and the dashboard's range.
              const i = u.series.findIndex((s, k) => k > 0 && (s as { _focus?: boolean })._focus);
              const expr = (i > 0 && series[i - 1]?.expr) || exprRef.current;
              if (expr) navigate(exploreURL(p, expr, ctx.range));
            }),
        ],
      },
      plugins: [
        tooltipPlugin((u, idx) => {
          const t = new Date(u.data[0][idx] * 1000).toLocaleString();
          const rows: string[] = [];
          for (let i = 1; i < u.series.length && rows.length < 10; i++) {
            const v = u.data[i][idx];
            if (v == null) continue;
            rows.push(`<div><span class="swatch" style="background:${seriesColor(i - 1)}"></span>${escapeHTML(namesRef.current[i - 1])} <b>${escapeHTML(formatUnit(v, unit, decimals))}</b></div>`);
          }
          return `<div class="tt-title">${escapeHTML(t)}</div>${rows.join('')}`;
        }),
      ],
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [names.join('\n'), start, end, unit, decimals, drawStyle, fill, custom?.showPoints],
  );
  const state = <PanelState error={res.error} loading={!res.data} empty={series.length === 0} />;
  if (res.error || !res.data || series.length === 0) return state;
  const legendH = showLegend ? Math.min(series.length, 4) * 18 + (calcs.length ? 20 : 4) : 0;
  return (
    <div className="dash-ts" data-testid="panel-timeseries" data-series={series.length}>
      <Chart options={opts} data={aligned} height={Math.max(60, height - legendH)} optionsKey={`${names.join('\n')}|${start}|${end}|${unit}`} className="chart dash-chart" />
      {showLegend && (
        <table className="dash-legend" style={{ maxHeight: legendH }}>
          {calcs.length > 0 && (
            <thead>
              <tr>
                <th />
                {calcs.map((c) => (
                  <th key={c} className="num">
                    {calcNames[c]}
                  </th>
                ))}
              </tr>
            </thead>
          )}
          <tbody>
            {series.map((s, i) => (
              <tr key={i}>
                <td className="dash-legend-name">
                  <span className="swatch" style={{ background: seriesColor(i) }} />
                  {s.name}
                </td>
                {calcs.map((c) => (
                  <td key={c} className="num">
                    {fmt(reduce(s.values.map((v) => v[1]), c) ?? NaN)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** fillColor is a series colour (hsl(...) or #rrggbb) with opacity a. */
function fillColor(c: string, a: number): string {
  if (c.startsWith('hsl(')) return c.replace(/^hsl\((.*)\)$/, `hsla($1, ${a})`);
  if (/^#[0-9a-f]{6}$/i.test(c)) return `${c}${Math.round(a * 255).toString(16).padStart(2, '0')}`;
  return c;
}

function StatPanel({ p, ctx }: { p: Panel; ctx: PanelContext }) {
  const res = usePanelQuery(p, ctx, false);
  const d = p.fieldConfig?.defaults ?? {};
  const calc: string = p.options?.reduceOptions?.calcs?.[0] ?? 'lastNotNull';
  const series = (res.data?.series ?? []).slice(0, 24);
  if (res.error || !res.data || series.length === 0) {
    if (res.data && series.length === 0 && d.noValue) return <div className="dash-stat">{d.noValue}</div>;
    return <PanelState error={res.error} loading={!res.data} empty />;
  }
  const gauge = p.type !== 'stat';
  const min = d.min ?? 0;
  const max = d.max ?? (d.unit === 'percentunit' ? 1 : 100);
  return (
    <div className={`dash-stats ${gauge ? 'gauges' : ''}`} data-testid={`panel-${p.type}`}>
      {series.map((s, i) => {
        const v = reduce(
          s.values.map((x) => x[1]),
          calc,
        );
        const color = thresholdColor(v, d.thresholds, min, max);
        const text = v === null && d.noValue ? d.noValue : formatUnit(v, d.unit, d.decimals);
        const frac = v === null ? 0 : Math.min(1, Math.max(0, (v - min) / (max - min || 1)));
        return (
          // A click on a value opens the explorer with the query of its series and the range.
          <div key={i} className="dash-stat" data-testid="stat-value" data-value={v ?? ''} onClick={() => navigate(exploreURL(p, s.expr, ctx.range))} title="Open in the explorer">
            {gauge && (
              <div className="dash-gauge">
                <div className="dash-gauge-fill" style={{ width: `${frac * 100}%`, background: color ?? 'var(--accent)' }} />
              </div>
            )}
            <div className="dash-stat-value" style={{ color }}>
              {text}
            </div>
            {series.length > 1 && <div className="dash-stat-name muted small">{d.displayName || s.name}</div>}
          </div>
        );
      })}
    </div>
  );
}

function TablePanel({ p, ctx }: { p: Panel; ctx: PanelContext }) {
  const res = usePanelQuery(p, ctx, true);
  const d = p.fieldConfig?.defaults ?? {};
  const series = res.data?.series ?? [];
  if (res.error || !res.data || series.length === 0) return <PanelState error={res.error} loading={!res.data} empty />;
  return (
    <div className="dash-table-wrap">
      <table className="table" data-testid="panel-table">
        <thead>
          <tr>
            <th>Series</th>
            <th className="num">Value</th>
          </tr>
        </thead>
        <tbody>
          {series.slice(0, 500).map((s, i) => (
            // A click on a row opens the explorer with its query and the range.
            <tr key={i} className="dash-click" onClick={() => navigate(exploreURL(p, s.expr, ctx.range))} title="Open in the explorer">
              <td className="mono">{s.name}</td>
              <td className="num">{formatUnit(s.values[s.values.length - 1]?.[1] ?? null, d.unit, d.decimals)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface LokiStreams {
  resultType: 'streams';
  result: { stream: Record<string, string>; values: [string, string][] }[];
}

function LogsPanel({ p, ctx }: { p: Panel; ctx: PanelContext }) {
  const t = (p.targets ?? []).find((x) => !x.hide && x.expr);
  const b = builtinValues({ intervalMs: intervalFor(ctx.end - ctx.start, 500), rangeMs: ctx.end - ctx.start });
  const expr = t ? interpolate(t.expr, ctx.vars, b) : '';
  const res = useAsync(expr ? `${expr}|${ctx.start}|${ctx.end}|${ctx.gen}|${varsKey(ctx)}` : '', async () => {
    const unset = unsetVariables(t!.expr, ctx.vars);
    if (unset.length) throw new NoValue(unset);
    const params = new URLSearchParams({ query: expr, start: `${Math.floor(ctx.start)}000000`, end: `${Math.ceil(ctx.end)}000000`, limit: String(t?.maxLines || 100), direction: 'backward' });
    const r = await cachedGet<LokiStreams | PromMatrix>(ctx.gen, '/loki/api/v1/query_range', params);
    if (r.resultType !== 'streams') throw new Error('a logs panel needs a LogQL log query (this one is a metric query)');
    return flattenStreams(r.result);
  });
  if (!t) return <div className="dash-placeholder muted">No LogQL query</div>;
  const link = (
    <a className="small" href={logqlURL(expr, ctx.range)} onClick={onLinkClick} data-testid="panel-logs-link">
      Open in the log explorer
    </a>
  );
  if (res.error || !res.data || res.data.length === 0) return <PanelState error={res.error} loading={!res.data} empty />;
  return (
    <div className="dash-logs" data-testid="panel-logs">
      {link}
      {res.data.map((l, i) => {
        const lvl = l.labels.detected_level ?? '';
        return (
          <div key={i} className={`log-row ${severityClass(lvl, 0)}`}>
            <div className="log-line">
              <span className="sev-bar" />
              <span className="log-time">{fmtLogTime(l.ns)}</span>
              <span className="log-sev">{lvl.toUpperCase()}</span>
              <span className="log-service">{l.labels.service_name ?? ''}</span>
              <span className="log-body">{l.line}</span>
            </div>
          </div>
        );
      })}
    </div>
  );
}

function inline(parts: MdInline[]): ReactNode[] {
  return parts.map((x, i) => {
    switch (x.t) {
      case 'b':
        return <strong key={i}>{x.s}</strong>;
      case 'i':
        return <em key={i}>{x.s}</em>;
      case 'code':
        return <code key={i}>{x.s}</code>;
      case 'a':
        return (
          <a key={i} href={x.href} rel="noopener noreferrer" target={x.href.startsWith('/') ? undefined : '_blank'}>
            {x.s}
          </a>
        );
      default:
        return x.s;
    }
  });
}

/** Markdown draws the safe subset of parseMarkdown; every string is a React text node. */
export function Markdown({ src }: { src: string }) {
  const blocks = useMemo(() => parseMarkdown(src), [src]);
  return (
    <div className="dash-md" data-testid="panel-text">
      {blocks.map((b, i) => {
        switch (b.t) {
          case 'h': {
            const H = `h${Math.min(6, b.level + 2)}` as 'h3';
            return <H key={i}>{inline(b.text)}</H>;
          }
          case 'ul':
            return (
              <ul key={i}>
                {b.items.map((it, j) => (
                  <li key={j}>{inline(it)}</li>
                ))}
              </ul>
            );
          case 'code':
            return <pre key={i}>{b.text}</pre>;
          default:
            return <p key={i}>{inline(b.text)}</p>;
        }
      })}
    </div>
  );
}


