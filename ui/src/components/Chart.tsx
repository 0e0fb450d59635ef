// A React wrapper around uPlot: creates the plot once per set of series, updates data in
// place, and resizes with its container.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartProps {
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  height: number;
  /** optionsKey changes when the series change, which rebuilds the plot. */
  optionsKey: string;
  className?: string;
  testId?: string;
}

export function Chart({ options, data, height, optionsKey, className, testId }: ChartProps) {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;

  useEffect(() => {
    const el = ref.current!;
    // The x range drawn, in the element's data-x-min / data-x-max (seconds), for the browser tests.
    const xRange: uPlot.Plugin = {
      hooks: {
        setScale: (u, key) => {
          if (key !== 'x') return;
          el.dataset.xMin = String(u.scales.x.min);
          el.dataset.xMax = String(u.scales.x.max);
        },
      },
    };
    const u = new uPlot({ ...options, plugins: [...(options.plugins ?? []), xRange], width: Math.max(el.clientWidth, 100), height } as uPlot.Options, dataRef.current, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(el.clientWidth, 100);
      if (w !== u.width) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [optionsKey, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div ref={ref} className={className ?? 'chart'} data-testid={testId} />;
}

/** Colours uPlot cannot read from CSS: axes and grid follow the theme. */
export function axisColors() {
  const cs = getComputedStyle(document.documentElement);
  return {
    stroke: cs.getPropertyValue('--muted').trim() || '#888',
    grid: cs.getPropertyValue('--grid').trim() || 'rgba(128,128,128,0.15)',
  };
}

export function themedAxes(yFormat?: (v: number) => string): uPlot.Axis[] {
  const c = axisColors();
  return [
    { stroke: c.stroke, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid } },
    {
      stroke: c.stroke,
      grid: { stroke: c.grid, width: 1 },
      ticks: { stroke: c.grid },
      size: 60,
      values: yFormat ? (_u, vals) => vals.map((v) => (v == null ? '' : yFormat(v))) : undefined,
    },
  ];
}

/** tooltipPlugin shows the values under the cursor in a floating box. */
export function tooltipPlugin(format: (u: uPlot, idx: number) => string | null): uPlot.Plugin {
  let tip: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div');
        tip.className = 'chart-tooltip';
        tip.style.display = 'none';
        u.over.appendChild(tip);
        u.over.addEventListener('mouseleave', () => (tip.style.display = 'none'));
      },
      setCursor: (u) => {
        const idx = u.cursor.idx;
        const left = u.cursor.left ?? -1;
        if (idx == null || left < 0) {
          tip.style.display = 'none';
          return;
        }
        const html = format(u, idx);
        if (!html) {
          tip.style.display = 'none';
          return;
        }
        tip.innerHTML = html;
        tip.style.display = 'block';
        const w = u.over.clientWidth;
        const x = left + 12 + tip.offsetWidth > w ? left - tip.offsetWidth - 12 : left + 12;
        tip.style.left = `${Math.max(0, x)}px`;
        tip.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 10)}px`;
      },
    },
  };
}

export function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
