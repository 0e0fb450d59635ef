// The metrics explorer: a PromQL input with autocomplete, a range chart and an instant
// table, over the Prometheus HTTP API.
import { useEffect, useMemo, useRef, useState } from 'react';
import type uPlot from 'uplot';
import { getJSON, type PromMatrix, type PromResult } from '../api';
import { href, submit, useRefresh } from '../router';
import { fmtNumber, rangeFromParams, resolveRange, seriesColor, type Range } from '../util';
import { TimeRangePicker } from '../components/TimeRange';
import { Chart, escapeHTML, themedAxes, tooltipPlugin } from '../components/Chart';
import { ErrorBox, SendData, Spinner } from '../components/States';
import { useAsync } from '../components/hooks';
import { useFirstRender } from '../components/perf';
import { PromQLInput } from '../components/PromQLInput';

function metricLabel(m: Record<string, string>): string {
  const { __name__, ...rest } = m;
  const labels = Object.keys(rest)
    .sort()
    .map((k) => `${k}="${rest[k]}"`)
    .join(', ');
  return `${__name__ ?? ''}{${labels}}`;
}

/** stepFor picks a step giving about 250 points, rounded to a whole second. */
export function stepFor(rangeMs: number): number {
  return Math.max(1, Math.round(rangeMs / 1000 / 250));
}

export function MetricsPage({ params }: { params: URLSearchParams }) {
  const expr = params.get('expr') ?? '';
  const tab = params.get('tab') === 'table' ? 'table' : 'graph';
  const range = rangeFromParams(params);
  const go = (patch: { expr?: string; tab?: string; range?: Range }) => {
    const r = patch.range ?? range;
    submit(
      href('/query', {
        expr: patch.expr ?? expr,
        tab: (patch.tab ?? tab) === 'table' ? 'table' : '',
        from: r.from === 'now-1h' ? '' : r.from,
        to: r.to === 'now' ? '' : r.to,
      }),
    );
  };
  const [draft, setDraft] = useState(expr);
  useEffect(() => setDraft(expr), [expr]);
  const names = useAsync('metric-names', (signal) => getJSON<string[]>('/api/v1/label/__name__/values', undefined, signal));
  useFirstRender('metrics', !names.loading);

  return (
    <div className="page metrics-page">
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          go({ expr: draft });
        }}
      >
        <PromQLInput value={draft} onChange={setDraft} onRun={(v) => go({ expr: v })} metricNames={names.data ?? []} />
        <TimeRangePicker range={range} onChange={(r) => go({ range: r })} />
        <button className="btn primary" type="submit" data-testid="metrics-run">
          Run query
        </button>
      </form>
      <div className="tabs">
        <button className={tab === 'graph' ? 'on' : ''} onClick={() => go({ tab: 'graph' })} data-testid="tab-graph">
          Graph
        </button>
        <button className={tab === 'table' ? 'on' : ''} onClick={() => go({ tab: 'table' })} data-testid="tab-table">
          Table
        </button>
      </div>
      {names.error && <ErrorBox error={names.error} title="Cannot list metric names" />}
      {!expr && names.data && names.data.length === 0 && <SendData what="metrics" />}
      {!expr && names.data && names.data.length > 0 && (
        <div className="hint">
          <p>Type a PromQL expression above: metric names and labels complete as you type (Tab or Enter to accept). Some of your metrics:</p>
          <div className="metric-names">
            {names.data.slice(0, 60).map((n) => (
              <button key={n} className="link-btn mono" onClick={() => go({ expr: n })}>
                {n}
              </button>
            ))}
          </div>
        </div>
      )}
      {expr && tab === 'graph' && <RangeResult expr={expr} range={range} onZoom={(r) => go({ range: r })} />}
      {expr && tab === 'table' && <InstantResult expr={expr} range={range} />}
    </div>
  );
}

function RangeResult({ expr, range, onZoom }: { expr: string; range: Range; onZoom: (r: Range) => void }) {
  // Relative ranges are resolved when the query runs (again on every Run / refresh), not on
  // every render, so "now" moves forward exactly when the query is run again.
  const gen = useRefresh();
  const key = `${expr}|${range.from}|${range.to}|${gen}`;
  const res = useAsync(key, async (signal) => {
    const r = resolveRange(range);
    if (!r) throw new Error(`invalid time range ${range.from} to ${range.to}`);
    const p = new URLSearchParams({ query: expr, start: String(r.start / 1000), end: String(r.end / 1000), step: String(stepFor(r.end - r.start)) });
    return { r, result: await getJSON<PromResult>('/api/v1/query_range', p, signal) };
  });
  if (res.error) return <ErrorBox error={res.error} title="PromQL error" />;
  if (!res.data) return <Spinner label="Running query…" />;
  const { r, result } = res.data;
  if (result.resultType !== 'matrix') return <div className="muted">The query returned a {result.resultType}; use the Table tab.</div>;
  if (result.result.length === 0) return <div className="empty-state"><h3>No series</h3><p>The query returned no data in this range.</p></div>;
  return <MatrixChart data={result} start={r.start / 1000} end={r.end / 1000} onZoom={onZoom} />;
}

