// Browser checks of profiled job runs against a server of their own (run.sh runs this after
// checks.mjs; it can also run alone):
//
//   LOUPE_BIN=bin/loupe LOUPE_SCREENSHOTS=dir node e2e/checks-runprofiles.mjs
//
// A Go job using Loupe's SDK (ui/e2e/runprofchild, built here with `go build`) runs twice
// under the real `loupe run --profile`: first burning CPU in main.parseRecords only, then
// with -compress also in main.compressBlocks. The checks: the run page links to the run's
// CPU flame graph, which names the functions that run burned CPU in (and only those); and
// comparing the two runs (ticked in the runs list) shows the functions whose share of CPU
// changed most, main.compressBlocks (only the second run has it) grown from 0% and
// main.parseRecords shrunk, and links to the Profiles page's diff, where they are coloured so.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoupe, stopAll, launchBrowser, checker, assert } from './harness.mjs';

const bin = process.env.LOUPE_BIN;
if (!bin || !existsSync(bin)) throw new Error('checks-runprofiles: set LOUPE_BIN to a built loupe binary');
const shots = process.env.LOUPE_SCREENSHOTS || 'e2e-artifacts';
mkdirSync(shots, { recursive: true });
const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'loupe-runprofiles-'));
const child = join(work, 'runprofchild');
const cpu = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const job = 'profiled-job';
const procs = [];

