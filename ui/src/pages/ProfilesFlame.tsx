// The Profiles page's views of one flame graph: the icicle (SVG, root on top; inverted for a
// sandwich's callers), its tooltip, the top table, and the sandwich of one function. Every
// frame is an element with its name and share in data attributes, so the browser tests
// read what is drawn.
import { useEffect, useMemo, useRef, useState } from 'react';
import {
  diffChange, diffColor, changeKind, depthOf, fmtValue, frameColor, layoutFlame, profileGet, sandwich, sortTop,
  type FlameGraph, type FlameNode, type TopRow, type TopSort, type Weigher,
} from '../profile';
import { fmtPercent } from '../util';
import { href, onLinkClick } from '../router';
import { useAsync } from '../components/hooks';

const rowH = 18;
const charW = 6.6; // 11px monospace

/** What a frame's numbers mean: the graph's unit and totals, for tooltips and colours. */
export interface FlameCtx {
  g: FlameGraph;
  diff: boolean;
  weight: Weigher;
}

function pct(x: number, total: number) {
  return total ? fmtPercent(x / total) : '–';
}

function fmtDelta(d: number) {
  return `${d >= 0 ? '+' : '−'}${(Math.abs(d) * 100).toFixed(Math.abs(d) < 0.1 ? 2 : 1)} pp`;
}

/** Tooltip lines for a frame or a top-table row. */
function describe(ctx: FlameCtx, n: { self?: number; total?: number; left_self?: number; left_total?: number; right_self?: number; right_total?: number }) {
  const { g } = ctx;
  const u = g.unit;
  if (ctx.diff) {
    const c = diffChange(n, g.left_total ?? 0, g.right_total ?? 0);
    return [
      `left: total ${fmtValue(n.left_total ?? 0, u)} (${fmtPercent(c.left)}), self ${fmtValue(n.left_self ?? 0, u)}`,
      `right: total ${fmtValue(n.right_total ?? 0, u)} (${fmtPercent(c.right)}), self ${fmtValue(n.right_self ?? 0, u)}`,
      `change of share: ${fmtDelta(c.delta)} (${changeKind(c) === 'same' ? 'about the same' : changeKind(c)})`,
    ];
  }
  const t = g.root.total || g.total;
  return [`self: ${fmtValue(n.self ?? 0, u)} (${pct(n.self ?? 0, t)})`, `total: ${fmtValue(n.total ?? 0, u)} (${pct(n.total ?? 0, t)})`];
}

