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
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLoupe, stopAll, launchBrowser, checker, assert } from './harness.mjs';

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

const procs = [];
const { base } = await startLoupe(bin, 'auth', ['--data-dir', data], procs);
const { context, page, consoleErrors } = await launchBrowser();
// The browser logs every 401 answer as "Failed to load resource"; the checks below provoke
// them on purpose (an API call before signing in, a wrong password).
const expected401 = /Failed to load resource: the server responded with a status of 401/;
const { check, failures: failed } = checker(page, consoleErrors, shots);
let failures = 0;
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
  failures += failed();
  await context.close();
  await stopAll(procs);
  rmSync(work, { recursive: true, force: true });
}
console.log(failures ? `auth: ${failures} check(s) failed` : 'auth: all checks passed');
process.exit(failures ? 1 : 0);
