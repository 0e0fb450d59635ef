// A bar sparkline in SVG: an issue's events per bucket, cheaper than a chart per table row.
import { barHeights } from '../errors';

export function SparkBars({
  values, width = 120, height = 24, color = 'var(--error)', max, titles, label, testId,
}: {
  values: number[];
  width?: number | string;
  height?: number;
  color?: string;
  /** the count that fills the height; default: the largest of values */
  max?: number;
  /** a tooltip per bar */
  titles?: string[];
  /** what the whole graph shows, for screen readers */
  label: string;
  testId?: string;
}) {
  const n = Math.max(values.length, 1);
  const hs = barHeights(values, height - 1, max);
  // The drawing is n units wide, one per bucket; the SVG stretches it to width.
  return (
    <svg
      className="sparkbars"
      width={width}
      height={height}
      viewBox={`0 0 ${n} ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={label}
      data-testid={testId}
      data-values={values.join(',')}
    >
      <line x1={0} x2={n} y1={height - 0.5} y2={height - 0.5} stroke="var(--border)" strokeWidth={1} vectorEffect="non-scaling-stroke" />
      {hs.map((h, i) => (
        <g key={i}>
          {/* A full-height transparent bar carries the tooltip, so a short bar is easy to hover. */}
          {titles && (
            <rect x={i} y={0} width={1} height={height} fill="transparent">
              <title>{titles[i]}</title>
            </rect>
          )}
          {h > 0 && (
            <rect x={i + 0.12} y={height - 1 - h} width={0.76} height={h} fill={color} pointerEvents="none" />
          )}
        </g>
      ))}
    </svg>
  );
}
