import { describe, expect, it } from 'vitest';
import { fmtSpan, serviceColor, shiftRange, zoomOutRange } from './util';

const now = Date.parse('2026-12-05T12:00:00Z');

describe('zoomOutRange', () => {
  it('doubles a relative range and keeps it relative', () => {
    expect(zoomOutRange({ from: 'now-15m', to: 'now' }, now)).toEqual({ from: 'now-30m', to: 'now' });
    expect(zoomOutRange({ from: 'now-1h', to: 'now' }, now)).toEqual({ from: 'now-2h', to: 'now' });
    expect(zoomOutRange({ from: 'now-12h', to: 'now' }, now)).toEqual({ from: 'now-1d', to: 'now' });
  });
  it('doubles an absolute range around its middle', () => {
    expect(zoomOutRange({ from: '2026-12-05T10:00:00Z', to: '2026-12-05T11:00:00Z' }, now)).toEqual({
      from: '2026-12-05T09:30:00Z',
      to: '2026-12-05T11:30:00Z',
    });
  });
  it('does not reach into the future', () => {
    expect(zoomOutRange({ from: '2026-12-05T11:00:00Z', to: '2026-12-05T11:50:00Z' }, now)).toEqual({
      from: '2026-12-05T10:20:00Z',
      to: '2026-12-05T12:00:00Z',
    });
  });
});

describe('shiftRange', () => {
  it('moves earlier by half the span, as absolute times', () => {
    expect(shiftRange({ from: 'now-1h', to: 'now' }, -1, now)).toEqual({ from: '2026-12-05T10:30:00Z', to: '2026-12-05T11:30:00Z' });
  });
  it('moves later, and back to a relative range when it reaches now', () => {
    expect(shiftRange({ from: '2026-12-05T09:00:00Z', to: '2026-12-05T10:00:00Z' }, 1, now)).toEqual({ from: '2026-12-05T09:30:00Z', to: '2026-12-05T10:30:00Z' });
    expect(shiftRange({ from: '2026-12-05T10:30:00Z', to: '2026-12-05T11:30:00Z' }, 1, now)).toEqual({ from: 'now-1h', to: 'now' });
  });
  it('leaves an invalid range alone', () => {
    expect(shiftRange({ from: 'bogus', to: 'now' }, -1, now)).toEqual({ from: 'bogus', to: 'now' });
  });
});

describe('fmtSpan', () => {
  it('uses the largest whole unit', () => {
    expect(fmtSpan(2 * 3600_000)).toBe('2h');
    expect(fmtSpan(90_000)).toBe('90s');
    expect(fmtSpan(86_400_000)).toBe('1d');
  });
});

describe('serviceColor', () => {
  it('is a pure function of the name', () => {
    expect(serviceColor('checkout')).toBe(serviceColor('checkout'));
    expect(serviceColor('checkout')).not.toBe(serviceColor('frontend'));
  });
});
