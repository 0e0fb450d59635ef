import { describe, expect, it } from 'vitest';
import {
  barHeights, bucketCount, rebucket, contextLines, crashFrame, denseSeries, exceptionChain, fmtAgo, frameGroups, issuesAPIParams,
  issuesBySpan, issuesFilterFromParams, logsWindow, statusActions, statusBody, type Frame, type TraceEvents,
} from './errors';

const lib = (fn: string): Frame => ({ function: fn, module: 'flask.app' });
const app = (fn: string, lineno = 1): Frame => ({ function: fn, module: 'shop.views', in_app: true, lineno });
const fns = (items: ReturnType<typeof frameGroups>) =>
  items.map((it) => (it.kind === 'frame' ? it.frame.function : `[${it.frames.map((f) => f.frame.function).join(',')}]`));

describe('frameGroups', () => {
  // Stored outermost first: main -> dispatch -> handler (app) -> helper (app) -> json.loads -> decode
  const frames = [lib('main'), lib('dispatch'), app('handler'), app('helper'), lib('loads'), lib('decode')];
  it('shows the crashing frame first and collapses each run of library frames', () => {
    expect(fns(frameGroups(frames, true))).toEqual(['[decode,loads]', 'helper', 'handler', '[dispatch,main]']);
  });
  it('keeps the stored order oldest first on request', () => {
    expect(fns(frameGroups(frames, false))).toEqual(['[main,dispatch]', 'handler', 'helper', '[loads,decode]']);
  });
  it('keeps the stored index of every frame', () => {
    const items = frameGroups(frames, true);
    expect(items[0].kind === 'library' && items[0].frames.map((f) => f.index)).toEqual([5, 4]);
    expect(items[1].kind === 'frame' && items[1].index).toBe(3);
  });
  it('shows every frame when none is in-app', () => {
    expect(fns(frameGroups([lib('a'), lib('b')], true))).toEqual(['b', 'a']);
  });
  it('a single library frame between app frames is its own group', () => {
    expect(fns(frameGroups([app('a'), lib('b'), app('c')], true))).toEqual(['c', '[b]', 'a']);
  });
  it('no frames', () => {
    expect(frameGroups(undefined, true)).toEqual([]);
    expect(crashFrame(undefined)).toBe(-1);
  });
  it('opens the innermost in-app frame, else the innermost', () => {
    expect(crashFrame(frames)).toBe(3);
    expect(crashFrame([lib('a'), lib('b')])).toBe(1);
  });
});

describe('exceptions and context', () => {
  it('the raised exception comes first, then its causes', () => {
    expect(exceptionChain([{ type: 'KeyError' }, { type: 'ValueError' }, { type: 'RuntimeError' }]).map((e) => e.type)).toEqual(['RuntimeError', 'ValueError', 'KeyError']);
    expect(exceptionChain(undefined)).toEqual([]);
  });
  it('numbers the context lines around the frame line', () => {
    const f: Frame = { lineno: 12, pre_context: ['a', 'b'], context_line: 'c', post_context: ['d'] };
    expect(contextLines(f)).toEqual([
      { lineno: 10, text: 'a', current: false },
      { lineno: 11, text: 'b', current: false },
      { lineno: 12, text: 'c', current: true },
      { lineno: 13, text: 'd', current: false },
    ]);
    expect(contextLines({ context_line: 'x' })).toEqual([{ lineno: null, text: 'x', current: true }]);
    expect(contextLines({ lineno: 3 })).toEqual([]);
  });
});

describe('sparklines', () => {
  const start = '2026-11-22T09:00:01Z';
  it('places sparse buckets by their start', () => {
    const b = [
      { start: '2026-11-22T09:00:01Z', count: 2 },
      { start: '2026-11-22T11:00:01Z', count: 5 },
      { start: '2026-11-22T13:00:01Z', count: 1 }, // past the 4 slots
      { start: '2026-11-22T08:00:01Z', count: 9 }, // before the start
    ];
    expect(denseSeries(b, start, 3600, 4)).toEqual([2, 0, 5, 0]);
    expect(denseSeries(undefined, start, 3600, 3)).toEqual([0, 0, 0]);
    expect(denseSeries(b, 'bad', 3600, 2)).toEqual([0, 0]);
  });
  it('counts the buckets of a range', () => {
    expect(bucketCount('2026-11-21T12:00:00Z', '2026-11-22T12:00:00Z', 3600)).toBe(24);
    expect(bucketCount('2026-11-22T06:00:01Z', '2026-11-22T12:00:01Z', 900)).toBe(24);
    expect(bucketCount('2026-11-22T00:00:00Z', '2026-11-22T00:00:10Z', 3)).toBe(4);
    expect(bucketCount('2026-11-22T00:00:00Z', '2026-11-22T00:00:00Z', 3)).toBe(0);
  });
  it('sums hourly buckets into days, the newest day whole', () => {
    expect(rebucket([1, 2, 3, 4, 5, 6], 3)).toEqual([6, 15]);
    expect(rebucket([1, 2, 3, 4, 5], 3)).toEqual([3, 12]);
    expect(rebucket([1, 2], 1)).toEqual([1, 2]);
    expect(rebucket([], 24)).toEqual([]);
  });
  it('scales bars to the largest count and keeps small counts visible', () => {
    expect(barHeights([0, 1, 50, 100], 20)).toEqual([0, 1, 10, 20]);
    expect(barHeights([1, 1000], 20)).toEqual([1, 20]);
    expect(barHeights([1, 1000], 20, undefined, 2)).toEqual([2, 20]);
    expect(barHeights([0, 0], 20)).toEqual([0, 0]);
    expect(barHeights([5, 10], 20, 40)).toEqual([2.5, 5]);
    expect(barHeights([80], 20, 40)).toEqual([20]);
  });
});

