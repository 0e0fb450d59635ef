// Browser checks of the Alerts page against two live servers of their own (run.sh runs this
// after checks.mjs; it can also run alone):
//
//   LOUPE_BIN=bin/loupe LOUPE_SCREENSHOTS=dir node e2e/checks-alerts.mjs
//
// Server A loads a rule file evaluated every second (an alert that fires at once, one that
// stays pending for an hour, one that never fires, a recording rule) and an Alertmanager
// configuration whose only receiver is a blackhole (no integration: nothing is sent
// anywhere). Server B has the same rules and no Alertmanager. The checks: the firing alert
// with its labels, annotations, runbook and query links; every rule's state, health and
// last evaluation; the filters in the URL; a silence created from the alert with one click
// is in Alertmanager's API v2 and covers the alert, then is expired from the page; the
// alert's generatorURL (Prometheus' /graph?g0.expr=...) opens the metrics explorer on its
// expression; without an Alertmanager the page says how to configure one. Server C has a
// LogQL rule file (rules.logql_files) and one error log record: its alert links the logs
// view's LogQL mode; a binary without LogQL rules refuses that key and the check is skipped.
import { mkdtempSync, writeFileSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLoupe, stopAll, launchBrowser, checker, assert } from './harness.mjs';

const bin = process.env.LOUPE_BIN;
if (!bin || !existsSync(bin)) throw new Error('checks-alerts: set LOUPE_BIN to a built loupe binary');
const shots = process.env.LOUPE_SCREENSHOTS || 'e2e-artifacts';
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'loupe-alerts-'));

const rulesYAML = `groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1) > 0
        for: 0s
        labels:
          severity: page
          team: e2e
        annotations:
          summary: "Always firing (value {{ $value }})"
          description: "An alert of the browser checks that fires at once."
          runbook_url: "https://runbooks.example.com/always-firing"
      - alert: SlowBurn
        expr: vector(2) > 1
        for: 1h
        annotations:
          summary: "Pending for an hour"
      - alert: NeverFires
        expr: vector(0) > 1
      - record: e2e:one
        expr: vector(1)
`;
const amYAML = `route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
`;
writeFileSync(join(work, 'rules.yml'), rulesYAML);
writeFileSync(join(work, 'alertmanager.yml'), amYAML);
writeFileSync(join(work, 'a.yaml'), 'rules:\n  files: [rules.yml]\n  evaluation_interval: 1s\nalerting:\n  alertmanager_config: alertmanager.yml\n');
writeFileSync(join(work, 'b.yaml'), 'rules:\n  files: [rules.yml]\n  evaluation_interval: 1s\n');
writeFileSync(join(work, 'logql.yml'), `groups:
  - name: logs
    interval: 1s
    rules:
      - alert: ErrorLogs
        expr: sum by (service_name) (count_over_time({service_name="api"} |= "error" [10m])) > 0
        annotations:
          summary: "error logs in {{ $labels.service_name }}"
`);
writeFileSync(join(work, 'c.yaml'), 'rules:\n  files: [rules.yml]\n  logql_files: [logql.yml]\n  evaluation_interval: 1s\n');

const procs = [];
/** start runs `loupe serve` with config on random loopback ports: {base, otlp, log}. */
const start = (name, config) => startLoupe(bin, name, ['--config', join(work, config), '--data-dir', join(work, `data-${name}`)], procs);

const { context, page, consoleErrors } = await launchBrowser();
const { check, failures: failed } = checker(page, consoleErrors, shots);
let failures = 0;
const attrs = (sel, names) => page.$$eval(sel, (els, ns) => els.map((e) => Object.fromEntries(ns.map((n) => [n, e.getAttribute(n)]))), names);
const json = async (url, init) => {
  const r = await fetch(url, init);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
};
const row = (name) => page.locator(`[data-testid="alert-row"][data-alertname="${name}"]`);

