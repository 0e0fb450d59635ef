// Browser checks of the UI against a live, seeded Loupe server, in headless Debian Chromium
// driven by playwright-core (no browser is downloaded).
//
//   LOUPE_UI_URL=http://127.0.0.1:port LOUPE_EXPECTED=expected.json \
//   LOUPE_SCREENSHOTS=dir [LOUPE_PERF=1] node e2e/checks.mjs
//
// Exits non-zero when a check failed. A check fails on an error in the browser console or
// an uncaught exception in the page, unless the check lists it as expected (`allow`: the
// "Failed to load resource" line of an API error it provokes on purpose). With
// LOUPE_PERF=1 it also measures time to
// first render and frame times while scrolling, and writes them to <screenshots>/perf.json;
// those figures are reported, never asserted.
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { viewChecks } from './checks-views.mjs';
import { errorChecks } from './checks-errors.mjs';
import { profileChecks, profilesEmptyCheck } from './checks-profiles.mjs';
import { dashboardChecks } from './checks-dashboards.mjs';
import { dashboardPanelChecks } from './checks-dashpanels.mjs';

const base = process.env.LOUPE_UI_URL;
const expected = JSON.parse(readFileSync(process.env.LOUPE_EXPECTED, 'utf8'));
const shots = process.env.LOUPE_SCREENSHOTS || 'e2e-artifacts';
const perf = process.env.LOUPE_PERF === '1';
mkdirSync(shots, { recursive: true });

// A fresh profile directory per run; launchPersistentContext is how Playwright takes one.
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'loupe-chromium-')), {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
  viewport: { width: 1440, height: 900 },
  colorScheme: 'dark',
});
const page = await context.newPage();
const consoleErrors = [];
page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.stack ?? e}`));

// LOUPE_ONLY=regex runs only the checks whose name matches (the others are skipped).
const only = process.env.LOUPE_ONLY ? new RegExp(process.env.LOUPE_ONLY) : null;
let failures = 0;
const results = [];
/**
 * check runs fn as one named check. It fails when fn throws, and when the page logged a
 * console error or threw while it ran, unless every such error matches one of allow (the
 * errors a check provokes on purpose, such as the 400 of a bad query).
 */
async function check(name, fn, { allow = [] } = {}) {
  if (only && !only.test(name)) return;
  const t = Date.now();
  const before = consoleErrors.length;
  try {
    await fn();
    await page.waitForTimeout(100); // errors of the last render arrive asynchronously
    const unexpected = consoleErrors.slice(before).filter((e) => !allow.some((re) => re.test(e)));
    if (unexpected.length) throw new Error(`browser console errors:\n  ${unexpected.join('\n  ')}`);
    results.push({ name, ok: true, ms: Date.now() - t });
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failures++;
    results.push({ name, ok: false, error: String(e) });
    console.log(`FAIL ${name}: ${e.message ?? e}`);
    await page.screenshot({ path: join(shots, `fail-${name.replace(/\W+/g, '-')}.png`) }).catch(() => {});
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function shot(name) {
  await page.waitForTimeout(150); // let charts finish drawing
  await page.screenshot({ path: join(shots, `${name}.png`) });
}
const rows = (testId) => page.locator(`[data-testid="${testId}"]`);

if (process.env.LOUPE_EMPTY === '1') {
  // Before any data arrives, every page tells a newcomer where to send it: the addresses
  // this server listens on (random ports here), not the default ones.
  const otlpHTTP = process.env.LOUPE_OTLP_URL; // http://127.0.0.1:port
  const otlpGRPC = process.env.LOUPE_OTLP_GRPC; // 127.0.0.1:port
  assert(otlpHTTP && otlpGRPC, 'LOUPE_OTLP_URL and LOUPE_OTLP_GRPC must be set');
  const showsAddresses = async (what) => {
    const box = page.locator('.empty-state');
    await box.waitFor({ timeout: 10000 });
    try {
      await page.waitForFunction(([h, g]) => {
        const t = document.querySelector('.empty-state')?.innerText ?? '';
        return t.includes(h) && t.includes(g);
      }, [otlpHTTP, otlpGRPC], { timeout: 10000 });
    } catch {
      throw new Error(`the ${what} empty state does not show ${otlpHTTP} and ${otlpGRPC}: ${(await box.innerText()).slice(0, 300)}`);
    }
    const text = await box.innerText();
    assert(!/:4318\b|:4317\b/.test(text), `the ${what} empty state still shows a default port: ${text.slice(0, 300)}`);
    return text;
  };
  for (const [name, path] of [['logs', '/logs'], ['traces', '/traces'], ['metrics', '/query'], ['services', '/services']]) {
    await check(`empty ${name}: shows the server's own OTLP addresses`, async () => {
      await page.goto(`${base}${path}`);
      const text = await showsAddresses(name);
      assert(text.includes(`curl -X POST ${otlpHTTP}/v1/`), `the curl example does not use ${otlpHTTP}: ${text.slice(0, 400)}`);
      if (name === 'logs') await shot('empty-logs');
    });
  }
  await check('empty runs: shows how to record a job, with the real address', async () => {
    await page.goto(`${base}/runs`);
    const box = page.locator('.empty-state');
    await box.waitFor({ timeout: 10000 });
    await page.waitForFunction((h) => (document.querySelector('.empty-state')?.innerText ?? '').includes(`loupe run --server ${h}`), otlpHTTP, { timeout: 10000 })
      .catch(async () => { throw new Error(`empty runs state lacks "loupe run --server ${otlpHTTP}": ${(await box.innerText()).slice(0, 300)}`); });
  });
  await check('empty errors: shows how to send errors, with the real address', async () => {
    const http = process.env.LOUPE_HTTP; // 127.0.0.1:port
    assert(http, 'LOUPE_HTTP must be set');
    await page.goto(`${base}/errors`);
    const box = page.getByTestId('errors-empty');
    await box.waitFor({ timeout: 10000 });
    await page.waitForFunction(([h, o]) => {
      const t = document.querySelector('[data-testid="errors-empty"]')?.innerText ?? '';
      return t.includes(`@${h}/1`) && t.includes(o);
    }, [http, otlpHTTP], { timeout: 10000 })
      .catch(async () => { throw new Error(`empty errors state lacks the DSN on ${http} or ${otlpHTTP}: ${(await box.innerText()).slice(0, 400)}`); });
  });
  await profilesEmptyCheck({ page, base, check, assert });
  await context.close();
  console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}