function useWidth(ref: React.RefObject<HTMLElement>) {
  const [w, setW] = useState(0);
  useEffect(() => {
    const el = ref.current!;
    setW(el.clientWidth);
    const ro = new ResizeObserver(() => setW(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return w;
}

export interface FlameProps {
  ctx: FlameCtx;
  root: FlameNode;
  focus?: string[];
  onFocus?: (path: string[]) => void;
  match?: ((name: string) => boolean) | null;
  inverted?: boolean;
  testId?: string;
}

/** Flame draws an icicle of root; a click on a frame zooms in on it (onFocus). */
export function Flame({ ctx, root, focus = [], onFocus, match, inverted, testId = 'flamegraph' }: FlameProps) {
  const box = useRef<HTMLDivElement>(null);
  const width = useWidth(box);
  const [tip, setTip] = useState<{ x: number; y: number; n: FlameNode } | null>(null);
  const rects = useMemo(() => (width ? layoutFlame(root, ctx.weight, focus, 0.5 / width) : []), [root, ctx.weight, focus, width]);
  const rows = depthOf(rects);
  const h = rows * rowH;
  const g = ctx.g;
  const onFocusRef = useRef(onFocus);
  onFocusRef.current = onFocus;
  // The frames do not depend on the tooltip: moving the mouse re-renders only the tooltip.
  const svg = useMemo(
    () => (
        <svg width={width} height={h} role="img" aria-label="flame graph">
          {rects.map((r) => {
            const x = r.x * width;
            const w = Math.max(r.w * width - 1, 0.5);
            const y = (inverted ? rows - 1 - r.depth : r.depth) * rowH;
            const matched = match ? match(r.node.name) : false;
            const change = ctx.diff ? diffChange(r.node, g.left_total ?? 0, g.right_total ?? 0) : null;
            const fill = match && !matched ? 'var(--flame-dim)' : change ? diffColor(change) : r.depth === 0 && r.node.name === 'total' ? 'var(--flame-root)' : frameColor(r.node.name);
            const chars = Math.floor((w - 6) / charW);
            const label = chars >= 3 ? (r.node.name.length > chars ? r.node.name.slice(0, chars - 1) + '…' : r.node.name) : '';
            return (
              <g
                key={r.path.join('\n')}
                transform={`translate(${x},${y})`}
                className={`frame${r.ancestor ? ' ancestor' : ''}${matched ? ' matched' : ''}`}
                data-testid="flame-frame"
                data-name={r.node.name}
                data-depth={r.depth}
                data-share={ctx.weight(r.node).toFixed(4)}
                data-width={r.w.toFixed(4)}
                data-match={match ? (matched ? '1' : '0') : undefined}
                data-change={change ? changeKind(change) : undefined}
                data-fill={fill}
                onClick={() => onFocusRef.current?.(r.path)}
                onMouseMove={(e) => {
                  const b = box.current!.getBoundingClientRect();
                  setTip({ x: e.clientX - b.left, y: e.clientY - b.top, n: r.node });
                }}
              >
                <rect width={w} height={rowH - 1} rx={2} fill={fill} />
                {label && (
                  <text x={3} y={rowH - 5}>
                    {label}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
    ),
    [rects, width, h, rows, inverted, match, ctx, g],
  );
  return (
    <div className="flame" ref={box} data-testid={testId} onMouseLeave={() => setTip(null)}>
      {width > 0 && svg}
      {tip && (
        <div className="flame-tip" data-testid="flame-tooltip" style={{ left: Math.min(tip.x + 12, Math.max(0, width - 340)), top: tip.y + 16 }}>
          <div className="tt-title mono">{tip.n.name}</div>
          {tip.n.file && <div className="muted tiny">{tip.n.file}</div>}
          {describe(ctx, tip.n).map((l) => (
            <div key={l}>{l}</div>
          ))}
          <div className="muted tiny">click to zoom</div>
        </div>
      )}
    </div>
  );
}

/** Sandwich shows fn's callers above it (inverted, fn at the bottom) and its callees below. */
export function Sandwich({ ctx, fn, sel, onClose }: { ctx: FlameCtx; fn: string; sel?: Record<string, string>; onClose: () => void }) {
  const s = useMemo(() => sandwich(ctx.g.root, fn, ctx.weight), [ctx, fn]);
  return (
    <section className="sandwich" data-testid="sandwich">
      <div className="toolbar small">
        <b className="mono">{fn}</b>
        <span className="muted grow">
          {s.found ? describe(ctx, s.callees).join(' · ') : 'is not in this flame graph'}
        </span>
        <button className="btn small" type="button" onClick={onClose} data-testid="sandwich-close">
          Close sandwich
        </button>
      </div>
      {s.found && (
        <>
          <h4>Callers (each calls {fn} below it)</h4>
          {s.callers.children?.length ? <Flame ctx={ctx} root={s.callers} inverted testId="sandwich-callers" /> : <div className="muted small">none: a root of its stacks</div>}
          <h4>Callees</h4>
          <Flame ctx={ctx} root={s.callees} testId="sandwich-callees" />
        </>
      )}
      {sel && <FnSpans sel={sel} fn={fn} unit={ctx.g.unit} />}
    </section>
  );
}

const cols: { key: TopSort; label: string; diff?: boolean; plain?: boolean }[] = [
  { key: 'function', label: 'Function' },
  { key: 'self', label: 'Self', plain: true },
  { key: 'total', label: 'Total', plain: true },
  { key: 'self', label: 'Self (left → right)', diff: true },
  { key: 'total', label: 'Total (left → right)', diff: true },
  { key: 'change', label: 'Change', diff: true },
];

/** TopTable lists the functions with their self and total values; a click opens the sandwich. */
export function TopTable({ ctx, rows, sort, dir, onSort, onPick, match }: {
  ctx: FlameCtx;
  rows: TopRow[];
  sort: TopSort;
  dir: 'asc' | 'desc';
  onSort: (k: TopSort) => void;
  onPick: (fn: string) => void;
  match?: ((name: string) => boolean) | null;
}) {
  const { g, diff } = ctx;
  const lt = g.left_total ?? 0;
  const rt = g.right_total ?? 0;
  const t = g.root.total || g.total;
  const shown = useMemo(() => sortTop(match ? rows.filter((r) => match(r.function)) : rows, sort, dir, lt, rt), [rows, sort, dir, lt, rt, match]);
  const u = g.unit;
  const both = (l: number, r: number) => `${fmtPercent(lt ? l / lt : 0)} → ${fmtPercent(rt ? r / rt : 0)}`;
  return (
    <table className="table top-table" data-testid="top-table">
      <thead>
        <tr>
          {cols.filter((c) => (diff ? !c.plain : !c.diff)).map((c) => (
            <th key={c.label} className={`sortable${c.key === 'function' ? '' : ' num'}`} data-testid={`top-sort-${c.key}`} onClick={() => onSort(c.key)}>
              {c.label}
              {sort === c.key ? (dir === 'desc' ? ' ↓' : ' ↑') : ''}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {shown.map((r) => {
          const c = diff ? diffChange(r, lt, rt) : null;
          return (
            <tr key={r.function} className="clickable" data-testid="top-row" data-function={r.function} data-self={r.self} data-total={r.total} data-change={c ? changeKind(c) : undefined} onClick={() => onPick(r.function)}>
              <td className="mono fn" title={r.file}>
                {r.function}
              </td>
              {c ? (
                <>
                  <td className="num">{both(r.left_self ?? 0, r.right_self ?? 0)}</td>
                  <td className="num">{both(r.left_total ?? 0, r.right_total ?? 0)}</td>
                  <td className="num" style={{ color: changeKind(c) === 'same' ? undefined : diffColor(c) }}>{fmtDelta(c.delta)}</td>
                </>
              ) : (
                <>
                  <td className="num" data-testid="top-self">
                    {fmtValue(r.self, u)} <span className="muted">{pct(r.self, t)}</span>
                  </td>
                  <td className="num" data-testid="top-total">
                    {fmtValue(r.total, u)} <span className="muted">{pct(r.total, t)}</span>
                  </td>
                </>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** FnSpans lists the spans whose samples ran fn the longest (span profiles), each linking to its own flame graph. */
function FnSpans({ sel, fn, unit }: { sel: Record<string, string>; fn: string; unit: string }) {
  const p = new URLSearchParams({ ...sel, function: fn, limit: '10' });
  const res = useAsync(`spans?${p}`, (sig) => profileGet<{ spans: { span_id: string; span_name: string; value: number }[] }>('spans', p, sig));
  const spans = res.data?.spans ?? [];
  if (!spans.length) return null;
  return (
    <div className="small" data-testid="fn-spans">
      <h4>Spans that ran {fn} the most</h4>
      {spans.map((x) => (
        <div key={x.span_id}>
          <a href={href('/profiles', { type: sel.type, from: sel.start, to: sel.end, span_id: x.span_id })} onClick={onLinkClick} className="mono" data-testid="fn-span-link">
            {x.span_name || '(unnamed)'} {x.span_id}
          </a>{' '}
          <span className="muted">{fmtValue(x.value, unit)}</span>
        </div>
      ))}
    </div>
  );
}
