import { describe, expect, it } from 'vitest';
import { ALL, type VarState } from './dashboards';
import { heatColor, heatmapCells, searchRequests } from './dashpanels';

const le = (b: string, vals: number[]) => ({ metric: { le: b }, values: vals.map((v, i) => [100 + 60 * i, String(v)] as [number, string]) });

describe('heatmap', () => {
  it('sorts buckets by bound and takes each bucket count out of the cumulative ones', () => {
    const h = heatmapCells([le('+Inf', [8, 10]), le('0.5', [6, 7]), le('0.1', [1, 2]), le('1', [8, 10])], (m) => JSON.stringify(m), true);
    expect(h.rows).toEqual(['0.1', '0.5', '1', '+Inf']);
    expect(h.xs).toEqual([100, 160]);
    expect(h.cells).toEqual([
      [1, 2],
      [5, 5],
      [2, 3],
      [0, 0],
    ]);
    expect(h.max).toBe(5);
    expect(h.sums).toEqual([3, 10, 5, 0]);
  });
  it('adds series of the same bound, and keeps series without le as they are', () => {
    const h = heatmapCells([le('1', [1]), le('1', [2])], () => '', true);
    expect(h.cells).toEqual([[3]]);
    const named = heatmapCells([{ metric: { x: 'b' }, values: [[1, '4']] }, { metric: { x: 'a' }, values: [[1, '9']] }], (m) => m.x, true);
    expect(named.rows).toEqual(['a', 'b']);
    expect(named.cells).toEqual([[9], [4]]);
    // A series with neither values nor histograms gives a row without cells.
    expect(heatmapCells([{ metric: { le: '1' } }], () => '', true).xs).toEqual([]);
  });
  it('draws native histograms: a row per bucket upper bound, each cell the bucket\'s own count', () => {
    const h = heatmapCells(
      [
        { metric: {}, histograms: [
          [100, { count: '6', sum: '2', buckets: [[0, '0.25', '0.5', '1'], [0, '0.5', '1', '5']] }],
          [160, { count: '3', sum: '4', buckets: [[0, '1', '2', '3']] }],
        ] },
        // A second series (not summed) adds to the same buckets.
        { metric: { pod: 'b' }, histograms: [[100, { count: '2', sum: '1', buckets: [[0, '0.5', '1', '2']] }]] },
      ],
      () => '',
      true,
    );
    expect(h.rows).toEqual(['0.5', '1', '2']);
    expect(h.xs).toEqual([100, 160]);
    expect(h.cells).toEqual([
      [1, NaN],
      [7, NaN],
      [NaN, 3],
    ]);
    expect(h.max).toBe(7);
  });
  it('colours by value on the scheme, leaving empty cells undrawn', () => {
    expect(heatColor(0, 10)).toBeNull();
    expect(heatColor(10, 10)).toBe('rgb(254, 230, 206)'); // the light end of Oranges
    expect(heatColor(10, 10, { scheme: 'Blues' })).toBe('rgb(222, 235, 247)');
    expect(heatColor(5, 10, { scale: 'linear' })).toBe('rgb(253, 141, 60)');
    expect(heatColor(10, 10, { mode: 'opacity' })).toBe('rgba(255, 120, 10, 1.000)');
  });
});

describe('search panels', () => {
  const vars = new Map<string, VarState>([
    ['service', { v: { type: 'query', name: 'service', multi: true, includeAll: true }, options: ['a', 'b', 'c'], selected: ['a', 'b'] }],
    ['all', { v: { type: 'query', name: 'all', includeAll: true }, options: ['x'], selected: [ALL] }],
    ['env', { v: { type: 'custom', name: 'env' }, options: ['prod'], selected: ['prod'] }],
  ]);
  const q = (s: string) => searchRequests(s, vars, {}).map((p) => p.toString());
  it('substitutes variables, one request per selected value', () => {
    expect(q('service=$service&errors=true')).toEqual(['service=a&errors=true', 'service=b&errors=true']);
    expect(q('environment=${env}&q=time%20out')).toEqual(['environment=prod&q=time+out']);
  });
  it('leaves out a parameter whose variable is All, and empty ones', () => {
    expect(q('service=$all&status=unresolved&release=')).toEqual(['status=unresolved']);
  });
  it('keeps attr filters as repeated parameters of every request', () => {
    expect(q('attr=http.route%3D%2Fcheckout&attr=k%3D$env')).toEqual(['attr=http.route%3D%2Fcheckout&attr=k%3Dprod']);
  });
});