await check('logs: free text search shows the matching records', async () => {
  await page.goto(`${base}/logs`);
  await page.getByTestId('logs-search').fill('declined');
  await page.getByTestId('logs-search').press('Enter');
  await page.waitForURL(/q=declined/);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="log-row"]').length === n, expected.logs.declined, { timeout: 10000 });
  const texts = await rows('log-row').allInnerTexts();
  assert(texts.every((t) => /declined/i.test(t)), `a row without "declined": ${texts.find((t) => !/declined/i.test(t))}`);
  await page.locator('[data-testid="log-histogram"] canvas').waitFor();
});

await check('logs: attribute filter and expanded row', async () => {
  await page.getByTestId('logs-search').fill('order.id=424242');
  await page.getByTestId('logs-search').press('Enter');
  await page.waitForFunction(() => {
    const r = document.querySelectorAll('[data-testid="log-row"]');
    return r.length === 1 && r[0].textContent.includes('refund rejected');
  }, null, { timeout: 10000 });
  await rows('log-row').first().locator('.log-line').click();
  const detail = page.getByTestId('log-detail');
  await detail.waitFor();
  const text = await detail.innerText();
  assert(text.includes('refund.reason') && text.includes('duplicate'), `detail lacks the attributes: ${text.slice(0, 300)}`);
  await shot('logs-detail');
  // The URL alone reproduces the view.
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length === 1, null, { timeout: 10000 });
  assert((await page.getByTestId('logs-search').inputValue()) === 'order.id=424242', 'search bar restored from the URL');
});

