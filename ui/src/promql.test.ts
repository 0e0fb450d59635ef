import { describe, expect, it } from 'vitest';
import { contextAt } from './components/PromQLInput';

describe('contextAt', () => {
  it('completes a metric name', () => {
    expect(contextAt('rate(http_req', 13)).toEqual({ kind: 'metric', word: 'http_req', from: 5 });
  });
  it('completes a label name inside braces', () => {
    expect(contextAt('up{jo', 5)).toEqual({ kind: 'label', word: 'jo', from: 3, metric: 'up' });
    expect(contextAt('up{job="a", ', 12)).toEqual({ kind: 'label', word: '', from: 12, metric: 'up' });
  });
  it('completes a label value after an operator and a quote', () => {
    expect(contextAt('up{job=~"no', 11)).toEqual({ kind: 'value', word: 'no', from: 9, metric: 'up', label: 'job' });
  });
  it('leaves braces once closed', () => {
    expect(contextAt('sum(up{job="a"}) by (', 21).kind).toBe('metric');
  });
});
