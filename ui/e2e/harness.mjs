// What the browser check files that start servers of their own share (checks-alerts.mjs,
// checks-auth.mjs, checks-hosts.mjs): a `loupe serve` on random loopback ports, Debian's
// headless Chromium, and check() / assert() that fail on browser console errors.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * startLoupe runs `loupe serve` with extra arguments (--data-dir, --config) on random
 * loopback ports and answers its addresses once it logs "ready": {base, otlp, proc, log}.
 * procs collects the process, for stopAll.
 */
export function startLoupe(bin, name, args, procs) {
  const log = [];
  const p = spawn(bin, ['serve', ...args, '--http-listen', '127.0.0.1:0', '--otlp-grpc-listen', '127.0.0.1:0',
    '--otlp-http-listen', '127.0.0.1:0', '--statsd-listen', '127.0.0.1:0', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server ${name} not ready after 60s:\n${log.join('').slice(-2000)}`)), 60000);
    const onData = (d) => {
      log.push(String(d));
      for (const l of log.join('').split('\n')) {
        try {
          const j = JSON.parse(l);
          if (j.msg === 'ready') {
            clearTimeout(t);
            resolve({ base: `http://${j.http}`, otlp: `http://${j.otlp_http}`, proc: p, log });
            return;
          }
        } catch {}
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (code) => reject(new Error(`server ${name} exited ${code}:\n${log.join('').slice(-2000)}`)));
  });
}

/** stopAll sends SIGTERM to every process and waits for them to exit. */
export async function stopAll(procs) {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.on('exit', r)))));
}

/** launchBrowser starts Debian's Chromium headless with a fresh profile: {context, page, consoleErrors}. */
export async function launchBrowser() {
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
  return { context, page, consoleErrors };
}

/**
 * checker gives check(name, fn, {allow}), which runs fn, fails it on a browser console
 * error that no regex of allow matches, prints ok/FAIL and screenshots a failure into
 * shots; and failures(), the count so far.
 */
export function checker(page, consoleErrors, shots) {
  let failed = 0;
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
      failed++;
      console.log(`FAIL ${name}: ${e.message ?? e}`);
      await page.screenshot({ path: join(shots, `fail-${name.replace(/\W+/g, '-')}.png`) }).catch(() => {});
    }
  }
  return { check, failures: () => failed };
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
