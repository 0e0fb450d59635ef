import { describe, expect, it } from 'vitest';
import {
  activeAlerts, alertsFilterFromParams, mergeRuleGroups, alertsURL, filterGroups, fmtMatcher, graphRedirect, isLogQL, matcherMatches, newSilence, parseMatcher,
  queryLink, relatedLinks, shownSilenceStates, silenceMatchers, silencesFor, sortSilences, stateCounts, type Rule, type RuleGroup, type Silence,
} from './alerts';

const rule = (over: Partial<Rule>): Rule => ({
  type: 'alerting', name: 'R', query: 'up == 0', health: 'ok', evaluationTime: 0.001, lastEvaluation: '2026-12-06T10:00:00Z', state: 'inactive', alerts: [], ...over,
});
const group = (name: string, rules: Rule[], file = '/etc/loupe/rules.yml'): RuleGroup => ({ name, file, rules, interval: 60, evaluationTime: 0.002, lastEvaluation: '2026-12-06T10:00:00Z' });

describe('URL state', () => {
  it('reads the filters and drops unknown values', () => {
    const f = alertsFilterFromParams(new URLSearchParams('q=api&state=firing&state=bogus&state=firing&type=record&silences=expired'));
    expect(f).toEqual({ q: 'api', state: ['firing'], type: 'record', silences: ['expired'] });
    expect(alertsFilterFromParams(new URLSearchParams('type=x'))).toEqual({ q: '', state: [], type: '', silences: [] });
  });
  it('writes only what differs from the defaults, and reads back the same', () => {
    expect(alertsURL({ q: ' ', state: [], type: '', silences: [] })).toBe('/alerts');
    const url = alertsURL({ q: 'api', state: ['firing', 'pending'], type: 'alert', silences: ['active', 'expired'] });
    expect(url).toBe('/alerts?q=api&state=firing&state=pending&type=alert&silences=active&silences=expired');
    expect(alertsFilterFromParams(new URL(url, 'http://x').searchParams)).toEqual({ q: 'api', state: ['firing', 'pending'], type: 'alert', silences: ['active', 'expired'] });
  });
  it('lists active and pending silences unless told otherwise', () => {
    expect(shownSilenceStates(alertsFilterFromParams(new URLSearchParams()))).toEqual(['active', 'pending']);
    expect(shownSilenceStates(alertsFilterFromParams(new URLSearchParams('silences=expired')))).toEqual(['expired']);
  });
});

describe('filterGroups', () => {
  const firing = rule({ name: 'Hot', state: 'firing', labels: { severity: 'page' }, alerts: [{ labels: { alertname: 'Hot', instance: 'db-1' }, annotations: {}, state: 'firing', value: '1' }] });
  const rec = rule({ type: 'recording', name: 'job:up:sum', query: 'sum by (job) (up)', state: undefined, alerts: undefined });
  const groups = [group('api', [firing, rule({ name: 'Cold' })]), group('records', [rec])];
  const names = (gs: RuleGroup[]) => gs.map((g) => `${g.name}:${g.rules.map((r) => r.name).join(',')}`);
  it('filters by state (alerting rules only), type and text over names, expressions and labels', () => {
    expect(names(filterGroups(groups, alertsFilterFromParams(new URLSearchParams())))).toEqual(['api:Hot,Cold', 'records:job:up:sum']);
    expect(names(filterGroups(groups, alertsFilterFromParams(new URLSearchParams('state=firing'))))).toEqual(['api:Hot']);
    expect(names(filterGroups(groups, alertsFilterFromParams(new URLSearchParams('type=record'))))).toEqual(['records:job:up:sum']);
    expect(names(filterGroups(groups, alertsFilterFromParams(new URLSearchParams('q=DB-1'))))).toEqual(['api:Hot']);
    expect(names(filterGroups(groups, alertsFilterFromParams(new URLSearchParams('q=sum%20by'))))).toEqual(['records:job:up:sum']);
    expect(names(filterGroups(groups, alertsFilterFromParams(new URLSearchParams('q=API'))))).toEqual(['api:Hot,Cold']);
  });
  it('counts alerting rules per state', () => {
    expect(stateCounts(groups)).toEqual({ firing: 1, pending: 0, inactive: 1 });
  });
});

describe('activeAlerts', () => {
  it('lists firing before pending, the longest active first', () => {
    const a = (name: string, state: string, activeAt: string) => ({ labels: { alertname: name }, annotations: {}, state, activeAt, value: '1' });
    const g = group('g', [
      rule({ name: 'A', alerts: [a('A', 'pending', '2026-12-06T09:00:00Z'), a('A', 'firing', '2026-12-06T09:30:00Z')] }),
      rule({ name: 'B', alerts: [a('B', 'firing', '2026-12-06T09:10:00Z')] }),
    ]);
    expect(activeAlerts([g]).map((x) => `${x.alert.labels.alertname}/${x.alert.state}`)).toEqual(['B/firing', 'A/firing', 'A/pending']);
  });
});

