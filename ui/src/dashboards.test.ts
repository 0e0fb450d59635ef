import { describe, expect, it } from 'vitest';
import { ALL, applyRegex, builtinValues, formatUnit, formatValue, interpolate, intervalFor, nextPanelPos, parseMarkdown, parseVarQuery, select, staticOptions, thresholdColor, unsetVariables, type Variable, type VarState } from './dashboards';

const st = (v: Partial<Variable>, options: string[], selected: string[]): VarState => ({ v: { type: 'query', name: 'x', ...v }, options, selected });

describe('variables', () => {
  it('parses Grafana Prometheus variable queries', () => {
    expect(parseVarQuery('label_values(up{job="a"}, instance)')).toEqual({ kind: 'label_values', label: 'instance', match: 'up{job="a"}' });
    expect(parseVarQuery('label_values(job)')).toEqual({ kind: 'label_values', label: 'job' });
    expect(parseVarQuery('label_names()')).toEqual({ kind: 'label_names' });
    expect(parseVarQuery('query_result(up)')).toEqual({ kind: 'query_result', expr: 'up' });
    expect(parseVarQuery('metrics(.*)').kind).toBe('invalid');
  });
  it('reads custom, interval and constant values', () => {
    expect(staticOptions({ type: 'custom', name: 'c', query: 'a, b ,c\\,d' })).toEqual(['a', 'b', 'c,d']);
    expect(staticOptions({ type: 'custom', name: 'c', query: 'One : 1,Two : 2' })).toEqual(['1', '2']);
    expect(staticOptions({ type: 'interval', name: 'i', query: '1m,5m' })).toEqual(['1m', '5m']);
    expect(staticOptions({ type: 'constant', name: 'k', query: 'prod' })).toEqual(['prod']);
  });
  it('selects from the URL, else the default, else the first option', () => {
    const v: Variable = { type: 'query', name: 'r', multi: true, includeAll: true, current: { text: 'b', value: 'b' } };
    expect(select(v, ['a', 'b'], ['a', 'zz'])).toEqual(['a']);
    expect(select(v, ['a', 'b'], [])).toEqual(['b']);
    expect(select(v, ['a', 'b'], [ALL])).toEqual([ALL]);
    expect(select({ type: 'query', name: 'r' }, ['a', 'b'], ['b', 'a'])).toEqual(['b']);
    expect(select({ type: 'query', name: 'r' }, [], [])).toEqual([]);
    expect(select({ type: 'textbox', name: 't', query: 'def' }, ['def'], ['typed'])).toEqual(['typed']);
  });
  it('formats selections as Grafana does for PromQL', () => {
    expect(formatValue(st({}, ['a.b', 'c'], ['a.b']))).toBe('a.b');
    expect(formatValue(st({ multi: true }, ['a.b', 'c'], ['a.b']))).toBe('a\\.b');
    expect(formatValue(st({ multi: true }, ['a', 'c'], ['a', 'c']))).toBe('(a|c)');
    expect(formatValue(st({ includeAll: true }, ['a', 'c'], [ALL]))).toBe('(a|c)');
    expect(formatValue(st({ includeAll: true, allValue: '.*' }, ['a', 'c'], [ALL]))).toBe('.*');
    expect(formatValue(st({ includeAll: true }, [], [ALL]))).toBe('.+');
    expect(formatValue(st({ multi: true }, ['a', 'c'], ['a', 'c']), 'csv')).toBe('a,c');
  });
  it('interpolates variables and built-ins', () => {
    const vars = new Map([['job', st({ name: 'job', multi: true }, ['api', 'web'], ['api', 'web'])]]);
    const b = builtinValues({ intervalMs: 30_000, rangeMs: 3_600_000 });
    expect(interpolate('rate(x{job=~"$job"}[$__rate_interval]) ${job:pipe} [[job]] $__range $nope', vars, b)).toBe('rate(x{job=~"(api|web)"}[1m]) api|web (api|web) 1h $nope');
    expect(b.__interval).toBe('30s');
    expect(builtinValues({ intervalMs: 120_000, rangeMs: 1000 }).__rate_interval).toBe('2m15s');
  });
  it('names variables without a value', () => {
    const vars = new Map([['s', st({ name: 's' }, [], [])]]);
    expect(unsetVariables('{service_name=~"$s"}', vars)).toEqual(['s']);
    expect(unsetVariables('up', vars)).toEqual([]);
  });
  it('filters and extracts with a regex', () => {
    expect(applyRegex(['node-1', 'db-2'], '/node-(\\d)/')).toEqual(['1']);
    expect(applyRegex(['a', 'b'], '/a/')).toEqual(['a']);
  });
});

describe('panels', () => {
  it('chooses a round interval', () => {
    expect(intervalFor(3_600_000, 300)).toBe(15_000);
    expect(intervalFor(3_600_000, 300, '1m')).toBe(60_000);
  });
  it('formats units', () => {
    expect(formatUnit(1536, 'bytes')).toBe('1.50 KiB');
    expect(formatUnit(0.25, 'percentunit')).toBe('25%');
    expect(formatUnit(0.002, 's')).toBe('2 ms');
    expect(formatUnit(null, 's')).toBe('–');
    expect(formatUnit(3, 'reqps')).toBe('3 req/s');
    expect(formatUnit(20.5, 'celsius')).toBe('20.5 °C');
  });
  it('colours by thresholds', () => {
    const t = { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'red', value: 80 }] };
    expect(thresholdColor(10, t)).toBe('#56a64b');
    expect(thresholdColor(90, t)).toBe('#e02f44');
  });
  it('places a new panel beside the last row or below it', () => {
    expect(nextPanelPos([], 12, 8)).toEqual({ x: 0, y: 0, w: 12, h: 8 });
    expect(nextPanelPos([{ id: 1, type: 'stat', title: '', gridPos: { x: 0, y: 0, w: 12, h: 8 } }], 6, 8)).toEqual({ x: 12, y: 0, w: 6, h: 8 });
    expect(nextPanelPos([{ id: 1, type: 'stat', title: '', gridPos: { x: 0, y: 0, w: 20, h: 8 } }], 6, 8)).toEqual({ x: 0, y: 8, w: 6, h: 8 });
  });
});

describe('markdown', () => {
  it('draws a small subset and keeps HTML as text', () => {
    const md = parseMarkdown('# Title\n\nSome **bold** <script>alert(1)</script> and [a link](https://x.io) [bad](javascript:alert)\n\n- one\n- `two`\n\n```\ncode <b>\n```');
    expect(md[0]).toEqual({ t: 'h', level: 1, text: [{ t: 'text', s: 'Title' }] });
    expect(md[1]).toEqual({
      t: 'p',
      text: [
        { t: 'text', s: 'Some ' },
        { t: 'b', s: 'bold' },
        { t: 'text', s: ' <script>alert(1)</script> and ' },
        { t: 'a', s: 'a link', href: 'https://x.io' },
        { t: 'text', s: ' ' },
        { t: 'text', s: 'bad' },
      ],
    });
    expect(md[2]).toEqual({ t: 'ul', items: [[{ t: 'text', s: 'one' }], [{ t: 'code', s: 'two' }]] });
    expect(md[3]).toEqual({ t: 'code', text: 'code <b>' });
  });
});
