import { describe, expect, it } from 'vitest';
import {
  alignSeries, changeLevel, compareOrder, drift, durationSeries, elapsedSeconds, fmtBytes, fmtDelta, fmtRatio,
  fmtResource, fmtSeconds, groupChanges, LOST_WHY, lostTitle, matchPackage, medianOf, openEnded, parseTags, runProfileSel, samplesToSeries, statusColors, statusIcons, statuses, type RunSummary,
} from './runs';

const run = (start: string, dur: number | undefined, status = 'succeeded', id = start): RunSummary => ({
  run_id: id, name: 'train', status, start_time: start, duration_seconds: dur, host: 'n1',
});

describe('formatting', () => {
  it('bytes in binary units', () => {
    expect(fmtBytes(0)).toBe('0 B');
    expect(fmtBytes(1023)).toBe('1023 B');
    expect(fmtBytes(1536)).toBe('1.50 KiB');
    expect(fmtBytes(25 * 1024 * 1024)).toBe('25.0 MiB');
    expect(fmtBytes(3 * 1024 ** 3)).toBe('3.00 GiB');
    expect(fmtBytes(undefined)).toBe('–');
  });
  it('seconds', () => {
    expect(fmtSeconds(0.35)).toBe('350ms');
    expect(fmtSeconds(12.34)).toBe('12.3s');
    expect(fmtSeconds(303)).toBe('5m3s');
    expect(fmtSeconds(6 * 3600)).toBe('6h0m');
    expect(fmtSeconds(2 * 86400 + 3600)).toBe('2d1h');
    expect(fmtSeconds(-2)).toBe('-2.00s');
  });
  it('resources by unit, deltas and ratios', () => {
    expect(fmtResource('duration_seconds', 7200)).toBe('2h0m');
    expect(fmtResource('peak_rss_bytes', 2 * 1024 ** 3)).toBe('2.00 GiB');
    expect(fmtResource('cpu_percent_mean', 98.76)).toBe('98.8%');
    expect(fmtResource('max_threads', 12)).toBe('12');
    expect(fmtDelta('duration_seconds', 14400)).toBe('+4h0m');
    expect(fmtDelta('read_bytes', -2048)).toBe('-2.00 KiB');
    expect(fmtDelta('max_threads', 0)).toBe('0');
    expect(fmtRatio(3)).toBe('×3.00');
    expect(fmtRatio(12.345)).toBe('×12.3');
    expect(fmtRatio(undefined)).toBe('–');
  });
});

describe('changeLevel', () => {
  const f = (key: string, a: number, b: number) => changeLevel({ key, a, b, delta: b - a, ratio: a ? b / a : undefined });
  it('flags doubling and halving as big', () => {
    expect(f('duration_seconds', 7200, 21600)).toBe('big-up');
    expect(f('duration_seconds', 7200, 3000)).toBe('big-down');
    expect(f('peak_rss_bytes', 100 << 20, 130 << 20)).toBe('some-up');
    expect(f('peak_rss_bytes', 100 << 20, 70 << 20)).toBe('some-down');
    expect(f('duration_seconds', 100, 110)).toBe('');
  });
  it('ignores tiny absolute values and treats growth from zero as big', () => {
    expect(f('duration_seconds', 0.01, 0.5)).toBe('');
    expect(f('read_bytes', 0, 50 << 20)).toBe('big-up');
    expect(f('max_threads', 0, 0)).toBe('');
  });
});

describe('grouping and search', () => {
  it('groups consecutive changes by section', () => {
    const g = groupChanges([
      { section: 'host', key: 'hostname', a: 'a', b: 'b' },
      { section: 'host', key: 'kernel_version', a: '1', b: '2' },
      { section: 'git', key: 'commit', a: 'x', b: 'y' },
    ]);
    expect(g.map(([s, c]) => [s, c.length])).toEqual([['host', 2], ['git', 1]]);
  });
  it('matches packages by name or name==version', () => {
    expect(matchPackage({ name: 'NumPy', version: '2.0.1' }, 'numpy')).toBe(true);
    expect(matchPackage({ name: 'numpy', version: '2.0.1' }, 'numpy==2')).toBe(true);
    expect(matchPackage({ name: 'scipy', version: '1.13' }, 'numpy')).toBe(false);
    expect(matchPackage({ name: 'scipy', version: '1.13' }, '  ')).toBe(true);
  });
  it('parses tags', () => {
    expect(parseTags(' lr=0.1, dataset=v3  x=a=b ')).toEqual(['lr=0.1', 'dataset=v3', 'x=a=b']);
    expect(parseTags('')).toEqual([]);
  });
});

