// Browser checks of signing in and out of the UI against a live server of their own with
// authentication on (run.sh runs this after checks.mjs; it can also run alone):
//
//   LOUPE_BIN=bin/loupe LOUPE_SCREENSHOTS=dir node e2e/checks-auth.mjs
//
// The server's data directory has a user made with `loupe user add` (admin) and a read
// token made with `loupe token create`. The checks: a page opened without a session shows
// the sign-in page; a wrong password is refused with the server's message; the right one
// signs in (an HttpOnly, SameSite=Strict session cookie) and the page shows its data; a
// state-changing call from the page carries the CSRF token; sign-out deletes the session
// and shows the sign-in page again; a token signs in too. The 401s these provoke on
// purpose are the only console errors allowed.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = process.env.LOUPE_BIN;
if (!bin || !existsSync(bin)) throw new Error('checks-auth: set LOUPE_BIN to a built loupe binary');
const shots = process.env.LOUPE_SCREENSHOTS || 'e2e-artifacts';
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'loupe-auth-'));
const data = join(work, 'data');
const password = 'browser check password';
execFileSync(bin, ['user', 'add', 'alice', '--scope', 'admin', '--password-stdin', '--data-dir', data], { input: `${password}\n` });
const token = execFileSync(bin, ['token', 'create', '--name', 'viewer', '--scope', 'read', '--data-dir', data], { stdio: ['ignore', 'pipe', 'ignore'] })
  .toString().trim();

const server = spawn(bin, ['serve', '--data-dir', data, '--http-listen', '127.0.0.1:0', '--otlp-grpc-listen', '127.0.0.1:0',
  '--otlp-http-listen', '127.0.0.1:0', '--statsd-listen', '127.0.0.1:0', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
const base = await new Promise((resolve, reject) => {
  let log = '';
  const t = setTimeout(() => reject(new Error(`server not ready after 60s:\n${log.slice(-2000)}`)), 60000);
  const onData = (d) => {
    log += d;
    for (const l of log.split('\n')) {
      try {
        const j = JSON.parse(l);
        if (j.msg === 'ready') {
          clearTimeout(t);
          resolve(`http://${j.http}`);
          return;
        }
      } catch {}
    }
  };
  server.stdout.on('data', onData);
  server.stderr.on('data', onData);
  server.on('exit', (code) => reject(new Error(`server exited ${code}:\n${log.slice(-2000)}`)));
});

const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'loupe-chromium-')), {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  viewport: { width: 1440, height: 900 },
  colorScheme: 'dark',
});
const page = await context.newPage();
const consoleErrors = [];
page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.stack ?? e}`));
// The browser logs every 401 answer as "Failed to load resource"; the checks below provoke
// them on purpose (an API call before signing in, a wrong password).
const expected401 = /Failed to load resource: the server responded with a status of 401/;

let failures = 0;
async function check(name, fn, { allow = [] } = {}) {
  const t = Date.now();
  const before = consoleErrors.length;
  try {
    await fn();
    await page.waitForTimeout(100);
    const errs = consoleErrors.slice(before).filter((e) => !allow.some((re) => re.test(e)));
    if (errs.length) throw new Error(`browser console errors:\n  ${errs.join('\n  ')}`);
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.message ?? e}`);
    await page.screenshot({ path: join(shots, `fail-${name.replace(/\W+/g, '-')}.png`) }).catch(() => {});
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
const byTest = (id) => page.getByTestId(id);
const sessionCookie = async () => (await context.cookies(base)).find((c) => c.name === 'loupe_session');

try {
  await check('a page without a session shows the sign-in page', async () => {
    await page.goto(`${base}/logs`);
    await byTest('signin-form').waitFor({ timeout: 10000 });
    assert(!(await byTest('sign-out').isVisible()), 'no sign-out entry before signing in');
    await page.screenshot({ path: join(shots, 'signin.png') });
  }, { allow: [expected401] });

  await check('a wrong password is refused with the server\'s message', async () => {
    await byTest('signin-user').fill('alice');
    await byTest('signin-password').fill('not the password');
    await byTest('signin-submit').click();
    await byTest('signin-error').waitFor({ timeout: 10000 });
    const text = await byTest('signin-error').innerText();
    assert(text.includes('wrong user name or password'), `error: ${text}`);
    assert(!(await sessionCookie()), 'no session cookie after a failed sign-in');
  }, { allow: [expected401] });

  await check('the right password signs in: HttpOnly SameSite=Strict cookie, the page shows', async () => {
    await byTest('signin-password').fill(password);
    await byTest('signin-submit').click();
    await byTest('sign-out').waitFor({ timeout: 15000 });
    await page.locator('.empty-state').first().waitFor({ timeout: 10000 }); // the logs page's (empty) state
    assert(!(await byTest('signin-form').isVisible()), 'the sign-in page is gone');
    const c = await sessionCookie();
    assert(c && c.httpOnly && c.sameSite === 'Strict', `session cookie: ${JSON.stringify(c)}`);
    assert(!(await page.evaluate(() => document.cookie)).includes('loupe_session'), 'scripts cannot read the session cookie');
  });

  await check('state-changing calls from the page carry the CSRF token', async () => {
    // POST /-/reload needs admin; with the session cookie it also needs X-CSRF-Token, which
    // the UI's fetch adds. A request built without that fetch (XMLHttpRequest) is refused.
    const viaFetch = await page.evaluate(async () => (await fetch('/-/reload', { method: 'POST' })).status);
    assert(viaFetch === 200, `POST /-/reload through the UI's fetch: ${viaFetch}`);
    const bare = await page.evaluate(() => new Promise((resolve) => {
      const x = new XMLHttpRequest();
      x.open('POST', '/-/reload');
      x.onload = () => resolve([x.status, x.responseText]);
      x.send();
    }));
    assert(bare[0] === 403 && bare[1].includes('X-CSRF-Token'), `POST without the token: ${bare}`);
  }, { allow: [/status of 403/] });

  await check('sign-out ends the session and shows the sign-in page', async () => {
    await byTest('sign-out').click();
    await byTest('signin-form').waitFor({ timeout: 15000 });
    assert(!(await sessionCookie()), 'the session cookie is deleted');
  }, { allow: [expected401] });

  await check('a token signs in too', async () => {
    await byTest('signin-mode-token').click();
    await byTest('signin-token').fill(token);
    await byTest('signin-submit').click();
    await byTest('sign-out').waitFor({ timeout: 15000 });
    await page.goto(`${base}/services`);
    await page.locator('.empty-state').first().waitFor({ timeout: 10000 });
    assert(!(await byTest('signin-form').isVisible()), 'signed in with the token');
  });
} catch (e) {
  failures++;
  console.log(`FAIL auth: ${e.message ?? e}`);
} finally {
  await context.close();
  server.kill('SIGTERM');
  await new Promise((r) => (server.exitCode !== null ? r() : server.on('exit', r)));
  rmSync(work, { recursive: true, force: true });
}
console.log(failures ? `auth: ${failures} check(s) failed` : 'auth: all checks passed');
process.exit(failures ? 1 : 0);
