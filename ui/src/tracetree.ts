// The span tree of a trace: parent/child links, depth-first order, and the critical path.
import type { Span } from './api';

export interface Node {
  span: Span;
  start: number; // ms since the trace start (float)
  end: number;
  depth: number;
  children: Node[];
  parent?: Node;
  critical: boolean;
  error: boolean;
}

export interface Tree {
  roots: Node[];
  byId: Map<string, Node>;
  startNs: bigint;
  durationMs: number;
}

export function buildTree(spans: Span[]): Tree {
  let startNs = spans.length ? BigInt(spans[0].start_unix_nano) : 0n;
  for (const s of spans) {
    const b = BigInt(s.start_unix_nano);
    if (b < startNs) startNs = b;
  }
  const byId = new Map<string, Node>();
  const nodes: Node[] = spans.map((span) => {
    const start = Number(BigInt(span.start_unix_nano) - startNs) / 1e6;
    const n: Node = { span, start, end: start + span.duration_ns / 1e6, depth: 0, children: [], critical: false, error: span.status.code === 'error' };
    byId.set(span.span_id, n);
    return n;
  });
  const roots: Node[] = [];
  for (const n of nodes) {
    const p = n.span.parent_span_id ? byId.get(n.span.parent_span_id) : undefined;
    if (p && p !== n) {
      n.parent = p;
      p.children.push(n);
    } else roots.push(n);
  }
  const byStart = (a: Node, b: Node) => a.start - b.start || b.end - a.end;
  roots.sort(byStart);
  let durationMs = 0;
  // Iterative depth-first walk: a 10,000-deep chain must not overflow the stack.
  const stack = roots.map((r) => r).reverse();
  while (stack.length) {
    const n = stack.pop()!;
    durationMs = Math.max(durationMs, n.end);
    n.children.sort(byStart);
    for (let i = n.children.length - 1; i >= 0; i--) {
      n.children[i].depth = n.depth + 1;
      stack.push(n.children[i]);
    }
  }
  for (const r of roots) markCritical(r);
  return { roots, byId, startNs, durationMs };
}

/**
 * markCritical marks the critical path under n: the chain of work that determined when n
 * finished. Walking back from n's end, the child that finished last before the cursor is on
 * the path; the cursor then moves to that child's start.
 */
function markCritical(root: Node) {
  const work: Node[] = [root];
  while (work.length) {
    const n = work.pop()!;
    n.critical = true;
    const kids = [...n.children].sort((a, b) => b.end - a.end);
    let cursor = n.end;
    for (const c of kids) {
      if (c.start >= cursor) continue;
      if (c.end <= cursor || c === kids[0]) {
        work.push(c);
        cursor = c.start;
      }
    }
  }
}

/** visibleRows returns the nodes in depth-first order, skipping collapsed subtrees. */
export function visibleRows(tree: Tree, collapsed: Set<string>): Node[] {
  const out: Node[] = [];
  const stack = [...tree.roots].reverse();
  while (stack.length) {
    const n = stack.pop()!;
    out.push(n);
    if (collapsed.has(n.span.span_id)) continue;
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
  }
  return out;
}

export function countDescendants(n: Node): number {
  let c = 0;
  const stack = [...n.children];
  while (stack.length) {
    const x = stack.pop()!;
    c++;
    stack.push(...x.children);
  }
  return c;
}