describe('duration over time', () => {
  it('sorts by start, splits by status, leaves out running runs', () => {
    const s = durationSeries([
      run('2026-11-03T00:00:00Z', 30, 'failed'),
      run('2026-11-01T00:00:00Z', 10),
      run('2026-11-04T00:00:00Z', undefined, 'running'),
      run('2026-11-02T00:00:00Z', 20),
    ]);
    expect(s.xs).toEqual([1793491200, 1793577600, 1793664000]);
    expect(s.byStatus.succeeded).toEqual([10, 20, null]);
    expect(s.byStatus.failed).toEqual([null, null, 30]);
    expect(s.byStatus.killed).toEqual([null, null, null]);
    expect(s.median).toEqual([10, 15, 20]);
  });
  it('median of a window', () => {
    expect(medianOf([3, 1, 2])).toBe(2);
    expect(medianOf([4, 1, 2, 3])).toBe(2.5);
    expect(medianOf([])).toBeNaN();
  });
  it('drift compares the newest third with the oldest', () => {
    const runs = [2, 2.1, 1.9, 4, 6, 6.2].map((h, i) => run(`2026-11-0${i + 1}T00:00:00Z`, h * 3600));
    const d = drift(runs)!;
    expect(d.before).toBeCloseTo(2.05 * 3600);
    expect(d.after).toBeCloseTo(6.1 * 3600);
    expect(d.ratio).toBeCloseTo(6.1 / 2.05);
    expect(drift(runs.slice(0, 5))).toBeNull();
  });
});

describe('samples and metrics', () => {
  it('samples become columns sorted by t', () => {
    const s = samplesToSeries([
      { t: 2, cpu_percent: 50, rss_bytes: 20, read_bytes: 5, write_bytes: 1, threads: 1, processes: 1, max_hwm_bytes: 25 },
      { t: 1, cpu_percent: 100, rss_bytes: 10, read_bytes: 0, write_bytes: 0, threads: 1, processes: 1, max_hwm_bytes: 10 },
    ]);
    expect(s.t).toEqual([1, 2]);
    expect(s.cpu).toEqual([100, 50]);
    expect(s.hwm).toEqual([10, 25]);
  });
  it('aligns Prometheus series on one axis relative to the start', () => {
    const cols = alignSeries(100, [[[101, '0.5'], [102, '1']], [[102, '7']], undefined], [100]);
    expect(cols).toEqual([[1, 2], [50, 100], [null, 7], [null, null]]);
  });
});

describe('runs helpers', () => {
  it('elapsed time of running and finished runs', () => {
    const now = Date.parse('2026-11-01T00:01:00Z');
    expect(elapsedSeconds({ status: 'running', start_time: '2026-11-01T00:00:00Z' }, now)).toBe(60);
    expect(elapsedSeconds({ status: 'failed', start_time: '2026-11-01T00:00:00Z', duration_seconds: 5 }, now)).toBe(5);
  });
  it('compare puts the older run first', () => {
    const a = run('2026-11-05T00:00:00Z', 1, 'succeeded', 'new');
    const b = run('2026-11-01T00:00:00Z', 1, 'succeeded', 'old');
    expect(compareOrder(a, b).map((r) => r.run_id)).toEqual(['old', 'new']);
    expect(compareOrder(b, a).map((r) => r.run_id)).toEqual(['old', 'new']);
  });
});

describe('runProfileSel', () => {
  it('selects the run by loupe_run_id over its time, a minute either side', () => {
    const r = { run_id: 'ab12', status: 'succeeded', start_time: '2026-01-02T03:04:05Z', duration_seconds: 30 };
    expect(runProfileSel(r)).toEqual({ query: '{loupe_run_id="ab12"}', from: '2026-01-02T03:03:05.000Z', to: '2026-01-02T03:05:35.000Z' });
    expect(runProfileSel({ ...r, status: 'running' }).to).toBe('now');
  });
});

describe('lost runs', () => {
  it('says since when and why', () => {
    const t = lostTitle({ start_time: '2026-11-01T00:00:00Z', lost_after: '2026-11-01T00:01:30Z' });
    expect(t).toContain('lost since ' + new Date('2026-11-01T00:01:30Z').toLocaleString());
    expect(t).toContain(LOST_WHY);
  });
  it('uses the last heartbeat of a record, else its start', () => {
    expect(lostTitle({ start_time: '2026-11-01T00:00:00Z', heartbeat_time: '2026-11-01T00:05:00Z' })).toContain(
      'last heartbeat ' + new Date('2026-11-01T00:05:00Z').toLocaleString(),
    );
    expect(lostTitle({ start_time: '2026-11-01T00:00:00Z' })).toContain('last heartbeat ' + new Date('2026-11-01T00:00:00Z').toLocaleString());
  });
  it('is a status of the filter, with a colour and an icon', () => {
    expect(statuses).toContain('lost');
    expect(statusColors.lost).toBeTruthy();
    expect(statusIcons.lost).toBeTruthy();
  });
});

describe('open-ended runs', () => {
  it('a lost run has no end: its time and profile range run to now', () => {
    const r = { run_id: 'x', status: 'lost', start_time: '2026-11-01T00:00:00Z', end_time: '0001-01-01T00:00:00Z', duration_seconds: 0 };
    expect(openEnded('lost') && openEnded('running') && !openEnded('killed')).toBe(true);
    expect(elapsedSeconds(r, Date.parse('2026-11-01T00:01:00Z'))).toBe(60);
    expect(runProfileSel(r).to).toBe('now');
  });
});