try {
  const A = await start('a', 'a.yaml');
  const B = await start('b', 'b.yaml');
  console.log(`alerts: server A ${A.base} (embedded Alertmanager), server B ${B.base} (none)`);

  await check('alerts: a firing alert with its labels, annotations, runbook, active since and query link', async () => {
    // Auto-refresh every second until the rules have been evaluated.
    await page.goto(`${A.base}/alerts?refresh=1s`);
    await row('AlwaysFiring').waitFor({ timeout: 30000 });
    const r = row('AlwaysFiring');
    assert((await r.getAttribute('data-state')) === 'firing', `AlwaysFiring is ${await r.getAttribute('data-state')}, want firing`);
    const labels = await r.getByTestId('alert-labels').textContent();
    for (const l of ['severity=page', 'team=e2e']) assert(labels.includes(l), `labels ${labels} lack ${l}`);
    assert((await r.getByTestId('alert-summary').textContent()) === 'Always firing (value 1)', 'summary with $value expanded');
    assert((await r.getByTestId('alert-description').textContent()).includes('fires at once'), 'description');
    assert((await r.getByTestId('alert-runbook').getAttribute('href')) === 'https://runbooks.example.com/always-firing', 'runbook link');
    const since = await r.getByTestId('alert-since').textContent();
    assert(/just now|m ago/.test(since), `active since: ${since}`);
    const q = new URL(await r.getByTestId('alert-query').getAttribute('href'), A.base);
    assert(q.pathname === '/query' && q.searchParams.get('expr') === 'vector(1) > 0', `query link ${q}`);
    const from = Date.parse(q.searchParams.get('from'));
    assert(Number.isFinite(from) && from < Date.now() - 14 * 60_000, `query link from ${q.searchParams.get('from')}: 15 minutes before activeAt`);
    // SlowBurn's `for: 1h` keeps it pending.
    assert((await row('SlowBurn').getAttribute('data-state')) === 'pending', 'SlowBurn is listed pending');
    assert((await row('NeverFires').count()) === 0, 'an inactive rule has no alert');
  });

  await check('alerts: every rule with its state, health and last evaluation; recording rules too', async () => {
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="rule-row"]')].every((r) => r.dataset.health === 'ok'), null, { timeout: 10000 });
    const rules = await attrs('[data-testid="rule-row"]', ['data-rule', 'data-type', 'data-state', 'data-health']);
    const got = rules.map((r) => `${r['data-rule']}/${r['data-type']}/${r['data-state']}/${r['data-health']}`);
    const want = ['AlwaysFiring/alerting/firing/ok', 'SlowBurn/alerting/pending/ok', 'NeverFires/alerting/inactive/ok', 'e2e:one/recording//ok'];
    assert(JSON.stringify(got) === JSON.stringify(want), `rules ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    const g = page.locator('[data-testid="rule-group"][data-group="e2e"]');
    const head = await g.textContent();
    assert(head.includes('rules.yml') && head.includes('every 1s') && !head.includes('never'), `group line: ${head.slice(0, 200)}`);
    // Neither rules API failed (a server without Loki's rules API has no LogQL rules, no error).
    assert((await page.locator('.error-box').count()) === 0, `an error is shown: ${await page.locator('.error-box').allTextContents()}`);
  });

  await check('alerts: state and type filters live in the URL and survive a reload', async () => {
    await page.locator('[data-testid="alerts-state"] button[data-state="firing"]').click();
    await page.waitForURL((u) => u.searchParams.getAll('state').join() === 'firing');
    const only = async () => (await attrs('[data-testid="rule-row"]', ['data-rule'])).map((r) => r['data-rule']).join();
    assert((await only()) === 'AlwaysFiring', `state=firing lists ${await only()}`);
    await page.reload();
    await page.locator('[data-testid="rule-row"]').first().waitFor();
    assert((await only()) === 'AlwaysFiring', `after reload: ${await only()}`);
    await page.goto(`${A.base}/alerts?type=record`);
    await page.locator('[data-testid="rule-row"]').first().waitFor();
    assert((await only()) === 'e2e:one', `type=record lists ${await only()}`);
    assert((await page.getByTestId('alerts-type').inputValue()) === 'record', 'the select shows the URL state');
    await page.goto(`${A.base}/alerts?q=slow`);
    await page.locator('[data-testid="rule-row"]').first().waitFor();
    assert((await only()) === 'SlowBurn', `q=slow lists ${await only()}`);
  });

  let silenceID = '';
  await check('alerts: a silence created from the alert in one click is in the Alertmanager API and covers the alert', async () => {
    await page.goto(`${A.base}/alerts`);
    await row('AlwaysFiring').getByTestId('alert-silence').click();
    const form = page.getByTestId('silence-form');
    const matchers = await form.getByTestId('silence-matchers').inputValue();
    assert(matchers === 'alertname="AlwaysFiring"\nseverity="page"\nteam="e2e"', `prefilled matchers: ${matchers}`);
    await form.getByTestId('silence-duration').fill('90m');
    await form.getByTestId('silence-created-by').fill('e2e-checker');
    await form.getByTestId('silence-comment').fill('browser check');
    await form.getByTestId('silence-create').click();
    await page.locator('[data-testid="silence-row"][data-state="active"]').waitFor({ timeout: 10000 });
    silenceID = await page.locator('[data-testid="silence-row"]').first().getAttribute('data-silence-id');
    const s = await json(`${A.base}/alertmanager/api/v2/silence/${silenceID}`);
    assert(s.status.state === 'active' && s.createdBy === 'e2e-checker' && s.comment === 'browser check', `silence in the API: ${JSON.stringify(s)}`);
    const m = s.matchers.map((x) => `${x.name}=${x.value}/${x.isRegex}/${x.isEqual}`).sort().join(',');
    assert(m === 'alertname=AlwaysFiring/false/true,severity=page/false/true,team=e2e/false/true', `matchers in the API: ${m}`);
    const mins = (Date.parse(s.endsAt) - Date.parse(s.startsAt)) / 60000;
    assert(Math.abs(mins - 90) < 0.1, `silence lasts ${mins} minutes, want 90`);
    await row('AlwaysFiring').getByTestId('alert-silenced').waitFor();
    assert((await row('SlowBurn').getByTestId('alert-silenced').count()) === 0, 'SlowBurn is not covered');
    // Alertmanager itself marks the alert suppressed once it has it (the rules send every second here).
    await page.waitForFunction(async (base) => {
      const r = await fetch(`${base}/alertmanager/api/v2/alerts?filter=alertname%3D%22AlwaysFiring%22`);
      const as = await r.json();
      return as.length > 0 && as.every((a) => a.status.state === 'suppressed');
    }, A.base, { timeout: 15000, polling: 500 });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(shots, 'alerts.png'), fullPage: true });
  });

  await check('alerts: a bad duration in the silence form is refused with a message', async () => {
    await row('SlowBurn').getByTestId('alert-silence').click();
    const form = page.getByTestId('silence-form');
    await form.getByTestId('silence-duration').fill('soon');
    await form.getByTestId('silence-create').click();
    const msg = await form.locator('.error-box').textContent();
    assert(msg.includes('invalid duration "soon"'), `error: ${msg}`);
  });

  await check('alerts: a silence expired from the page is expired in the API and listed under expired', async () => {
    assert(silenceID, 'no silence from the previous check');
    await page.locator(`[data-testid="silence-row"][data-silence-id="${silenceID}"] [data-testid="silence-expire"]`).click();
    await page.locator(`[data-testid="silence-row"][data-silence-id="${silenceID}"]`).waitFor({ state: 'detached', timeout: 10000 });
    const s = await json(`${A.base}/alertmanager/api/v2/silence/${silenceID}`);
    assert(s.status.state === 'expired', `silence state in the API: ${s.status.state}`);
    await page.locator('[data-testid="silences-state"] button[data-state="expired"]').click();
    await page.waitForURL((u) => u.searchParams.getAll('silences').includes('expired'));
    await page.locator(`[data-testid="silence-row"][data-silence-id="${silenceID}"][data-state="expired"]`).waitFor();
    assert((await row('AlwaysFiring').getByTestId('alert-silenced').count()) === 0, 'the alert is no longer shown silenced');
  });

  await check("alerts: the query link and the alert's generatorURL (/graph?g0.expr=...) open the metrics explorer on the expression", async () => {
    await page.goto(`${A.base}/alerts`);
    await row('AlwaysFiring').getByTestId('alert-query').click();
    await page.waitForURL((u) => u.pathname === '/query');
    await page.getByTestId('metric-chart').waitFor({ timeout: 10000 });
    const [am] = await json(`${A.base}/alertmanager/api/v2/alerts?filter=alertname%3D%22AlwaysFiring%22`);
    const g = new URL(am.generatorURL);
    assert(g.pathname === '/graph' && g.searchParams.get('g0.expr') === 'vector(1) > 0', `generatorURL ${am.generatorURL}`);
    // The default external URL names the configured listen address (port 0 here), so follow its path on the real one.
    await page.goto(`${A.base}${g.pathname}${g.search}`);
    await page.waitForURL((u) => u.pathname === '/query');
    const u = new URL(page.url());
    assert(u.searchParams.get('expr') === 'vector(1) > 0' && u.searchParams.get('tab') === 'table', `redirected to ${page.url()}`);
    await page.getByTestId('metric-table').waitFor({ timeout: 10000 });
    const t = await page.getByTestId('metric-table').textContent();
    assert(t.includes('1'), `table: ${t}`);
  });

  await check('alerts: without an embedded Alertmanager the page says how to configure one, and the alerts still show', async () => {
    await page.goto(`${B.base}/alerts?refresh=1s`);
    await page.getByTestId('am-not-configured').waitFor({ timeout: 10000 });
    const text = await page.getByTestId('am-not-configured').textContent();
    assert(text.includes('alerting.alertmanager_config'), `message: ${text.slice(0, 200)}`);
    await row('AlwaysFiring').waitFor({ timeout: 30000 });
    // The button follows the Alertmanager status, which may arrive after the rows: wait for it.
    await page.waitForFunction(() => document.querySelector('[data-testid="alert-row"][data-alertname="AlwaysFiring"] [data-testid="alert-silence"]')?.disabled, null, { timeout: 10000 })
      .catch(() => { throw new Error('Silence… is not disabled'); });
    assert((await page.getByTestId('silences-state').count()) === 0, 'no silence filter without an Alertmanager');
  });

  await check('alerts: the nav links the page', async () => {
    await page.goto(`${B.base}/logs`);
    await page.locator('nav a[href="/alerts"]').click();
    await page.waitForURL((u) => u.pathname === '/alerts');
    await page.getByTestId('alerts-page').waitFor();
    assert((await page.locator('nav a.active').textContent()) === 'Alerts', 'the nav entry is active');
  });

  // LogQL rules come with rules.logql_files; a binary without them refuses the key.
  let C = null;
  try {
    C = await start('c', 'c.yaml');
  } catch (e) {
    if (!/logql_files/.test(String(e.message))) throw e;
    console.log('skip alerts: LogQL rules (this binary has no rules.logql_files)');
  }
  if (C) {
    await check('alerts: a LogQL alert (rules.logql_files) links the logs view in LogQL mode', async () => {
      const now = `${Date.now()}000000`;
      const body = {
        resourceLogs: [{
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: now, severityText: 'ERROR', severityNumber: 17, body: { stringValue: 'an error happened' } }] }],
        }],
      };
      const r = await fetch(`${C.otlp}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      assert(r.ok, `OTLP logs: ${r.status}`);
      await page.goto(`${C.base}/alerts?refresh=1s`);
      await row('ErrorLogs').waitFor({ timeout: 60000 });
      assert((await page.locator('[data-testid="rule-group"][data-group="logs"] [data-testid="group-logql"]').count()) === 1, 'the LogQL group is marked');
      const lang = (rule) => page.locator(`[data-testid="rule-row"][data-rule="${rule}"] [data-testid="rule-query"]`).getAttribute('data-lang');
      assert((await lang('ErrorLogs')) === 'logql' && (await lang('AlwaysFiring')) === 'promql', 'each rule links its own language');
      const link = row('ErrorLogs').getByTestId('alert-query');
      assert((await link.getAttribute('data-lang')) === 'logql', 'the LogQL alert links LogQL');
      await link.click();
      await page.waitForURL((u) => u.pathname === '/logs' && u.searchParams.get('mode') === 'logql');
      const u = new URL(page.url());
      assert(u.searchParams.get('logql').includes('|= "error"'), `logql=${u.searchParams.get('logql')}`);
      // The logs view runs the query over the link's range. The record may be newer than the
      // range's last step (4 s apart) for a few seconds: run it again until a step covers it.
      const chart = page.getByTestId('metric-chart');
      for (let i = 0; i < 20 && !(await chart.isVisible()); i++) {
        await page.waitForTimeout(1000);
        if (!(await chart.isVisible())) await page.getByTestId('logql-run').click();
      }
      await chart.waitFor({ timeout: 10000 });
      const legend = await chart.locator('.u-legend').innerText();
      assert(legend.includes('service_name="api"'), `legend: ${legend}`);
    });
  }
} catch (e) {
  failures++;
  console.log(`FAIL alerts: ${e.message ?? e}`);
} finally {
  failures += failed();
  await context.close();
  await stopAll(procs);
  rmSync(work, { recursive: true, force: true });
}
console.log(failures ? `alerts: ${failures} check(s) failed` : 'alerts: all checks passed');
process.exit(failures ? 1 : 0);
