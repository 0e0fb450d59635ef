import { describe, expect, it } from 'vitest';
import {
  alignSeries, changeKind, diffChange, diffColor, findPath, fmtValue, formatSelector, labelValue, layoutFlame, matchedShare, packageOf,
  parseSelector, previousRange, sandwich, searchMatcher, sortTop, weigher, withLabel, type FlameGraph, type FlameNode,
} from './profile';

// main.main -> work (self 60) -> hash (self 20); main.main -> alloc (self 10); gc (self 10).
function n(name: string, self: number, children: FlameNode[] = []): FlameNode {
  return { name, self, total: self + children.reduce((s, c) => s + c.total, 0), children };
}
const tree = (): FlameNode => n('total', 0, [n('main.main', 0, [n('main.work', 60, [n('crypto/sha256.block', 20)]), n('main.alloc', 10)]), n('runtime.gcBgMarkWorker', 10)]);
const graph = (): FlameGraph => {
  const root = tree();
  return { type: 'cpu', unit: 'nanoseconds', total: root.total, root, top: [] };
};

describe('layoutFlame', () => {
  it('places the root on top and children left to right by their share', () => {
    const g = graph();
    const rects = layoutFlame(g.root, weigher(g));
    const by = Object.fromEntries(rects.map((r) => [r.node.name, r]));
    expect(rects.length).toBe(6);
    expect(by.total).toMatchObject({ depth: 0, x: 0, w: 1 });
    expect(by['main.main']).toMatchObject({ depth: 1, x: 0, w: 0.9, path: ['main.main'] });
    expect(by['runtime.gcBgMarkWorker']).toMatchObject({ depth: 1 });
    expect(by['runtime.gcBgMarkWorker'].x).toBeCloseTo(0.9);
    expect(by['main.work']).toMatchObject({ depth: 2, x: 0, w: 0.8 });
    expect(by['main.alloc'].x).toBeCloseTo(0.8);
    expect(by['crypto/sha256.block']).toMatchObject({ depth: 3, w: 0.2, path: ['main.main', 'main.work', 'crypto/sha256.block'] });
  });
  it('zooms: the focused frame spans the width, its callers stay above it, its siblings go', () => {
    const g = graph();
    const rects = layoutFlame(g.root, weigher(g), ['main.main', 'main.work']);
    expect(rects.map((r) => [r.node.name, r.depth, r.ancestor])).toEqual([
      ['total', 0, true], ['main.main', 1, true], ['main.work', 2, false], ['crypto/sha256.block', 3, false],
    ]);
    expect(rects[2].w).toBe(1);
    expect(rects[3].w).toBeCloseTo(0.25);
  });
  it('stops at the deepest frame of a path that no longer exists, and drops narrow frames', () => {
    const g = graph();
    expect(findPath(g.root, ['main.main', 'gone', 'x']).map((f) => f.name)).toEqual(['total', 'main.main']);
    const rects = layoutFlame(g.root, weigher(g), [], 0.15);
    expect(rects.map((r) => r.node.name)).toEqual(['total', 'main.main', 'main.work', 'crypto/sha256.block']);
  });
});

describe('search', () => {
  it('matches substrings case-insensitively and /regular expressions/', () => {
    expect(searchMatcher('')).toBeNull();
    expect(searchMatcher('WORK')!('main.work')).toBe(true);
    expect(searchMatcher('/^main\\.(work|alloc)$/')!('main.alloc')).toBe(true);
    expect(searchMatcher('/^main\\.(work|alloc)$/')!('main.main')).toBe(false);
    expect(searchMatcher('/(/')!('anything')).toBe(false);
  });
  it('counts the share of the outermost matches once', () => {
    const g = graph();
    expect(matchedShare(g.root, searchMatcher('main.work')!, weigher(g))).toBeCloseTo(0.8);
    // main.main contains every other main.* frame: 90%, not 90 + 80 + 10.
    expect(matchedShare(g.root, searchMatcher('main.')!, weigher(g))).toBeCloseTo(0.9);
    expect(matchedShare(g.root, searchMatcher('sha256|gc')!, weigher(g))).toBe(0);
    expect(matchedShare(g.root, searchMatcher('/sha256|gc/')!, weigher(g))).toBeCloseTo(0.3);
  });
});