let failures = 0;
let context;
try {
  execFileSync('go', ['build', '-o', child, './ui/e2e/runprofchild'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const { base, otlp } = await startLoupe(bin, 'runprofiles', ['--data-dir', join(work, 'data')], procs);
  const api = async (path) => {
    const res = await fetch(`${base}${path}`);
    const j = await res.json();
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(j)}`);
    return j.data;
  };

  // Two runs through the real CLI; their records (run ids) appended to runs.jsonl.
  const records = join(work, 'runs.jsonl');
  // What loupe run said (its warnings: a spooled record, a refused request) goes into the
  // failure message.
  let said = '';
  const loupeRun = (...args) => {
    const r = spawnSync(bin, ['run', '--server', otlp, '--ui-url', base, '--profile', '--name', job, '--output', records, '--', child, ...args], {
      env: { ...process.env, XDG_STATE_HOME: work, LOUPE_SERVER: '', LOUPE_UI_URL: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
    said += r.stderr ?? '';
    if (r.status !== 0) throw new Error(`loupe run ${args} exited ${r.status ?? r.signal}: ${r.error ?? ''}${r.stderr}`);
  };
  loupeRun();
  loupeRun('-compress');
  const [a, b] = readFileSync(records, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert(a?.run_id && b?.run_id, `run records: ${readFileSync(records, 'utf8')}`);
  assert(!a.telemetry?.spool_file && !b.telemetry?.spool_file, `a run's record was spooled, not delivered: ${said}`);

  // The profiles and the run records arrive asynchronously; wait for both before the browser.
  const functions = async (r) => {
    const g = await api(`/api/loupe/v1/profiles/flamegraph?${new URLSearchParams({ type: cpu, query: `{loupe_run_id="${r.run_id}"}`, start: 'now-1h', end: 'now' })}`);
    return new Set(g.top.filter((t) => t.self > 0).map((t) => t.function));
  };
  const t0 = Date.now();
  for (let i = 0; ; i++) {
    const [fa, fb] = [await functions(a), await functions(b)];
    const [ra, rb] = [await api(`/api/loupe/v1/runs/${a.run_id}`), await api(`/api/loupe/v1/runs/${b.run_id}`)];
    const done = (r) => r.run.status === 'succeeded' && r.run.telemetry?.profile;
    if (fa.has('main.parseRecords') && fb.has('main.compressBlocks') && done(ra) && done(rb)) {
      console.log(`     two profiled runs of ${job}; their profiles and final records were readable ${Date.now() - t0} ms after the second ended`);
      break;
    }
    if (i > 150) {
      const rec = (r) => JSON.stringify({ status: r.run.status, telemetry: r.run.telemetry });
      throw new Error(`the runs' profiles or final records did not arrive in 30 s: a ${[...fa]} ${rec(ra)}, b ${[...fb]} ${rec(rb)}; loupe run said: ${said || 'nothing'}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const browser = await launchBrowser();
  context = browser.context;
  const { page, consoleErrors } = browser;
  const { check, failures: failed } = checker(page, consoleErrors, shots);
  const frames = () =>
    page.$$eval('[data-testid="flamegraph"] [data-testid="flame-frame"]', (els) =>
      els.map((e) => ({ name: e.dataset.name, share: Number(e.dataset.share), change: e.dataset.change })),
    );
  const waitFrame = (name) => page.locator(`[data-testid="flamegraph"] [data-testid="flame-frame"][data-name="${name}"]`).first().waitFor({ timeout: 15000 });

  await check('run profiles: the run page links to the CPU flame graph of the run, which names the functions it burned CPU in', async () => {
    await page.goto(`${base}/runs/${b.run_id}`);
    const link = page.getByTestId('run-profile-link');
    await link.waitFor({ timeout: 15000 });
    const url = new URL(await link.getAttribute('href'), base);
    assert(url.pathname === '/profiles' && url.searchParams.get('query') === `{loupe_run_id="${b.run_id}"}` && url.searchParams.get('type') === cpu,
      `profile link: ${url}`);
    await page.screenshot({ path: join(shots, 'runprofiles-run.png') });
    await link.click();
    await page.waitForURL(/\/profiles\?/);
    await waitFrame('main.compressBlocks');
    const f = await frames();
    const share = (n) => f.find((x) => x.name === n)?.share ?? 0;
    // Equal iteration counts: each function is a large part of the run's CPU.
    assert(share('main.parseRecords') > 0.2 && share('main.compressBlocks') > 0.2,
      `shares: parseRecords ${share('main.parseRecords')}, compressBlocks ${share('main.compressBlocks')}`);
    await page.screenshot({ path: join(shots, 'runprofiles-flame.png') });
  });

  await check('run profiles: the first run\'s flame graph has only the function that run burned CPU in', async () => {
    await page.goto(`${base}/runs/${a.run_id}`);
    await page.getByTestId('run-profile-link').click();
    await page.waitForURL(/\/profiles\?/);
    await waitFrame('main.parseRecords');
    const names = (await frames()).map((x) => x.name);
    assert(!names.includes('main.compressBlocks'), `the first run's flame graph has main.compressBlocks: ${names}`);
  });

  await check('run profiles: comparing the two runs shows their profile diff (the added function grew) and links to its flame graph', async () => {
    await page.goto(`${base}/runs?name=${job}`);
    for (const r of [a, b]) await page.locator(`[data-testid="run-row"][data-run-id="${r.run_id}"] [data-testid="run-select"]`).check();
    await page.getByTestId('runs-compare').click();
    await page.waitForURL(/\/runs\/compare\?/);
    const u = new URL(page.url());
    assert(u.searchParams.get('a') === a.run_id && u.searchParams.get('b') === b.run_id, `compare URL ${u}: want a=${a.run_id} (older) b=${b.run_id}`);
    // The comparison itself shows the functions whose share of the CPU changed most.
    const change = (fn) => page.locator(`[data-testid="profile-change-row"][data-function="${fn}"]`);
    await change('main.compressBlocks').waitFor({ timeout: 15000 });
    const rows = await page.$$eval('[data-testid="profile-change-row"]', (els) => els.map((e) => ({ fn: e.dataset.function, change: e.dataset.change, text: e.innerText })));
    assert(rows[0]?.fn === 'main.compressBlocks' || rows[0]?.fn === 'main.parseRecords', `largest changes first: ${JSON.stringify(rows)}`);
    const addedRow = rows.find((r) => r.fn === 'main.compressBlocks');
    assert(addedRow.change === 'grew' && /^main\.compressBlocks\s+0%\s+\d+%\s+\+\d+\.\d pp$/.test(addedRow.text), `main.compressBlocks row: ${JSON.stringify(addedRow)}, want grew from 0%`);
    assert(rows.find((r) => r.fn === 'main.parseRecords')?.change === 'shrank', `main.parseRecords row: ${JSON.stringify(rows)}, want shrank`);
    await page.getByTestId('compare-profile').screenshot({ path: join(shots, 'runprofiles-compare-profile.png') });
    await page.screenshot({ path: join(shots, 'runprofiles-compare.png'), fullPage: true });
    const link = page.getByTestId('compare-profile-diff');
    await link.click();
    await page.waitForURL(/\/profiles\?.*view=diff/);
    await waitFrame('main.compressBlocks');
    const f = await frames();
    const added = f.find((x) => x.name === 'main.compressBlocks');
    const kept = f.find((x) => x.name === 'main.parseRecords');
    assert(added.change === 'grew', `main.compressBlocks in the diff: ${JSON.stringify(added)}, want grew`);
    assert(kept && kept.change === 'shrank', `main.parseRecords in the diff: ${JSON.stringify(kept)}, want shrank (a smaller share of the second run)`);
    const row = page.locator('[data-testid="top-row"][data-function="main.compressBlocks"]');
    assert((await row.getAttribute('data-change')) === 'grew', 'the top table does not mark main.compressBlocks as grown');
    await page.screenshot({ path: join(shots, 'runprofiles-diff.png') });
  });
  failures += failed();
} catch (e) {
  failures++;
  console.log(`FAIL run profiles: ${e.stderr ? `${e.message}\n${e.stderr}` : e.message ?? e}`);
} finally {
  await context?.close();
  await stopAll(procs);
  rmSync(work, { recursive: true, force: true });
}
console.log(failures ? `run profiles: ${failures} check(s) failed` : 'run profiles: all checks passed');
process.exit(failures ? 1 : 0);
