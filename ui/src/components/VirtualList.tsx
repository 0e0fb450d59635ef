// A hand-rolled virtualised list: only the rows in (and just around) the viewport are in
// the DOM, so 100,000 log records or 10,000 spans scroll as smoothly as 100. Row heights
// are known up front (rowHeight(i)); offsets are prefix sums recomputed when they change.
import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode, type UIEvent } from 'react';

export interface VirtualListProps {
  count: number;
  rowHeight: (i: number) => number;
  /** heightsKey changes whenever some rowHeight(i) changes. */
  heightsKey: string;
  renderRow: (i: number) => ReactNode;
  /** called when the last row is within a screen of the viewport (for infinite scroll). */
  onNearEnd?: () => void;
  overscan?: number;
  className?: string;
  testId?: string;
  scrollToIndex?: number;
  /** elRef receives the scrolling element, for callers that adjust scrollTop. */
  elRef?: { current: HTMLDivElement | null };
}

export function VirtualList(props: VirtualListProps) {
  const { count, rowHeight, heightsKey, renderRow, onNearEnd, overscan = 8, className, testId, scrollToIndex, elRef } = props;
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);

  const offsets = useMemo(() => {
    const o = new Float64Array(count + 1);
    for (let i = 0; i < count; i++) o[i + 1] = o[i] + rowHeight(i);
    return o;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [count, heightsKey]);

  useLayoutEffect(() => {
    const el = ref.current!;
    if (elRef) elRef.current = el;
    setViewport(el.clientHeight);
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    if (scrollToIndex == null || scrollToIndex < 0 || scrollToIndex >= count) return;
    const el = ref.current!;
    const top = offsets[scrollToIndex];
    const bottom = offsets[scrollToIndex + 1];
    if (top < el.scrollTop || bottom > el.scrollTop + el.clientHeight) el.scrollTop = Math.max(0, top - el.clientHeight / 3);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [scrollToIndex]);

  const total = offsets[count];
  const first = Math.max(0, findIndex(offsets, scrollTop) - overscan);
  const last = Math.min(count, findIndex(offsets, scrollTop + viewport) + 1 + overscan);

  useEffect(() => {
    if (onNearEnd && count > 0 && total - (scrollTop + viewport) < viewport) onNearEnd();
  }, [scrollTop, viewport, total, count, onNearEnd]);

  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div key={i} className="vrow" style={{ position: 'absolute', top: offsets[i], left: 0, right: 0, height: offsets[i + 1] - offsets[i] }}>
        {renderRow(i)}
      </div>,
    );
  }
  return (
    <div
      ref={ref}
      className={`vlist ${className ?? ''}`}
      data-testid={testId}
      onScroll={(e: UIEvent<HTMLDivElement>) => setScrollTop(e.currentTarget.scrollTop)}
    >
      <div style={{ position: 'relative', height: total }}>{rows}</div>
    </div>
  );
}

/** findIndex returns the row containing pixel y (binary search over prefix sums). */
function findIndex(offsets: Float64Array, y: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  if (hi < 0) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