describe('sandwich', () => {
  it('merges the callees of every call and inverts the callers', () => {
    // hash is called from work and from alloc.
    const root = n('total', 0, [n('main.main', 0, [n('main.work', 10, [n('hash', 30, [n('memmove', 5)])]), n('main.alloc', 0, [n('hash', 15)])])]);
    const g: FlameGraph = { type: 'cpu', unit: 'nanoseconds', total: root.total, root, top: [] };
    const s = sandwich(root, 'hash', weigher(g));
    expect(s.found).toBe(true);
    expect(s.callees).toMatchObject({ name: 'hash', self: 45, total: 50 });
    expect(s.callees.children!.map((c) => [c.name, c.total])).toEqual([['memmove', 5]]);
    expect(s.callers).toMatchObject({ name: 'hash', total: 50 });
    expect(s.callers.children!.map((c) => [c.name, c.total])).toEqual([['main.work', 35], ['main.alloc', 15]]);
    const work = s.callers.children![0];
    expect(work.children!.map((c) => [c.name, c.total, c.self])).toEqual([['main.main', 35, 35]]);
    expect(work.self).toBe(0);
  });
  it('counts a recursive function once, at its outermost call', () => {
    const root = n('total', 0, [n('walk', 1, [n('walk', 2, [n('walk', 3)])])]);
    const g: FlameGraph = { type: 'cpu', unit: 'count', total: 6, root, top: [] };
    const s = sandwich(root, 'walk', weigher(g));
    expect(s.callees).toMatchObject({ total: 6, self: 1 });
    expect(s.callees.children![0]).toMatchObject({ name: 'walk', total: 5 });
    expect(s.callers.children ?? []).toEqual([]);
    expect(sandwich(root, 'nope', weigher(g)).found).toBe(false);
  });
  it('sums both sides of a diff', () => {
    const root: FlameNode = { name: 'total', self: 0, total: 0, left_total: 10, right_total: 20, children: [
      { name: 'a', self: 0, total: 0, left_self: 4, left_total: 10, right_self: 5, right_total: 20, children: [
        { name: 'f', self: 0, total: 0, left_self: 6, left_total: 6, right_self: 15, right_total: 15 }] }] };
    const g: FlameGraph = { type: 'cpu', unit: 'count', total: 0, left_total: 10, right_total: 20, root, top: [] };
    const s = sandwich(root, 'f', weigher(g));
    expect(s.callers.children![0]).toMatchObject({ name: 'a', left_total: 6, right_total: 15, left_self: 6, right_self: 15 });
  });
});