await check('logs: overview page', async () => {
  await page.goto(`${base}/logs?service=payments&service=checkout&service=frontend`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length > 10, null, { timeout: 10000 });
  await page.locator('[data-testid="log-histogram"] canvas').waitFor();
  await shot('logs');
});

await check('logs: dragging over the histogram zooms the range', async () => {
  const over = page.locator('[data-testid="log-histogram"] .u-over');
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForURL(/from=\d{4}-\d\d-\d\dT.*&to=\d{4}-/, { timeout: 5000 });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length > 0, null, { timeout: 10000 });
});

await check('logs: live tail shows a record sent while the view is open', async () => {
  const otlp = process.env.LOUPE_OTLP_URL;
  assert(otlp, 'LOUPE_OTLP_URL is not set');
  const marker = `livetail-${Date.now()}`;
  await page.goto(`${base}/logs?q=${marker}&live=1`);
  await page.locator('.empty-state').waitFor({ timeout: 10000 });
  const nowNs = (BigInt(Date.now()) * 1000000n).toString();
  const res = await fetch(`${otlp}/v1/logs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'tail' } }] }, scopeLogs: [{ logRecords: [{ timeUnixNano: nowNs, severityText: 'INFO', severityNumber: 9, body: { stringValue: `${marker} arrived` } }] }] }] }),
  });
  assert(res.ok, `POST /v1/logs: ${res.status}`);
  // Generous: the tail polls, and on a loaded machine (helpers, CI beside) one poll's query
  // can take seconds. The check is that the record appears, not how fast.
  await page.waitForFunction((m) => [...document.querySelectorAll('[data-testid="log-row"]')].some((r) => r.textContent.includes(m)), marker, { timeout: 30000 });
});

await check('traces: search, open a trace, waterfall nesting and span detail', async () => {
  await page.goto(`${base}/traces`);
  await page.getByTestId('trace-service').selectOption('frontend');
  await page.getByTestId('trace-search').click();
  await page.waitForURL(/service=frontend/);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="trace-row"]').length >= 10, null, { timeout: 10000 });
  await page.locator('[data-testid="trace-scatter"] canvas').waitFor();
  await shot('traces');
  const kt = expected.knownTrace;
  await rows('trace-row').filter({ hasText: kt.traceId }).click();
  await page.waitForURL(new RegExp(`/traces/${kt.traceId}`));
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="span-row"]').length === n, kt.spans.length, { timeout: 10000 });
  const got = await page.$$eval('[data-testid="span-row"]', (els) => els.map((e) => ({ id: e.dataset.spanId, depth: Number(e.dataset.depth), text: e.textContent })));
  for (const s of kt.spans) {
    const g = got.find((x) => x.id === s.id);
    assert(g, `span ${s.name} (${s.id}) missing from the waterfall`);
    assert(g.depth === s.depth, `span ${s.name} at depth ${g.depth}, want ${s.depth}`);
    assert(g.text.includes(s.name), `row of ${s.id} does not show ${s.name}`);
  }
  // Children come after their parent (depth-first order).
  assert(got[0].id === kt.spans[0].id, 'root first');
  // Each bar's left edge and width, as fractions of the timeline, are its span's start
  // offset and duration over the trace's duration (to within 0.5% of the timeline, 2-4 px).
  const total = Math.max(...kt.spans.map((s) => s.offsetMs + s.durMs));
  for (const s of kt.spans) {
    const g = await page.$eval(`[data-span-id="${s.id}"]`, (row) => {
      const tl = row.querySelector('.wf-timeline').getBoundingClientRect();
      const bar = row.querySelector('.wf-bar').getBoundingClientRect();
      return { left: (bar.left - tl.left) / tl.width, width: bar.width / tl.width };
    });
    const want = { left: s.offsetMs / total, width: s.durMs / total };
    assert(Math.abs(g.left - want.left) < 0.005 && Math.abs(g.width - want.width) < 0.005,
      `bar of ${s.name}: left ${g.left.toFixed(3)} width ${g.width.toFixed(3)}, want ${want.left.toFixed(3)} and ${want.width.toFixed(3)}`);
  }
  // The critical path is outlined: root, the API call and the charge, not the query.
  for (const s of kt.spans) {
    const critical = await page.$eval(`[data-span-id="${s.id}"]`, (row) => row.classList.contains('critical'));
    assert(critical === s.critical, `span ${s.name}: on the critical path ${critical}, want ${s.critical}`);
  }
  const charge = kt.spans.find((s) => s.name === 'charge');
  await page.locator(`[data-span-id="${charge.id}"]`).click();
  const detail = page.getByTestId('span-detail');
  await detail.waitFor();
  const text = await detail.innerText();
  assert(text.includes('payment.method') && text.includes('payments'), `span detail: ${text.slice(0, 300)}`);
  // The exception event's stack trace is a preformatted block, one frame per line.
  const stack = detail.locator('pre[data-key="exception.stacktrace"]');
  assert(await stack.count() === 1, 'no preformatted exception.stacktrace in the span detail');
  const lines = (await stack.innerText()).split('\n');
  assert(lines.length === 4 && /^\s+at com\.example\.pay\.Gateway\.charge/.test(lines[1]), `stack trace lines: ${JSON.stringify(lines)}`);
  await page.getByTestId('trace-logs').locator('.log-line').first().waitFor({ timeout: 10000 });
  await shot('trace');
  // Collapsing the checkout span hides its two children.
  await page.locator(`[data-span-id="${kt.spans[1].id}"] [data-testid="span-toggle"]`).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="span-row"]').length === 2);
});

await check('metrics: autocomplete, range chart with the expected series, table', async () => {
  await page.goto(`${base}/query`);
  const input = page.getByTestId('promql-input');
  await input.click();
  await input.pressSequentially('e2e_temp', { delay: 20 });
  const suggest = page.getByTestId('promql-suggest');
  await suggest.waitFor();
  const first = (await suggest.locator('li').first().innerText()).split('\n')[0].trim();
  assert(first.startsWith(expected.metrics.gauge), `first suggestion ${first}`);
  await input.press('Tab');
  assert((await input.inputValue()) === first, 'Tab accepts the suggestion');
  await input.press('Enter');
  await page.waitForURL(/expr=/);
  const chart = page.getByTestId('metric-chart');
  await chart.waitFor({ timeout: 10000 });
  assert((await chart.getAttribute('data-series')) === '2', `series: ${await chart.getAttribute('data-series')}`);
  const legend = await chart.locator('.u-legend').innerText();
  for (const room of expected.metrics.series) assert(legend.includes(`room="${room}"`), `legend lacks room=${room}: ${legend}`);
  await chart.locator('.u-over').hover({ position: { x: 300, y: 150 } });
  await shot('metrics');
  await page.getByTestId('tab-table').click();
  await page.getByTestId('metric-table').waitFor();
  assert((await page.locator('[data-testid="metric-table"] tbody tr').count()) === 2, 'two rows in the table');
  // An engine error is shown as it is.
  await page.goto(`${base}/query?expr=${encodeURIComponent('sum(')}`);
  await page.locator('.error-box').waitFor({ timeout: 10000 });
}, { allow: [/status of 400/] });

await check('services: RED numbers match the seeded data', async () => {
  await page.goto(`${base}/services`);
  await page.getByTestId('services-table').waitFor({ timeout: 10000 });
  for (const [svc, want] of Object.entries(expected.red)) {
    const row = page.locator(`[data-testid="red-row"][data-name="${svc}"]`);
    const count = await row.getByTestId('red-count').innerText();
    assert(count.replace(/\D/g, '') === String(want.count), `${svc}: count ${count}, want ${want.count}`);
    const errs = await row.getByTestId('red-errors').innerText();
    assert(errs.includes(`(${want.errors})`), `${svc}: errors ${errs}, want ${want.errors}`);
  }
  await shot('services');
  await page.locator('[data-testid="red-row"][data-name="checkout"] a').click();
  await page.getByTestId('span-names-table').waitFor({ timeout: 10000 });
  const names = await page.$$eval('[data-testid="span-names-table"] [data-testid="red-row"]', (els) => els.map((e) => e.dataset.name).sort());
  assert(JSON.stringify(names) === JSON.stringify(['POST /api/checkout', 'SELECT orders']), `span names ${names}`);
  await shot('service');
});

await check('theme toggle is remembered', async () => {
  await page.goto(`${base}/services`);
  const before = await page.evaluate(() => document.documentElement.dataset.theme);
  await page.getByTestId('theme-toggle').click();
  const after = await page.evaluate(() => document.documentElement.dataset.theme);
  assert(before !== after, 'theme changed');
  await page.reload();
  assert((await page.evaluate(() => document.documentElement.dataset.theme)) === after, 'theme kept after reload');
  await page.getByTestId('services-table').waitFor({ timeout: 10000 });
  await shot('services-light');
  await page.getByTestId('theme-toggle').click();
});

// ---- job runs: two real `loupe run` runs of "demo" and the pushed "train" records ----
const train = expected.runs?.train;

await check('runs: the list shows every run with its status', async () => {
  await page.goto(`${base}/runs`);
  await page.getByTestId('runs-table').waitFor({ timeout: 10000 });
  const got = await page.$$eval('[data-testid="run-row"]', (els) => els.map((e) => ({ name: e.dataset.name, status: e.dataset.status, text: e.textContent })));
  const demo = got.filter((r) => r.name === 'demo');
  assert(demo.length === 2, `demo runs listed: ${demo.length}, want 2`);
  assert(demo.some((r) => r.status === 'succeeded') && demo.some((r) => r.status === 'failed'), `demo statuses: ${demo.map((r) => r.status)}`);
  assert(got.filter((r) => r.name === 'train').length === train.count, `train runs listed: ${got.filter((r) => r.name === 'train').length}, want ${train.count}`);
  const failedBadge = await page.locator('[data-testid="run-row"][data-name="demo"][data-status="failed"] [data-testid="run-status"]').innerText();
  assert(failedBadge.includes('failed'), `failed badge: ${failedBadge}`);
  const b = await page.locator(`[data-run-id="${train.b}"]`).innerText();
  assert(b.includes('6h0m') && b.includes('node17') && b.includes('GiB') && b.includes('lr=0.1'), `train row: ${b}`);
  // One job: its duration over time, and the filter in the URL.
  await page.getByTestId('runs-name').selectOption('train');
  await page.waitForURL(/name=train/);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="run-row"]').length === n, train.count, { timeout: 10000 });
  await page.locator('[data-testid="runs-duration-chart"] canvas').waitFor({ timeout: 10000 });
  const drift = await page.getByTestId('runs-drift').innerText();
  assert(/rose/.test(drift), `drift line: ${drift}`);
  await shot('runs');
  // Paging: three runs a page, then "Load more" until the last page.
  await page.goto(`${base}/runs?name=train&limit=3`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="run-row"]').length === 3, null, { timeout: 10000 });
  for (const n of [6, train.count]) {
    await page.getByTestId('runs-more').click();
    await page.waitForFunction((m) => document.querySelectorAll('[data-testid="run-row"]').length === m, n, { timeout: 10000 });
  }
  assert(await page.getByTestId('runs-more').count() === 0, 'no "Load more" after the last page');
  const ids = await page.$$eval('[data-testid="run-row"]', (els) => els.map((e) => e.dataset.runId));
  assert(new Set(ids).size === train.count, `pages overlap: ${ids}`);
  await page.getByTestId('runs-status').selectOption('failed');
  await page.waitForURL(/status=failed/);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="run-row"]').length === n, train.failed, { timeout: 10000 });
});

await check('runs: a run whose loupe run died is lost, and its badge says why', async () => {
  await page.goto(`${base}/runs?status=lost`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="run-row"]').length === 1, null, { timeout: 10000 });
  const row = page.locator(`[data-run-id="${expected.runs.lost}"]`);
  assert((await row.getAttribute('data-status')) === 'lost', `status: ${await row.getAttribute('data-status')}`);
  const badge = row.getByTestId('run-status');
  const title = await badge.getAttribute('title');
  assert(/lost since/.test(title) && /No heartbeat from loupe run/.test(title), `badge title: ${title}`);
  await page.goto(`${base}/runs/${expected.runs.lost}`);
  const runBadge = page.getByTestId('run-status').first();
  await runBadge.waitFor({ timeout: 10000 });
  assert((await runBadge.innerText()).includes('lost'), `run page badge: ${await runBadge.innerText()}`);
  assert(/last heartbeat/.test(await runBadge.getAttribute('title')), `run page badge title: ${await runBadge.getAttribute('title')}`);
});

await check('runs: a run page shows its metadata, resources and output', async () => {
  await page.goto(`${base}/runs?name=demo&status=succeeded`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="run-row"]').length === 1, null, { timeout: 10000 });
  await rows('run-link').first().click();
  await page.waitForURL(/\/runs\/[0-9a-f]{32}$/);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="run-log-line"]')].some((e) => e.textContent.includes('hello')), null, { timeout: 10000 });
  const head = await page.getByTestId('run-cmdline').innerText();
  assert(head.includes('echo hello'), `command line: ${head}`);
  assert((await page.getByTestId('run-status').first().innerText()).includes('succeeded'), 'status succeeded');
  assert((await page.getByTestId('run-exit').innerText()).includes('exit code 0'), 'exit code 0');
  const host = await page.locator('[data-testid="meta-section"][data-section="Host"]').innerText();
  assert(/hostname/.test(host) && /kernel_version/.test(host), `host section: ${host.slice(0, 200)}`);
  const stderr = await page.locator('.out-stderr').first().innerText();
  assert(stderr.includes('almost done'), `stderr line: ${stderr}`);
  await page.locator('[data-testid="run-chart"] canvas').first().waitFor({ timeout: 10000 });
  await shot('run');
  // The run's trace, and back from its span to the run.
  await page.getByTestId('run-trace-link').click();
  await page.waitForURL(/\/traces\/[0-9a-f]{32}/);
  await page.getByTestId('trace-run-link').waitFor({ timeout: 10000 });
  await page.getByTestId('trace-run-link').click();
  await page.waitForURL(/\/runs\/[0-9a-f]{32}$/);
  await page.getByTestId('run-page').waitFor({ timeout: 10000 });
  // The failed run says how it ended.
  await page.goto(`${base}/runs?name=demo&status=failed`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="run-row"]').length === 1, null, { timeout: 10000 });
  await rows('run-link').first().click();
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="run-log-line"]')].some((e) => e.textContent.includes('something went wrong')), null, { timeout: 10000 });
  assert((await page.getByTestId('run-exit').innerText()).includes('exit code 3'), `exit: ${await page.getByTestId('run-exit').innerText()}`);
});

await check('runs: comparing two runs shows the duration ratio and the package diff', async () => {
  await page.goto(`${base}/runs?name=train`);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="run-row"]').length === n, train.count, { timeout: 10000 });
  // Ticked newest first: the page still puts the older run in a.
  await page.locator(`[data-run-id="${train.b}"] [data-testid="run-select"]`).check();
  await page.locator(`[data-run-id="${train.a}"] [data-testid="run-select"]`).check();
  await page.getByTestId('runs-compare').click();
  await page.waitForURL(new RegExp(`/runs/compare\\?a=${train.a}&b=${train.b}`));
  await page.getByTestId('compare-resources').waitFor({ timeout: 10000 });
  const want = `×${train.durationRatio.toFixed(2)}`;
  const ratio = await page.locator('[data-testid="resource-row"][data-key="duration_seconds"] [data-testid="resource-ratio"]').innerText();
  assert(ratio === want, `duration ratio ${ratio}, want ${want}`);
  assert((await page.getByTestId('compare-duration-ratio').innerText()).includes(want), 'headline ratio');
  const cp = train.changedPackage;
  const numpy = page.locator(`[data-testid="package-row"][data-name="${cp.name}"]`);
  assert((await numpy.getAttribute('data-change')) === 'changed', 'numpy changed');
  const nt = await numpy.innerText();
  assert(nt.includes(cp.a) && nt.includes(cp.b), `numpy row: ${nt}`);
  const ap = train.addedPackage;
  const added = page.locator(`[data-testid="package-row"][data-name="${ap.name}"]`);
  assert((await added.getAttribute('data-change')) === 'added' && (await added.innerText()).includes(ap.b), 'polars added');
  const summary = await page.getByTestId('package-summary').innerText();
  assert(summary.includes(`${train.unchangedPackages} unchanged`), `package summary: ${summary}`);
  for (const [section, key] of [['git', 'commit'], ['host', 'hostname'], ['env', 'OMP_NUM_THREADS']]) {
    assert(await page.locator(`[data-testid="change-row"][data-section="${section}"][data-key="${key}"]`).count() === 1, `no change row ${section}/${key}`);
  }
  await shot('compare');
  // From a run, straight to the comparison with the run before it.
  await page.goto(`${base}/runs/${train.b}`);
  await page.getByTestId('run-compare-previous').click();
  await page.waitForURL(new RegExp(`/runs/compare\\?a=[0-9a-f]{32}&b=${train.b}`));
  await page.getByTestId('compare-resources').waitFor({ timeout: 10000 });
});

await check('an unknown trace shows the API error plainly', async () => {
  await page.goto(`${base}/traces/00000000000000000000000000000001`);
  const box = page.locator('.error-box');
  await box.waitFor({ timeout: 10000 });
  assert((await box.innerText()).includes('not found'), 'says not found');
}, { allow: [/status of 404/] });

// Re-running, the live histogram, stack traces, colours, sorting, LogQL, the range controls
// and where the cross-links lead: checks-views.mjs.
await viewChecks({ page, base, expected, check, assert, shot, rows });
// The Errors list, the issue page and their links: checks-errors.mjs.
await errorChecks({ page, base, expected, check, assert, shot });
// The Profiles page: flame graph, search, zoom, sandwich, diff, span profiles: checks-profiles.mjs.
await profileChecks({ page, base, expected, check, assert, shot });
// Dashboards: create, variables, URL state, explorer links, built-ins, conflicts, import: checks-dashboards.mjs.
await dashboardChecks({ page, base, expected, check, assert, shot });
// Dashboard panels: heatmap, traces, errors, and a 30-panel dashboard: checks-dashpanels.mjs.
await dashboardPanelChecks({ page, base, expected, check, assert, shot });

const figures = {};
if (perf) {
  // Time to first render: from navigation start to the page's "ready" mark.
  figures.firstRenderMs = {};
  const pages = {
    logs: '/logs', traces: '/traces', trace: `/traces/${expected.knownTrace.traceId}`, metrics: `/query?expr=${expected.metrics.gauge}`,
    services: '/services', service: '/services/checkout',
    ...(expected.runs ? { runs: '/runs', compare: `/runs/compare?a=${expected.runs.train.a}&b=${expected.runs.train.b}` } : {}),
  };
  for (const [name, path] of Object.entries(pages)) {
    const samples = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`${base}${path}`);
      await page.waitForFunction((n) => performance.getEntriesByName(`loupe-ready-${n}`).length > 0, name, { timeout: 20000 });
      samples.push(await page.evaluate((n) => performance.getEntriesByName(`loupe-ready-${n}`)[0].startTime, name));
    }
    figures.firstRenderMs[name] = Math.round(samples.sort((a, b) => a - b)[1]);
  }

  // Frame times: scroll a list a fixed distance per animation frame and record the deltas.
  const measureScroll = (selector, pxPerFrame, maxFrames) =>
    page.evaluate(
      ([sel, px, max]) =>
        new Promise((resolve) => {
          const el = document.querySelector(sel);
          const deltas = [];
          let last = performance.now();
          let frames = 0;
          el.scrollTop = 0;
          const step = (t) => {
            deltas.push(t - last);
            last = t;
            el.scrollTop += px;
            frames++;
            if (frames < max && el.scrollTop + el.clientHeight < el.scrollHeight - 1) requestAnimationFrame(step);
            else {
              deltas.shift();
              const s = [...deltas].sort((a, b) => a - b);
              const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
              resolve({ frames: deltas.length, meanMs: +(deltas.reduce((a, b) => a + b, 0) / deltas.length).toFixed(2), p50Ms: +q(0.5).toFixed(2), p95Ms: +q(0.95).toFixed(2), maxMs: +s[s.length - 1].toFixed(2), over50ms: deltas.filter((d) => d > 50).length, scrolledPx: el.scrollTop });
            }
          };
          requestAnimationFrame((t) => {
            last = t;
            requestAnimationFrame(step);
          });
        }),
      [selector, pxPerFrame, maxFrames],
    );

  if (expected.bigTrace) {
    const t0 = Date.now();
    await page.goto(`${base}/traces/${expected.bigTrace.traceId}`);
    await page.getByTestId('trace-span-count').waitFor({ timeout: 60000 });
    figures.bigTraceLoadMs = Date.now() - t0;
    const count = await page.getByTestId('trace-span-count').innerText();
    assert(count.startsWith(String(expected.bigTrace.spanCount)), `big trace shows ${count}`);
    figures.bigTraceScroll240px = await measureScroll('[data-testid="waterfall-rows"]', 240, 2000);
    figures.bigTraceScroll1200px = await measureScroll('[data-testid="waterfall-rows"]', 1200, 2000);
    figures.bigTraceDomRows = await page.locator('[data-testid="span-row"]').count();
    await shot('trace-10000-spans');
  }
  if (expected.bulkLogs) {
    await page.goto(`${base}/logs?service=bulk`);
    await page.locator('[data-testid="log-row"]').first().waitFor({ timeout: 30000 });
    // Load the whole list: scroll to the end, wait for the next page, repeat.
    const loaded = () => page.evaluate(() => Number(document.querySelector('[data-testid="logs-status"]').textContent.split(' ')[0].replace(/\D/g, '')));
    const t0 = Date.now();
    let pages = 0;
    while (Date.now() - t0 < 240000) {
      const n = await loaded();
      if (n >= expected.bulkLogs) break;
      await page.evaluate(() => {
        const el = document.querySelector('[data-testid="log-list"]');
        el.scrollTop = el.scrollHeight;
      });
      await page.waitForFunction((m) => Number(document.querySelector('[data-testid="logs-status"]').textContent.split(' ')[0].replace(/\D/g, '')) > m, n, { timeout: 30000 });
      pages++;
    }
    figures.logListLoadAllMs = Date.now() - t0;
    figures.logListPages = pages;
    figures.logListRecords = await page.evaluate(() => document.querySelector('[data-testid="logs-status"]').textContent);
    figures.logListScroll200px = await measureScroll('[data-testid="log-list"]', 200, 1500);
    figures.logListScroll1300px = await measureScroll('[data-testid="log-list"]', 1300, 2500);
    figures.logListDomRows = await page.locator('[data-testid="log-row"]').count();
    figures.logHeap = await page.evaluate(() => (performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1e6) + ' MB' : 'n/a'));
  }
  writeFileSync(join(shots, 'perf.json'), JSON.stringify(figures, null, 2));
  console.log(JSON.stringify(figures, null, 2));
}

if (consoleErrors.length) console.log(`browser console errors:\n  ${consoleErrors.join('\n  ')}`);
writeFileSync(join(shots, 'results.json'), JSON.stringify({ results, consoleErrors, figures }, null, 2));
await context.close();
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