export function MatrixChart({ data, start, end, onZoom }: { data: PromMatrix; start: number; end: number; onZoom: (r: Range) => void }) {
  const zoomRef = useRef(onZoom);
  zoomRef.current = onZoom;
  const series = data.result.slice(0, 200);
  const { aligned, labels } = useMemo(() => {
    const ts = new Set<number>();
    series.forEach((s) => s.values.forEach(([t]) => ts.add(t)));
    const xs = [...ts].sort((a, b) => a - b);
    const idx = new Map(xs.map((t, i) => [t, i]));
    const ys = series.map((s) => {
      const col: (number | null)[] = new Array(xs.length).fill(null);
      s.values.forEach(([t, v]) => {
        const f = parseFloat(v);
        col[idx.get(t)!] = Number.isFinite(f) ? f : null;
      });
      return col;
    });
    return { aligned: [xs, ...ys] as uPlot.AlignedData, labels: series.map((s) => metricLabel(s.metric)) };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data]);
  const labelsRef = useRef(labels);
  labelsRef.current = labels;
  const opts = useMemo(
    (): Omit<uPlot.Options, 'width' | 'height'> => ({
      scales: { x: { time: true, range: () => [start, end] } },
      axes: themedAxes(fmtNumber),
      legend: { show: true, live: true },
      // Dragging selects a new range for the whole view (in the URL) instead of zooming
      // the chart alone.
      cursor: { focus: { prox: 30 }, drag: { x: true, y: false, setScale: false } },
      focus: { alpha: 0.3 },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const a = u.posToVal(u.select.left, 'x');
            const b = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoomRef.current({ from: new Date(a * 1000).toISOString(), to: new Date(b * 1000).toISOString() });
          },
        ],
      },
      series: [{ label: 'time' }, ...labels.map((l, i) => ({ label: l, stroke: seriesColor(i), width: 1.5, spanGaps: false, value: (_u: uPlot, v: number | null) => (v == null ? '–' : fmtNumber(v)) }))],
      plugins: [
        tooltipPlugin((u, idx) => {
          const t = new Date(u.data[0][idx] * 1000).toLocaleString();
          const rows: string[] = [];
          for (let i = 1; i < u.series.length && rows.length < 12; i++) {
            const v = u.data[i][idx];
            if (v == null || !u.series[i].show) continue;
            rows.push(`<div><span class="swatch" style="background:${seriesColor(i - 1)}"></span>${escapeHTML(labelsRef.current[i - 1])} <b>${fmtNumber(v)}</b></div>`);
          }
          return `<div class="tt-title">${escapeHTML(t)}</div>${rows.join('')}`;
        }),
      ],
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [labels.join('\n'), start, end],
  );
  return (
    <div className="metric-chart" data-testid="metric-chart" data-series={labels.length}>
      {data.result.length > series.length && <div className="small muted">Showing the first {series.length} of {data.result.length} series.</div>}
      <div className="small muted">Click a legend entry to hide or show its series; drag across the chart to zoom.</div>
      <Chart options={opts} data={aligned} height={320} optionsKey={`${labels.join('\n')}|${start}|${end}`} />
    </div>
  );
}

function InstantResult({ expr, range }: { expr: string; range: Range }) {
  const gen = useRefresh();
  const key = `${expr}|${range.to}|${gen}`;
  const res = useAsync(key, (signal) => {
    const p = new URLSearchParams({ query: expr });
    const r = resolveRange(range);
    if (r) p.set('time', String(r.end / 1000));
    return getJSON<PromResult>('/api/v1/query', p, signal);
  });
  if (res.error) return <ErrorBox error={res.error} title="PromQL error" />;
  if (!res.data) return <Spinner label="Running query…" />;
  const d = res.data;
  if (d.resultType === 'scalar' || d.resultType === 'string')
    return (
      <table className="table" data-testid="metric-table">
        <tbody>
          <tr>
            <td>{d.resultType}</td>
            <td className="num">{d.result[1]}</td>
          </tr>
        </tbody>
      </table>
    );
  const rows =
    d.resultType === 'vector'
      ? d.result.map((s) => ({ label: metricLabel(s.metric), value: s.value[1] }))
      : (d as PromMatrix).result.map((s) => ({ label: metricLabel(s.metric), value: s.values.map(([t, v]) => `${v} @${t}`).join('\n') }));
  if (rows.length === 0) return <div className="empty-state"><h3>No series</h3><p>The query returned no data at this time.</p></div>;
  return (
    <table className="table" data-testid="metric-table">
      <thead>
        <tr>
          <th>Series</th>
          <th className="num">Value</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={i}>
            <td className="mono">{row.label}</td>
            <td className="num mono pre">{row.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
