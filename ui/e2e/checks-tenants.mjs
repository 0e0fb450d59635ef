// Browser checks of tenants in the UI against servers of their own with tenants.enabled
// (run.sh runs this after checks.mjs; it can also run alone):
//
//   LOUPE_BIN=bin/loupe LOUPE_SCREENSHOTS=dir node e2e/checks-tenants.mjs
//
// Each server gets one log line for tenant team-a and another for team-b, pushed with
// Loki's push API and X-Scope-OrgID. Without authentication (an operator), the checks: the
// header's tenant picker shows the default tenant, whose logs page has neither line;
// typing team-a (Enter) shows team-a's line only, kept across a reload and sent as
// X-Scope-OrgID; team-b likewise; a tenant id the server would refuse is refused in the
// field; every page loads for team-b; an empty field goes back to the default tenant.
// With authentication on, a session of a token bound to team-a shows team-a as fixed text
// and team-a's line only, even in a browser where an operator had picked team-b; an
// operator's token gets the picker.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLoupe, stopAll, launchBrowser, checker, assert } from './harness.mjs';

const bin = process.env.LOUPE_BIN;
if (!bin || !existsSync(bin)) throw new Error('checks-tenants: set LOUPE_BIN to a built loupe binary');
const shots = process.env.LOUPE_SCREENSHOTS || 'e2e-artifacts';
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'loupe-tenants-'));
const config = join(work, 'loupe.yaml');
writeFileSync(config, 'tenants:\n  enabled: true\n');
const procs = [];
const run = Date.now().toString(36);
const line = (t) => `hello from ${t} ${run}`;
// The browser logs every 401 as "Failed to load resource"; a page opened before signing in
// provokes them on purpose.
const expected401 = /Failed to load resource: the server responded with a status of 401/;

