import { describe, expect, it } from 'vitest';
import { parseSearch, tokenize, parseDurationMs, resolveTime, fmtDuration, severityClass } from './util';

describe('parseSearch', () => {
  it('splits free text from attribute filters', () => {
    expect(parseSearch('card declined order.id=1042 http.route!=/x code=~5.. env!~dev')).toEqual({
      text: 'card declined',
      attrs: ['order.id=1042', 'http.route!=/x', 'code=~5..', 'env!~dev'],
    });
  });
  it('keeps quoted values together', () => {
    expect(parseSearch('"payment error" msg="a b"')).toEqual({ text: 'payment error', attrs: ['msg=a b'] });
  });
  it('lets values contain =', () => {
    expect(parseSearch('q=a=b').attrs).toEqual(['q=a=b']);
  });
  it('treats a bare = as text', () => {
    expect(parseSearch('=oops')).toEqual({ text: '=oops', attrs: [] });
  });
  it('tokenizes empty quotes', () => {
    expect(tokenize('k="" x')).toEqual(['k=', 'x']);
  });
});

describe('time', () => {
  it('parses durations', () => {
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('2')).toBe(2000);
    expect(parseDurationMs('abc')).toBeNull();
  });
  it('resolves relative times', () => {
    expect(resolveTime('now-1h', 10_000_000)).toBe(10_000_000 - 3_600_000);
    expect(resolveTime('2026-11-22T12:00:00Z')).toBe(Date.UTC(2026, 10, 22, 12));
  });
  it('formats durations', () => {
    expect(fmtDuration(250_000_000)).toBe('250ms');
    expect(fmtDuration(1_500)).toBe('1.50µs');
  });
  it('classes severities', () => {
    expect(severityClass('', 17)).toBe('sev-error');
    expect(severityClass('Warning', 0)).toBe('sev-warn');
  });
});
