// The heatmap panel: Prometheus classic histograms (`sum by (le) (rate(x_bucket[...]))`,
// Grafana's `format: heatmap`) as a cell per bucket and step, coloured by count. Drawn on
// one canvas (a 6 h range is hundreds of steps times a dozen buckets); the bucket labels
// are DOM, so that they can be read and checked. A click opens the metrics explorer with
// the panel's query and range.
import { useEffect, useMemo, useRef, useState } from 'react';
import { type PromResult } from '../api';
import { navigate } from '../router';
import { fmtDateTime } from '../util';
import { builtinValues, formatUnit, interpolate, intervalFor, legendName, unsetVariables, type Panel } from '../dashboards';
import { heatColor, heatmapCells, type HeatColor, type HeatSeries } from '../dashpanels';
import { cachedGet, exploreURL, NoValue, PanelState, type PanelContext } from './DashboardPanels';

const LABEL_W = 56;
const AXIS_H = 16;

export function HeatmapPanel({ p, ctx, height }: { p: Panel; ctx: PanelContext; height: number }) {
  const targets = (p.targets ?? []).filter((t) => !t.hide && t.expr);
  const rangeMs = ctx.end - ctx.start;
  // Cells of about 10 px: a heatmap of 2 px columns is unreadable.
  const step = intervalFor(rangeMs, p.maxDataPoints || Math.max(20, ((p.gridPos.w / 24) * 1400) / 10), p.interval);
  const b = builtinValues({ intervalMs: step, rangeMs });
  const exprs = targets.map((t) => interpolate(t.expr, ctx.vars, b));
  const key = `${exprs.join('\n')}|${ctx.start}|${ctx.end}|${step}|${ctx.gen}`;
  const [data, setData] = useState<{ key: string; series?: HeatSeries[]; error?: Error }>({ key: '' });
  useEffect(() => {
    let live = true;
    const unset = [...new Set(targets.flatMap((t) => unsetVariables(t.expr, ctx.vars)))];
    if (unset.length) {
      setData({ key, error: new NoValue(unset) });
      return;
    }
    Promise.all(
      exprs.map((q) =>
        cachedGet<PromResult>(ctx.gen, '/api/v1/query_range', new URLSearchParams({ query: q, start: String(ctx.start / 1000), end: String(ctx.end / 1000), step: String(step / 1000) })),
      ),
    ).then(
      (rs) => {
        if (!live) return;
        const bad = rs.find((r) => r.resultType !== 'matrix');
        if (bad) setData({ key, error: new Error(`the query answered ${bad.resultType} results; a heatmap draws range series (buckets over time)`) });
        else setData({ key, series: rs.flatMap((r) => (r.resultType === 'matrix' ? r.result : [])) });
      },
      (error) => live && setData({ key, error }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const legendFormat = targets[0]?.legendFormat;
  // Buckets are cumulative in Prometheus: `format: heatmap` (or no format) takes each
  // bucket's own count out of them; an explicit time_series draws the series as they are.
  const deacc = !targets.some((t) => t.format && t.format !== 'heatmap');
  const heat = useMemo(() => (data.series ? heatmapCells(data.series, (m) => legendName(m, legendFormat), deacc) : null), [data.series, legendFormat, deacc]);
  if (!targets.length) return <div className="dash-placeholder muted">No PromQL query</div>;
  const ready = data.key === key;
  if (data.error || !ready || !heat || heat.xs.length === 0) return <PanelState error={ready ? data.error : undefined} loading={!ready} empty />;
  return <HeatCanvas p={p} heat={heat} height={height} onOpen={() => navigate(exploreURL(p, exprs[0], ctx.range))} start={ctx.start / 1000} end={ctx.end / 1000} step={step / 1000} />;
}

function HeatCanvas({ p, heat, height, onOpen, start, end, step }: { p: Panel; heat: ReturnType<typeof heatmapCells>; height: number; onOpen: () => void; start: number; end: number; step: number }) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(0);
  const [tip, setTip] = useState<{ x: number; y: number; text: string } | null>(null);
  const color = (p.options?.color ?? {}) as HeatColor;
  const unit: string | undefined = p.options?.yAxis?.unit ?? p.fieldConfig?.defaults.unit;
  const h = Math.max(40, height - AXIS_H);
  const rowH = h / heat.rows.length;
  // The lowest bucket at the bottom, unless options.yAxis.reverse.
  const reverse = p.options?.yAxis?.reverse === true;
  const rowTop = (r: number) => (reverse ? r * rowH : h - (r + 1) * rowH);
  const plotW = Math.max(10, width - LABEL_W);
  const span = Math.max(step, end - start);
  const xOf = (t: number) => ((t - step / 2 - start) / span) * plotW;
  const cellW = Math.max(1, (step / span) * plotW);
  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    setWidth(el.clientWidth);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    const c = canvas.current;
    if (!c || !width) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(plotW * dpr);
    c.height = Math.round(h * dpr);
    const g = c.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, plotW, h);
    const gap = Math.min(1, cellW / 4);
    heat.cells.forEach((row, r) => {
      const y = rowTop(r);
      row.forEach((v, j) => {
        const fill = heatColor(v, heat.max, color);
        if (!fill) return;
        g.fillStyle = fill;
        g.fillRect(xOf(heat.xs[j]) + gap / 2, y + gap / 2, cellW - gap, rowH - gap);
      });
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [heat, width, h, reverse, JSON.stringify(color)]);
  const cellAt = (e: React.MouseEvent) => {
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const row = reverse ? Math.floor(y / rowH) : heat.rows.length - 1 - Math.floor(y / rowH);
    const t = start + (x / plotW) * span;
    let j = -1;
    let best = Infinity;
    heat.xs.forEach((xt, k) => Math.abs(xt - t) < best && ((best = Math.abs(xt - t)), (j = k)));
    return { x, y, row, j };
  };
  const label = (le: string) => (le === '+Inf' ? '+Inf' : /^-?[\d.e+-]+$/.test(le) ? formatUnit(parseFloat(le), unit) : le);
  const ticks = [0, 0.5, 1].map((f) => start + f * (end - start));
  return (
    <div className="dash-heatmap" ref={wrap} data-testid="panel-heatmap" data-buckets={heat.rows.length} data-steps={heat.xs.length} data-max={heat.max}>
      <div className="dash-heat-labels" style={{ width: LABEL_W, height: h }}>
        {heat.rows.map((le, r) => (
          <div
            key={le}
            className="dash-heat-row muted small"
            data-testid="heatmap-row"
            data-le={le}
            data-sum={+heat.sums[r].toFixed(6)}
            data-top={Math.round(rowTop(r))}
            data-height={Math.round(rowH)}
            style={{ top: rowTop(r), height: rowH, lineHeight: `${rowH}px` }}
          >
            {rowH >= 10 || r % Math.ceil(10 / rowH) === 0 ? label(le) : ''}
          </div>
        ))}
      </div>
      <canvas
        ref={canvas}
        style={{ left: LABEL_W, width: plotW, height: h }}
        onClick={onOpen}
        onMouseLeave={() => setTip(null)}
        onMouseMove={(e) => {
          const c = cellAt(e);
          const v = heat.cells[c.row]?.[c.j];
          if (c.j < 0 || v === undefined) return setTip(null);
          const lower = c.row > 0 ? label(heat.rows[c.row - 1]) : '';
          setTip({ x: c.x, y: c.y, text: `${fmtDateTime(heat.xs[c.j] * 1000)}\n${lower ? `${lower} – ` : '≤ '}${label(heat.rows[c.row])}: ${Number.isNaN(v) ? 'no data' : +v.toPrecision(4)}` });
        }}
        data-testid="heatmap-canvas"
      />
      <div className="dash-heat-axis muted small" style={{ left: LABEL_W, width: plotW, top: h }}>
        {ticks.map((t, i) => (
          <span key={i}>{new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</span>
        ))}
      </div>
      {tip && (
        <div className="dash-heat-tip" style={{ left: LABEL_W + Math.min(tip.x + 12, plotW - 160), top: Math.max(0, tip.y - 30) }}>
          {tip.text}
        </div>
      )}
    </div>
  );
}