// push sends one log line for tenant t with Loki's push API; waitLine waits until that
// tenant's logs API has it.
async function push(base, t, token) {
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  const res = await fetch(`${base}/loki/api/v1/push`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Scope-OrgID': t, ...auth },
    body: JSON.stringify({ streams: [{ stream: { service_name: 'tenant-check', job: 'tenant-check' }, values: [[`${Date.now()}000000`, line(t)]] }] }),
  });
  assert(res.status === 204 || res.status === 200, `push for ${t}: ${res.status} ${await res.text()}`);
  for (let i = 0; ; i++) {
    const r = await fetch(`${base}/api/loupe/v1/logs?start=now-1h&end=now`, { headers: { 'X-Scope-OrgID': t, ...auth } });
    const body = await r.text();
    if (r.ok && body.includes(line(t))) return;
    if (i > 100) throw new Error(`tenant ${t}'s line not readable after 20 s: ${r.status} ${body.slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let failures = 0;
let context;
try {
  const { base } = await startLoupe(bin, 'tenants', ['--config', config, '--data-dir', join(work, 'data')], procs);
  await push(base, 'team-a');
  await push(base, 'team-b');
  // The status API tells the tenant a request acted for (docs/api-native.md).
  for (const [hdr, want] of [[{}, 'default'], [{ 'X-Scope-OrgID': 'team-a' }, 'team-a']]) {
    const s = (await (await fetch(`${base}/api/loupe/v1/status`, { headers: hdr })).json()).data;
    assert(s.tenant === want && s.tenants_enabled === true, `status with ${JSON.stringify(hdr)}: ${JSON.stringify(s)}`);
  }

  const browser = await launchBrowser();
  context = browser.context;
  const { page, consoleErrors } = browser;
  const { check, failures: failed } = checker(page, consoleErrors, shots);
  const picker = page.getByTestId('tenant-picker');
  // The tenant of every Loupe API request the page makes from now on.
  const sent = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) sent.push({ path: new URL(r.url()).pathname, tenant: r.headers()['x-scope-orgid'] ?? '' });
  });
  // showsOnly waits for the logs page of tenant t ('' the default one) and checks which
  // of the two lines it shows.
  const showsOnly = async (t) => {
    await page.getByTestId('logs-status').filter({ hasText: 'records' }).waitFor({ timeout: 15000 });
    if (t) await page.locator('[data-testid="log-row"]', { hasText: line(t) }).first().waitFor({ timeout: 15000 });
    else await page.locator('.empty-state').first().waitFor({ timeout: 15000 });
    const text = await page.locator('main').innerText();
    for (const other of ['team-a', 'team-b'].filter((x) => x !== t)) assert(!text.includes(line(other)), `tenant ${t || 'default'} shows ${other}'s line`);
  };
  const pick = async (t) => {
    await picker.fill(t);
    await Promise.all([page.waitForEvent('load'), picker.press('Enter')]);
    await picker.waitFor({ timeout: 15000 });
  };

  await check('tenants: the header has a tenant picker on the default tenant, whose logs have neither tenant\'s line', async () => {
    await page.goto(`${base}/logs`);
    await picker.waitFor({ timeout: 15000 });
    assert((await picker.inputValue()) === '' && (await picker.getAttribute('placeholder')) === 'default',
      `picker: value ${await picker.inputValue()}, placeholder ${await picker.getAttribute('placeholder')}`);
    await showsOnly('');
    await page.screenshot({ path: join(shots, 'tenants-default.png') });
  });

  await check('tenants: typing team-a shows team-a\'s line and not team-b\'s, and every API request names team-a', async () => {
    sent.length = 0;
    await pick('team-a');
    await showsOnly('team-a');
    assert((await picker.inputValue()) === 'team-a', `picker value after the reload: ${await picker.inputValue()}`);
    assert(await page.evaluate(() => localStorage.getItem('loupe.tenant')) === 'team-a', 'localStorage holds team-a');
    const wrong = sent.filter((r) => r.tenant !== (r.path === '/api/loupe/v1/session' ? '' : 'team-a'));
    assert(sent.length > 0 && wrong.length === 0, `requests with another tenant: ${JSON.stringify(wrong)} of ${sent.length}`);
    await page.locator('header.topbar').screenshot({ path: join(shots, 'tenants-header.png') });
    await page.screenshot({ path: join(shots, 'tenants-team-a.png') });
  });

  await check('tenants: team-b likewise, also after a reload', async () => {
    await pick('team-b');
    await showsOnly('team-b');
    await page.reload();
    await picker.waitFor({ timeout: 15000 });
    await showsOnly('team-b');
    await page.screenshot({ path: join(shots, 'tenants-team-b.png') });
  });

  await check('tenants: a tenant id the server would refuse is refused in the field', async () => {
    await picker.fill('team/a');
    const err = page.getByTestId('tenant-error');
    await err.waitFor({ timeout: 5000 });
    assert(/character "\/" is not allowed/.test(await err.getAttribute('title')), `error: ${await err.getAttribute('title')}`);
    assert((await picker.getAttribute('aria-invalid')) === 'true', 'the field is marked invalid');
    await page.locator('header.topbar').screenshot({ path: join(shots, 'tenants-invalid.png') });
    await picker.press('Enter'); // nothing happens
    await page.waitForTimeout(300);
    assert(await page.evaluate(() => localStorage.getItem('loupe.tenant')) === 'team-b', 'the pick is still team-b');
    await picker.press('Escape');
    assert((await picker.inputValue()) === 'team-b', `Escape puts back team-b: ${await picker.inputValue()}`);
    await showsOnly('team-b');
  });

  await check('tenants: every page loads for team-b without a console error, its requests naming team-b', async () => {
    sent.length = 0;
    for (const path of ['/traces', '/query', '/dashboards', '/services', '/errors', '/profiles', '/runs', '/alerts']) {
      await page.goto(`${base}${path}`);
      await picker.waitFor({ timeout: 15000 });
      await page.waitForLoadState('networkidle');
      assert((await picker.inputValue()) === 'team-b', `${path}: picker ${await picker.inputValue()}`);
    }
    const wrong = sent.filter((r) => r.tenant !== 'team-b');
    assert(sent.length > 0 && wrong.length === 0, `requests with another tenant: ${JSON.stringify(wrong)} of ${sent.length}`);
    await page.goto(`${base}/logs`);
    await showsOnly('team-b');
  });

  await check('tenants: an empty field goes back to the default tenant', async () => {
    await pick('');
    await showsOnly('');
    assert(await page.evaluate(() => localStorage.getItem('loupe.tenant')) === null, 'the pick is removed');
  });
  await context.close();
  context = undefined;

  // With authentication: a token bound to team-a, and an operator's (bound to no tenant).
  const data = join(work, 'auth-data');
  const token = (...args) => execFileSync(bin, ['token', 'create', ...args, '--data-dir', data], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  const operator = token('--name', 'operator', '--scope', 'ingest,read');
  const bound = token('--name', 'team-a-viewer', '--scope', 'read', '--tenant', 'team-a');
  const { base: authBase } = await startLoupe(bin, 'tenants-auth', ['--config', config, '--data-dir', data], procs);
  await push(authBase, 'team-a', operator);
  await push(authBase, 'team-b', operator);
  const b2 = await launchBrowser();
  context = b2.context;
  const page2 = b2.page;
  const check2 = checker(page2, b2.consoleErrors, shots);
  const signIn = async (tok) => {
    await page2.getByTestId('signin-form').waitFor({ timeout: 15000 });
    await page2.getByTestId('signin-mode-token').click();
    await page2.getByTestId('signin-token').fill(tok);
    await Promise.all([page2.waitForEvent('load'), page2.getByTestId('signin-submit').click()]);
    await page2.getByTestId('sign-out').waitFor({ timeout: 15000 });
  };
  const shows = async (t) => {
    await page2.locator('[data-testid="log-row"]', { hasText: line(t) }).first().waitFor({ timeout: 15000 });
    const text = await page2.locator('main').innerText();
    for (const other of ['team-a', 'team-b'].filter((x) => x !== t)) assert(!text.includes(line(other)), `${t} shows ${other}'s line`);
  };

  await check2.check('tenants: an operator\'s token session gets the picker', async () => {
    await page2.goto(`${authBase}/logs`);
    await signIn(operator);
    const p = page2.getByTestId('tenant-picker');
    await p.fill('team-b');
    await Promise.all([page2.waitForEvent('load'), p.press('Enter')]);
    await shows('team-b');
  }, { allow: [expected401] });

  await check2.check('tenants: a session of a token bound to team-a shows team-a as text and its line only, though team-b was picked before', async () => {
    await page2.getByTestId('sign-out').click();
    await signIn(bound);
    const fixed = page2.getByTestId('tenant-fixed');
    await fixed.waitFor({ timeout: 15000 });
    assert((await fixed.textContent()).replace(/\s+/g, ' ').trim() === 'Tenant team-a', `header: ${await fixed.textContent()}`);
    assert(!(await page2.getByTestId('tenant-picker').isVisible()), 'no picker for a bound session');
    await shows('team-a');
    await page2.locator('header.topbar').screenshot({ path: join(shots, 'tenants-bound-header.png') });
  }, { allow: [expected401] });
  failures += failed() + check2.failures();
} catch (e) {
  failures++;
  console.log(`FAIL tenants: ${e.message ?? e}`);
} finally {
  await context?.close();
  await stopAll(procs);
  rmSync(work, { recursive: true, force: true });
}
console.log(failures ? `tenants: ${failures} check(s) failed` : 'tenants: all checks passed');
process.exit(failures ? 1 : 0);