describe('list state', () => {
  it('defaults to unresolved issues of the last 24 hours by last seen', () => {
    const f = issuesFilterFromParams(new URLSearchParams());
    expect(f.status).toBe('unresolved');
    expect(f.sort).toBe('last_seen');
    expect(f.range).toEqual({ from: 'now-24h', to: 'now' });
    expect(issuesAPIParams(f, 100).toString()).toBe('start=now-24h&end=now&limit=100&status=unresolved');
  });
  it('passes every filter to the API; "all" does not filter by status', () => {
    const f = issuesFilterFromParams(new URLSearchParams('service=shop&environment=prod&release=1.2&status=all&q=%20zero%20&sort=events&from=now-7d'));
    expect(Object.fromEntries(issuesAPIParams(f, 50))).toEqual({ start: 'now-7d', end: 'now', limit: '50', service: 'shop', environment: 'prod', release: '1.2', q: 'zero', sort: 'events' });
  });
});

describe('status', () => {
  it('offers what the status allows', () => {
    expect(statusActions({ status: 'unresolved' })).toEqual(['resolve', 'resolve-next', 'ignore']);
    expect(statusActions({ status: 'regressed' })).toEqual(['resolve', 'resolve-next', 'ignore']);
    expect(statusActions({ status: 'resolved' })).toEqual(['unresolve']);
    expect(statusActions({ status: 'ignored' })).toEqual(['unresolve']);
  });
  it('writes the API bodies', () => {
    expect(statusBody('resolve-next')).toEqual({ status: 'resolved', in_next_release: true });
    expect(statusBody('ignore', '24h')).toEqual({ status: 'ignored', ignore_duration: '24h' });
    expect(statusBody('ignore')).toEqual({ status: 'ignored' });
    expect(statusBody('unresolve')).toEqual({ status: 'unresolved' });
  });
});

describe('times and links', () => {
  it('says how long ago', () => {
    const now = Date.parse('2026-11-22T12:00:00Z');
    expect(fmtAgo(now - 30_000, now)).toBe('just now');
    expect(fmtAgo(now - 5 * 60_000, now)).toBe('5m ago');
    expect(fmtAgo(now - 3 * 3600_000, now)).toBe('3h ago');
    expect(fmtAgo(now - 2 * 86400_000, now)).toBe('2d ago');
  });
  it('the logs window surrounds the event on whole seconds', () => {
    expect(logsWindow('2026-11-22T12:00:00.250Z')).toEqual({ from: '2026-11-22T11:55:00Z', to: '2026-11-22T12:05:01Z' });
    expect(logsWindow('2026-11-22T12:00:00Z', '1m')).toEqual({ from: '2026-11-22T11:59:00Z', to: '2026-11-22T12:01:00Z' });
    expect(logsWindow(undefined)).toBeNull();
  });
  it('maps a trace\'s spans to their issues, each once', () => {
    const is = (id: string) => ({ id, title: id, status: 'unresolved', first_seen: '', last_seen: '', events: 1, users: 0, releases: [], environments: [] });
    const te: TraceEvents = {
      events: [
        { event_id: '1', span_id: 's1', group_id: 'a' },
        { event_id: '2', span_id: 's1', group_id: 'a' },
        { event_id: '3', span_id: 's1', group_id: 'b' },
        { event_id: '4', span_id: 's2', group_id: 'gone' },
        { event_id: '5', group_id: 'a' },
      ],
      issues: { a: is('a'), b: is('b') },
    };
    const m = issuesBySpan(te);
    expect([...m.keys()]).toEqual(['s1']);
    expect(m.get('s1')!.map((x) => x.id)).toEqual(['a', 'b']);
  });
});
