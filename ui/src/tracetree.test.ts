import { describe, expect, it } from 'vitest';
import { buildTree, visibleRows } from './tracetree';
import type { Span } from './api';

function span(id: string, parent: string | undefined, start: number, end: number, error = false): Span {
  const base = 1_700_000_000_000_000_000n;
  return {
    span_id: id, parent_span_id: parent, name: id, kind: 'server', service: 'svc',
    start_unix_nano: String(base + BigInt(start) * 1_000_000n), end_unix_nano: String(base + BigInt(end) * 1_000_000n),
    duration_ns: (end - start) * 1e6, status: { code: error ? 'error' : 'unset' },
    attributes: {}, resource: {}, scope: {}, events: [], links: [],
  };
}

describe('buildTree', () => {
  it('nests spans and orders them depth first', () => {
    const t = buildTree([span('a', undefined, 0, 100), span('c', 'a', 50, 90), span('b', 'a', 10, 40), span('d', 'b', 20, 30)]);
    expect(visibleRows(t, new Set()).map((n) => `${n.span.span_id}${n.depth}`)).toEqual(['a0', 'b1', 'd2', 'c1']);
    expect(visibleRows(t, new Set(['b'])).map((n) => n.span.span_id)).toEqual(['a', 'b', 'c']);
    expect(t.durationMs).toBe(100);
  });
  it('marks the critical path', () => {
    // a: 0-100, b: 10-40 and c: 50-90 run in sequence, e overlaps c and ends earlier.
    const t = buildTree([span('a', undefined, 0, 100), span('b', 'a', 10, 40), span('c', 'a', 50, 90), span('e', 'a', 45, 60)]);
    const crit = [...t.byId.values()].filter((n) => n.critical).map((n) => n.span.span_id).sort();
    expect(crit).toEqual(['a', 'b', 'c']);
  });
  it('treats spans with a missing parent as roots', () => {
    const t = buildTree([span('x', 'gone', 0, 10), span('y', 'x', 1, 2)]);
    expect(t.roots.map((n) => n.span.span_id)).toEqual(['x']);
  });
  it('handles a 10,000-deep chain', () => {
    const spans = [span('0', undefined, 0, 20000)];
    for (let i = 1; i < 10000; i++) spans.push(span(String(i), String(i - 1), i, 20000 - i));
    const t = buildTree(spans);
    expect(visibleRows(t, new Set()).length).toBe(10000);
  });
});