describe('isLogQL and queryLink', () => {
  it('tells LogQL from PromQL', () => {
    expect(isLogQL('sum(rate(http_requests_total{job="api"}[5m])) > 1')).toBe(false);
    expect(isLogQL('up{job="x"} != 1')).toBe(false);
    expect(isLogQL('rate({__name__="up"}[5m])')).toBe(false);
    expect(isLogQL('sum by (app) (count_over_time({app="api"} |= "error" [5m])) > 10')).toBe(true);
    expect(isLogQL('count_over_time({app="api"}[5m]) > 0')).toBe(true);
    expect(isLogQL('sum(rate({app="api"} | json | level="error" [1m]))')).toBe(true);
    expect(isLogQL('{app="api"} != "debug"')).toBe(true);
  });
  it('uses what the API says over the text', () => {
    expect(queryLink('sum(x)', 'logql').lang).toBe('logql');
    expect(queryLink('count_over_time({app="api"}[5m])', 'promql').lang).toBe('promql');
    expect(queryLink('count_over_time({app="api"}[5m])', undefined).lang).toBe('logql');
  });
  it('lists the LogQL groups of Loki\'s rules API with the PromQL ones, once each', () => {
    const p = [group('a', []), group('shared', [])];
    const l = [group('shared', []), group('logs', [], '/etc/loupe/logql.yml')];
    expect(mergeRuleGroups(p, l).map((g) => `${g.name}:${g.lang ?? ''}`)).toEqual(['a:', 'shared:logql', 'logs:logql']);
  });
  it('opens PromQL in the metrics explorer from 15 minutes before the alert became active', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    const l = queryLink('up == 0', undefined, '2026-12-06T11:00:00Z', now);
    expect(l.lang).toBe('promql');
    expect(l.url).toBe('/query?expr=up+%3D%3D+0&from=2026-12-06T10%3A45%3A00Z');
    // Without activeAt: the explorer's default range.
    expect(queryLink('up == 0', undefined, undefined, now).url).toBe('/query?expr=up+%3D%3D+0');
    // Active a minute ago: still at least 15 minutes shown.
    expect(queryLink('up', undefined, '2026-12-06T11:59:00Z', now).url).toContain('from=2026-12-06T11%3A44%3A00Z');
    // Whole seconds (activeAt has nanoseconds).
    expect(queryLink('up', undefined, '2026-12-06T11:00:00.834264567Z', now).url).toContain('from=2026-12-06T10%3A45%3A00Z');
  });
  it('opens LogQL in the logs view', () => {
    const l = queryLink('count_over_time({app="api"} |= "error" [5m]) > 0', undefined, '2026-12-06T11:00:00Z', Date.parse('2026-12-06T12:00:00Z'));
    expect(l.lang).toBe('logql');
    const u = new URL(l.url, 'http://x');
    expect(u.pathname).toBe('/logs');
    expect(u.searchParams.get('mode')).toBe('logql');
    expect(u.searchParams.get('logql')).toBe('count_over_time({app="api"} |= "error" [5m]) > 0');
    expect(u.searchParams.get('from')).toBe('2026-12-06T10:45:00Z');
  });
  it('links the issue of an error rule and the run of a job rule', () => {
    expect(relatedLinks({ issue_id: 'ab12' }, 'increase(loupe_error_events_total[5m]) > 0')).toEqual([{ url: '/errors/ab12', label: 'issue ab12' }]);
    expect(relatedLinks({ job: 'nightly', instance: 'r/1' }, 'loupe_run_exit_code != 0')).toEqual([{ url: '/runs/r%2F1', label: 'run r/1' }]);
    expect(relatedLinks({ instance: 'host:9100' }, 'up == 0')).toEqual([]);
  });
});