describe('diff', () => {
  it('colours by the change of each side\'s share: red grew, green shrank, grey same', () => {
    expect(diffChange({ left_total: 10, right_total: 40 }, 100, 200)).toMatchObject({ left: 0.1, right: 0.2, rel: 1 });
    expect(changeKind(diffChange({ left_total: 10, right_total: 40 }, 100, 200))).toBe('grew');
    expect(changeKind(diffChange({ left_total: 50, right_total: 50 }, 100, 200))).toBe('shrank');
    // Twice the samples on each side is the same share.
    expect(changeKind(diffChange({ left_total: 30, right_total: 60 }, 100, 200))).toBe('same');
    expect(diffChange({ left_total: 0, right_total: 5 }, 100, 200).rel).toBe(Infinity);
    expect(diffColor(diffChange({ left_total: 0, right_total: 5 }, 100, 200))).toBe('rgb(229,72,77)');
    expect(diffColor(diffChange({ left_total: 5, right_total: 0 }, 100, 200))).toBe('rgb(48,164,108)');
    expect(diffColor(diffChange({ left_total: 30, right_total: 60 }, 100, 200))).toBe('rgb(140,145,155)');
  });
  it('weighs a diff frame by the mean of its two shares', () => {
    const g: FlameGraph = { type: 'x', unit: 'count', total: 0, left_total: 100, right_total: 200, root: { name: 'total', self: 0, total: 0 }, top: [] };
    expect(weigher(g)({ name: 'f', self: 0, total: 0, left_total: 10, right_total: 60 })).toBeCloseTo(0.2);
  });
  it('sorts the top table by change, self, total or name', () => {
    const rows = [
      { function: 'a', self: 0, total: 0, left_total: 50, right_total: 50, left_self: 1, right_self: 1 },
      { function: 'b', self: 0, total: 0, left_total: 10, right_total: 80, left_self: 1, right_self: 9 },
    ];
    expect(sortTop(rows, 'change', 'desc', 100, 200).map((r) => r.function)).toEqual(['b', 'a']);
    expect(sortTop(rows, 'self', 'desc', 100, 200).map((r) => r.function)).toEqual(['b', 'a']);
    expect(sortTop([{ function: 'x', self: 1, total: 9 }, { function: 'y', self: 5, total: 6 }], 'self', 'desc').map((r) => r.function)).toEqual(['y', 'x']);
    expect(sortTop([{ function: 'x', self: 1, total: 9 }, { function: 'y', self: 5, total: 6 }], 'total', 'asc').map((r) => r.function)).toEqual(['y', 'x']);
    expect(sortTop([{ function: 'b', self: 1, total: 1 }, { function: 'a', self: 1, total: 1 }], 'function', 'asc').map((r) => r.function)).toEqual(['a', 'b']);
  });
});

describe('selectors and formatting', () => {
  it('parses, edits and writes label selectors', () => {
    expect(parseSelector('{service_name="api", env=~"prod|stage"}')).toEqual([
      { name: 'service_name', op: '=', value: 'api' }, { name: 'env', op: '=~', value: 'prod|stage' },
    ]);
    expect(parseSelector('')).toEqual([]);
    expect(parseSelector('service_name=api')).toBeNull();
    expect(parseSelector('{a="b" c="d"}')).toBeNull();
    expect(formatSelector([{ name: 'a', op: '!=', value: 'say "hi"' }])).toBe('{a!="say \\"hi\\""}');
    expect(withLabel('{env="prod"}', 'service_name', 'api')).toBe('{env="prod", service_name="api"}');
    expect(withLabel('{service_name="api"}', 'service_name', '')).toBe('');
    expect(labelValue('{env="prod", service_name="api"}', 'service_name')).toBe('api');
  });
  it('writes values in their unit and finds packages', () => {
    expect(fmtValue(1.5e9, 'nanoseconds')).toBe('1.50s');
    expect(fmtValue(3 * 1024 * 1024, 'bytes')).toBe('3.0 MiB');
    expect(fmtValue(12, 'count')).toBe('12');
    expect(packageOf('net/http.(*conn).serve')).toBe('net/http');
    expect(packageOf('main.work')).toBe('main');
  });
  it('aligns series on one time axis', () => {
    expect(alignSeries([{ labels: {}, points: [[1000, 1], [3000, 3]] }, { labels: {}, points: [[2000, 2]] }])).toEqual([[1, 2, 3], [1, null, 3], [null, 2, null]]);
  });
});

describe('previousRange', () => {
  it('is the range of the same length just before', () => {
    expect(previousRange({ from: 'now-1h', to: 'now' })).toEqual({ from: 'now-2h', to: 'now-1h' });
    expect(previousRange({ from: '2026-01-01T10:00:00Z', to: '2026-01-01T11:00:00Z' })).toEqual({ from: '2026-01-01T09:00:00Z', to: '2026-01-01T10:00:00Z' });
  });
});