describe('silences', () => {
  it('matches an alert by every label of it', () => {
    expect(silenceMatchers({ instance: 'db-1', alertname: 'Hot' })).toEqual([
      { name: 'alertname', value: 'Hot', isRegex: false, isEqual: true },
      { name: 'instance', value: 'db-1', isRegex: false, isEqual: true },
    ]);
  });
  it('parses and writes matchers', () => {
    expect(parseMatcher('job="a\\"b"')).toEqual({ name: 'job', value: 'a"b', isRegex: false, isEqual: true });
    expect(parseMatcher('job=api')).toEqual({ name: 'job', value: 'api', isRegex: false, isEqual: true });
    expect(parseMatcher(' env != "prod" ')).toEqual({ name: 'env', value: 'prod', isRegex: false, isEqual: false });
    expect(parseMatcher('instance=~"db-.*"')).toEqual({ name: 'instance', value: 'db-.*', isRegex: true, isEqual: true });
    expect(parseMatcher('x!~"a|b"')).toEqual({ name: 'x', value: 'a|b', isRegex: true, isEqual: false });
    expect(parseMatcher('1x="a"')).toBeNull();
    expect(parseMatcher('nothing')).toBeNull();
    for (const s of ['job="a\\"b"', 'env!="prod"', 'instance=~"db-.*"', 'x!~"a|b"']) expect(fmtMatcher(parseMatcher(s)!)).toBe(s);
  });
  it('builds the POST body and refuses what Alertmanager would', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    const m = silenceMatchers({ alertname: 'Hot' });
    expect(newSilence(m, '2h', ' alice ', ' maintenance ', now)).toEqual({
      matchers: m, startsAt: '2026-12-06T12:00:00.000Z', endsAt: '2026-12-06T14:00:00.000Z', createdBy: 'alice', comment: 'maintenance',
    });
    expect(() => newSilence(m, 'soon', 'a', 'c', now)).toThrow(/invalid duration "soon"/);
    expect(() => newSilence(m, '0s', 'a', 'c', now)).toThrow(/invalid duration/);
    expect(() => newSilence([], '1h', 'a', 'c', now)).toThrow(/matcher/);
    expect(() => newSilence(m, '1h', '', 'c', now)).toThrow(/Created by/);
    expect(() => newSilence(m, '1h', 'a', ' ', now)).toThrow(/comment/);
  });
  const sil = (id: string, state: Silence['status']['state'], matchers: string[], endsAt = '2026-12-06T14:00:00Z'): Silence => ({
    id, status: { state }, matchers: matchers.map((s) => parseMatcher(s)!), startsAt: '2026-12-06T12:00:00Z', endsAt, createdBy: 'a', comment: 'c',
  });
  it('finds the active silences of an alert as Alertmanager matches them', () => {
    const labels = { alertname: 'Hot', instance: 'db-1' };
    const all = [
      sil('1', 'active', ['alertname="Hot"']),
      sil('2', 'active', ['instance=~"db-.*"', 'alertname!="Cold"']),
      sil('3', 'active', ['instance=~"db"']), // anchored: no match
      sil('4', 'expired', ['alertname="Hot"']),
      sil('5', 'active', ['alertname="Hot"', 'team="x"']),
      sil('6', 'active', ['team=""']), // absent label = empty
      sil('7', 'active', ['x=~"("']), // bad regex matches nothing
    ];
    expect(silencesFor(labels, all).map((s) => s.id)).toEqual(['1', '2', '6']);
    expect(matcherMatches({ name: 'a', value: 'b', isRegex: false }, { a: 'b' })).toBe(true);
  });
  it('orders active, pending, then expired (the most recently ended first)', () => {
    const s = sortSilences([
      sil('e1', 'expired', ['a="b"'], '2026-12-06T10:00:00Z'),
      sil('p', 'pending', ['a="b"']),
      sil('e2', 'expired', ['a="b"'], '2026-12-06T11:00:00Z'),
      sil('a2', 'active', ['a="b"'], '2026-12-06T16:00:00Z'),
      sil('a1', 'active', ['a="b"'], '2026-12-06T13:00:00Z'),
    ]);
    expect(s.map((x) => x.id)).toEqual(['a1', 'a2', 'p', 'e2', 'e1']);
  });
});

describe('graphRedirect', () => {
  it('turns the generatorURL of an alert into the metrics explorer', () => {
    // rules.SendAlerts: <external_url>/graph?g0.expr=<expr>&g0.tab=1
    expect(graphRedirect(new URLSearchParams('g0.expr=vector%281%29+%3E+0&g0.tab=1'))).toBe('/query?expr=vector%281%29+%3E+0&tab=table');
    expect(graphRedirect(new URLSearchParams('g0.expr=up&g0.tab=0&g0.range_input=6h'))).toBe('/query?expr=up&from=now-6h');
    expect(graphRedirect(new URLSearchParams('g0.expr=up&g0.tab=graph&g0.range_input=bogus'))).toBe('/query?expr=up');
    expect(graphRedirect(new URLSearchParams('expr=up&from=now-2h'))).toBe('/query?expr=up&from=now-2h');
    expect(graphRedirect(new URLSearchParams(''))).toBe('/query');
  });
});
