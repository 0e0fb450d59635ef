// Browser checks of the views' behaviour (run by checks.mjs, after its own, on the same
// seeded server): a Search / Run with an unchanged URL runs the query again with a new
// "now", the live tail's histogram follows, stack traces are preformatted, a service has one
// colour in every view, trace search sorts, the logs view's LogQL mode, zoom out / shift /
// auto-refresh, and where the cross-links lead (the URL and the content of the target page).
export async function viewChecks({ page, base, expected, check, assert, shot, rows }) {
  const otlpURL = process.env.LOUPE_OTLP_URL;
  async function postLogs(service, bodies, extra = {}) {
    const nowNs = BigInt(Date.now()) * 1000000n;
    const logRecords = bodies.map((b, i) => ({ timeUnixNano: (nowNs - BigInt(i) * 1000000n).toString(), severityText: 'INFO', severityNumber: 9, body: { stringValue: b }, ...extra }));
    const res = await fetch(`${otlpURL}/v1/logs`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeLogs: [{ logRecords }] }] }),
    });
    assert(res.ok, `POST /v1/logs: ${res.status}`);
  }
  const rowTexts = () => page.$$eval('[data-testid="log-row"]', (els) => els.map((e) => e.textContent));
  const waitRows = (pred, arg, timeout = 10000) => page.waitForFunction(pred, arg, { timeout });
  const samePath = () => new URL(page.url()).pathname + new URL(page.url()).search;

  await check('logs: Search with an unchanged URL runs the query again', async () => {
    const marker = `rerun-${Date.now()}`;
    await page.goto(`${base}/logs?q=${marker}&from=now-15m`);
    await page.locator('.empty-state').waitFor({ timeout: 10000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="histogram-total"]')?.dataset.total === '0', null, { timeout: 10000 });
    const url = samePath();
    await postLogs('rerun', [`${marker} arrived after the page`]);
    await page.getByTestId('logs-run').click();
    await waitRows((m) => [...document.querySelectorAll('[data-testid="log-row"]')].some((r) => r.textContent.includes(m)), marker)
      .catch(() => { throw new Error('the record sent after the page loaded did not show up after Search'); });
    assert(samePath() === url, `the URL changed: ${samePath()}, was ${url}`);
    // The histogram is counted again too.
    await page.waitForFunction(() => document.querySelector('[data-testid="histogram-total"]')?.dataset.total === '1', null, { timeout: 10000 })
      .catch(async () => { throw new Error(`histogram total ${await page.getByTestId('histogram-total').getAttribute('data-total')}, want 1`); });
  });

  await check('logs: the live tail histogram follows the new records', async () => {
    const marker = `livehist-${Date.now()}`;
    await page.goto(`${base}/logs?q=${marker}&live=1&from=now-15m`);
    await page.waitForFunction(() => document.querySelector('[data-testid="histogram-total"]')?.dataset.total === '0', null, { timeout: 10000 });
    await postLogs('tail', [1, 2, 3].map((i) => `${marker} number ${i}`));
    await waitRows(() => document.querySelectorAll('[data-testid="log-row"]').length === 3, null);
    await page.waitForFunction(() => document.querySelector('[data-testid="histogram-total"]')?.dataset.total === '3', null, { timeout: 15000 })
      .catch(async () => { throw new Error(`histogram total ${await page.getByTestId('histogram-total').getAttribute('data-total')} while 3 records are listed`); });
  });

  await check('metrics: Run query with an unchanged URL runs it again with a new "now"', async () => {
    const ends = [];
    const onReq = (r) => {
      if (r.url().includes('/api/v1/query_range')) ends.push(Number(new URL(r.url()).searchParams.get('end')));
    };
    page.on('request', onReq);
    try {
      // The gauge's name may carry its unit (e2e_temperature_celsius), so match by prefix.
      await page.goto(`${base}/query?${new URLSearchParams({ expr: `{__name__=~"${expected.metrics.gauge}.*"}` })}`);
      await page.getByTestId('metric-chart').waitFor({ timeout: 10000 });
      const url = samePath();
      await page.waitForTimeout(1200);
      const n = ends.length;
      await page.getByTestId('metrics-run').click();
      const deadline = Date.now() + 10000;
      while (ends.length === n && Date.now() < deadline) await page.waitForTimeout(100);
      assert(ends.length > n, 'Run query with the same URL sent no new query');
      assert(ends.at(-1) - ends[n - 1] >= 1, `the new query ends at ${ends.at(-1)}, the first at ${ends[n - 1]}: "now" did not move`);
      assert(samePath() === url, `the URL changed: ${samePath()}`);
      await page.getByTestId('metric-chart').waitFor({ timeout: 10000 });
    } finally {
      page.off('request', onReq);
    }
  });

  await check('traces: Search with an unchanged URL finds a trace sent since', async () => {
    const svc = `late-${Date.now()}`;
    await page.goto(`${base}/traces?service=${svc}&from=now-15m`);
    await page.locator('.empty-state').waitFor({ timeout: 10000 });
    const url = samePath();
    const now = BigInt(Date.now()) * 1000000n;
    const res = await fetch(`${otlpURL}/v1/traces`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: svc } }] }, scopeSpans: [{ spans: [{ traceId: 'abcdef0123456789abcdef0123456789'.replace(/^.{6}/, Date.now().toString(16).slice(-6)), spanId: '0123456789abcdef', name: 'late span', kind: 2, startTimeUnixNano: (now - 5000000n).toString(), endTimeUnixNano: now.toString() }] }] }] }),
    });
    assert(res.ok, `POST /v1/traces: ${res.status}`);
    await page.getByTestId('trace-search').click();
    await waitRows(() => document.querySelectorAll('[data-testid="trace-row"]').length === 1, null)
      .catch(() => { throw new Error('the trace sent after the page loaded did not show up after Search'); });
    assert(samePath() === url, `the URL changed: ${samePath()}`);
  });

  await check('traces: sorting by duration, span count and start time', async () => {
    await page.goto(`${base}/traces?service=frontend&sort=duration`);
    await waitRows(() => document.querySelectorAll('[data-testid="trace-row"]').length >= 10, null);
    const col = (attr) => page.$$eval('[data-testid="trace-row"]', (els, a) => els.map((e) => Number(e.getAttribute(a))), attr);
    const ordered = (xs, dir) => xs.every((x, i) => i === 0 || (dir === 'asc' ? xs[i - 1] <= x : xs[i - 1] >= x));
    let d = await col('data-duration-ns');
    assert(ordered(d, 'desc') && d[0] > d.at(-1), `durations not descending: ${d}`);
    await page.getByTestId('sort-duration').click();
    await page.waitForURL(/sort=duration&dir=asc/);
    d = await col('data-duration-ns');
    assert(ordered(d, 'asc') && d[0] < d.at(-1), `durations not ascending: ${d}`);
    await page.getByTestId('trace-sort').selectOption('spans');
    await page.waitForURL(/sort=spans&dir=asc/);
    assert(ordered(await col('data-spans'), 'asc'), 'span counts not ascending');
    await page.getByTestId('sort-start').click();
    await page.waitForURL((u) => !u.search.includes('sort=') && !u.search.includes('dir='));
    const st = await page.$$eval('[data-testid="trace-row"]', (els) => els.map((e) => BigInt(e.dataset.startNs)));
    assert(st.every((x, i) => i === 0 || st[i - 1] >= x), 'start times not newest first');
    await page.getByTestId('trace-sort-dir').selectOption('asc');
    await page.waitForURL(/dir=asc/);
    const st2 = await page.$$eval('[data-testid="trace-row"]', (els) => els.map((e) => BigInt(e.dataset.startNs)));
    assert(st2.every((x, i) => i === 0 || st2[i - 1] <= x), 'start times not oldest first');
    await shot('traces-sorted');
  });

  await check('logs: a stack trace is shown as a preformatted block', async () => {
    await page.goto(`${base}/logs?q=IllegalStateException`);
    await waitRows(() => document.querySelectorAll('[data-testid="log-row"]').length === 1, null);
    const row = rows('log-row').first();
    const collapsed = await row.innerText();
    assert(collapsed.includes('IllegalStateException: gateway refused the card') && !collapsed.includes('Gateway.send'), `collapsed row: ${collapsed}`);
    assert((await row.getByTestId('more-lines').innerText()).includes('+2 lines'), 'no "+2 lines" marker on the collapsed row');
    await row.locator('.log-line').click();
    const body = page.getByTestId('log-detail').getByTestId('body-block');
    const lines = (await body.innerText()).split('\n');
    assert(lines.length === 3 && /^\s+at com\.example\.pay\.Gateway\.send/.test(lines[1]), `body lines: ${JSON.stringify(lines)}`);
    const attr = page.locator('[data-testid="log-detail"] pre[data-key="exception.stacktrace"]');
    const attrLines = (await attr.innerText()).split('\n');
    assert(attrLines.length === 4 && attrLines.join('\n') === expected.logs.stackTrace, `exception.stacktrace lines: ${JSON.stringify(attrLines)}`);
    await shot('logs-stacktrace');
  });

  await check('one colour per service in every view', async () => {
    const seen = new Map(); // service -> Map(colour -> [where])
    const collect = async (where) => {
      const got = await page.$$eval('[data-svc]', (els) => els.map((e) => [e.dataset.svc, getComputedStyle(e).backgroundColor]));
      assert(got.length > 0, `no service colours on ${where}`);
      for (const [svc, c] of got) {
        if (!seen.has(svc)) seen.set(svc, new Map());
        const m = seen.get(svc);
        m.set(c, [...(m.get(c) ?? []), where]);
      }
    };
    await page.goto(`${base}/logs?service=payments&service=checkout&service=frontend`);
    await waitRows(() => document.querySelectorAll('[data-testid="log-row"] [data-svc]').length > 5, null);
    await collect('logs');
    await page.goto(`${base}/traces`);
    await waitRows(() => document.querySelectorAll('[data-testid="trace-row"]').length > 5, null);
    await collect('trace search');
    await page.goto(`${base}/traces/${expected.knownTrace.traceId}`);
    await waitRows(() => document.querySelectorAll('.wf-bar[data-svc]').length === 4, null);
    await collect('trace waterfall');
    await page.goto(`${base}/services`);
    await page.getByTestId('services-table').waitFor({ timeout: 10000 });
    await collect('services');
    await page.goto(`${base}/services/checkout`);
    await page.getByTestId('span-names-table').waitFor({ timeout: 10000 });
    await collect('service');
    await page.goto(`${base}/runs?name=demo`);
    await waitRows(() => document.querySelectorAll('[data-testid="run-row"] [data-svc]').length === 2, null);
    await collect('runs');
    await page.goto(`${base}/logs?service=demo&from=now-1h`);
    await waitRows(() => document.querySelectorAll('[data-testid="log-row"] [data-svc="demo"]').length > 0, null);
    await collect('logs of demo');
    for (const [svc, m] of seen) {
      assert(m.size === 1, `${svc} has ${m.size} colours: ${JSON.stringify([...m])}`);
    }
    for (const svc of ['frontend', 'checkout', 'payments', 'demo']) assert(seen.has(svc), `${svc} has no colour anywhere`);
    const main = ['frontend', 'checkout', 'payments'].map((x) => [...seen.get(x).keys()][0]);
    assert(new Set(main).size === 3, `frontend, checkout and payments share a colour: ${main}`);
    assert([...seen.get('demo').values()][0].length >= 2, 'demo coloured in the runs and in its logs');
  });

  await check('logs: LogQL mode lists lines and charts metric queries', async () => {
    await page.goto(`${base}/logs?service=payments`);
    await page.getByTestId('logs-mode-logql').click();
    await page.waitForURL(/mode=logql/);
    const input = page.getByTestId('logql-input');
    assert((await input.inputValue()).includes('service_name=~"payments"'), `the search did not carry over: ${await input.inputValue()}`);
    await input.fill('{service_name="payments"} |= "declined"');
    await page.getByTestId('logql-run').click();
    await page.waitForURL(/logql=/);
    await waitRows((n) => document.querySelectorAll('[data-testid="logql-row"]').length === n, expected.logs.declined);
    const texts = await page.$$eval('[data-testid="logql-row"]', (els) => els.map((e) => e.textContent));
    assert(texts.every((t) => t.includes('declined') && t.includes('payments')), `a LogQL row without "declined": ${texts.find((t) => !t.includes('declined'))}`);
    await rows('logql-row').first().locator('.log-line').click();
    assert((await page.getByTestId('logql-detail').innerText()).includes('detected_level'), 'the expanded line lacks its labels');
    await shot('logs-logql');
    await input.fill('sum by (detected_level) (count_over_time({service_name="payments"}[5m]))');
    await input.press('Enter');
    const chart = page.getByTestId('metric-chart');
    await chart.waitFor({ timeout: 10000 });
    const legend = await chart.locator('.u-legend').innerText();
    assert(legend.includes('detected_level="error"') && legend.includes('detected_level="info"'), `legend: ${legend}`);
    await shot('logs-logql-metric');
    await input.fill('{service_name=');
    await input.press('Enter');
    const err = page.locator('.error-box');
    await err.waitFor({ timeout: 10000 });
    assert((await err.innerText()).includes('parse error'), `LogQL error: ${await err.innerText()}`);
    await page.getByTestId('logs-mode-search').click();
    await page.waitForURL((u) => !u.search.includes('mode='));
    await page.getByTestId('logs-search').waitFor();
  }, { allow: [/status of 400/] });

  // histogramShows waits until the histogram's x axis spans [fromMs, toMs] (to within a minute).
  const histogramShows = (fromMs, toMs) =>
    page.waitForFunction(([a, b]) => {
      const el = document.querySelector('[data-testid="log-histogram"] .chart');
      return el && Math.abs(Number(el.dataset.xMin) * 1000 - a) < 60_000 && Math.abs(Number(el.dataset.xMax) * 1000 - b) < 60_000;
    }, [fromMs, toMs], { timeout: 10000 }).catch(async () => {
      const r = await page.$eval('[data-testid="log-histogram"] .chart', (el) => [el.dataset.xMin, el.dataset.xMax].map((x) => new Date(Number(x) * 1000).toISOString()));
      throw new Error(`the histogram shows ${r.join(' to ')}, want ${new Date(fromMs).toISOString()} to ${new Date(toMs).toISOString()}`);
    });
  await check('range: zoom out, shift earlier and later, auto-refresh', async () => {
    const marker = `autorefresh-${Date.now()}`;
    await page.goto(`${base}/logs?q=${marker}&from=now-15m`);
    await page.locator('.empty-state').waitFor({ timeout: 10000 });
    await page.getByTestId('range-zoom-out').click();
    await page.waitForURL(/from=now-30m/);
    assert(!page.url().includes('to='), `zoom out of a relative range: ${page.url()}`);
    await page.getByTestId('range-earlier').click();
    await page.waitForURL(/from=\d{4}-.*&to=\d{4}-/);
    const u = new URL(page.url()).searchParams;
    const from = Date.parse(u.get('from'));
    const to = Date.parse(u.get('to'));
    assert(Math.abs(to - from - 30 * 60_000) < 2000, `shifted span ${(to - from) / 1000}s, want 1800s`);
    assert(Math.abs(Date.now() - 15 * 60_000 - to) < 60_000, `shifted end ${u.get('to')}, want about 15 minutes ago`);
    await histogramShows(from, to);
    await page.getByTestId('range-later').click();
    await page.waitForURL((x) => x.searchParams.get('from') === 'now-30m' && !x.searchParams.has('to'));
    await histogramShows(Date.now() - 30 * 60_000, Date.now());
    await page.getByTestId('auto-refresh').selectOption('5s');
    await page.waitForURL(/refresh=5s/);
    await postLogs('rerun', [`${marker} seen by auto-refresh`]);
    await waitRows((m) => [...document.querySelectorAll('[data-testid="log-row"]')].some((r) => r.textContent.includes(m)), marker, 15000)
      .catch(() => { throw new Error('auto-refresh every 5s did not bring the new record within 15s'); });
    // The interval stays on across a new search, and off takes it out of the URL.
    await page.getByTestId('logs-search').fill(`${marker} seen`);
    await page.getByTestId('logs-search').press('Enter');
    await page.waitForURL((x) => x.searchParams.get('q') === `${marker} seen` && x.searchParams.get('refresh') === '5s');
    await shot('logs-range-controls');
    await page.getByTestId('auto-refresh').selectOption('');
    await page.waitForURL((x) => !x.searchParams.has('refresh'));
  });

  await check('links: log -> trace -> span logs, with the target pages\' content', async () => {
    const kt = expected.knownTrace;
    const charge = kt.spans.find((s) => s.name === 'charge');
    const line = kt.chargeLogs[0];
    await page.goto(`${base}/logs?q=${encodeURIComponent(`"${line}"`)}`);
    await waitRows(() => document.querySelectorAll('[data-testid="log-row"]').length === 1, null);
    await rows('log-row').first().locator('a.log-trace').click();
    await page.waitForURL((u) => u.pathname === `/traces/${kt.traceId}` && u.searchParams.get('span') === charge.id)
      .catch(() => { throw new Error(`the log's trace link led to ${page.url()}, want /traces/${kt.traceId}?span=${charge.id}`); });
    await waitRows((n) => document.querySelectorAll('[data-testid="span-row"]').length === n, kt.spans.length);
    const detail = page.getByTestId('span-detail');
    await detail.waitFor({ timeout: 10000 });
    assert((await detail.locator('h3').innerText()).includes('charge'), 'the linked span is not the one shown');
    assert(await page.locator(`[data-span-id="${charge.id}"]`).evaluate((e) => e.classList.contains('selected')), 'the linked span is not selected');
    // The trace's logs, below the waterfall, are exactly the trace's.
    await waitRows((n) => document.querySelectorAll('[data-testid="trace-logs"] .log-line').length === n, kt.logs.length);
    // Span -> its logs in the explorer.
    await detail.getByTestId('span-logs-link').click();
    await page.waitForURL((u) => u.pathname === '/logs' && u.searchParams.get('span_id') === charge.id)
      .catch(() => { throw new Error(`the span's logs link led to ${page.url()}`); });
    await waitRows((n) => document.querySelectorAll('[data-testid="log-row"]').length === n, kt.chargeLogs.length);
    assert(JSON.stringify((await rowTexts()).map((t) => kt.chargeLogs.find((l) => t.includes(l)))) === JSON.stringify(kt.chargeLogs), `span logs: ${await rowTexts()}`);
    // Trace -> all its logs in the explorer.
    await page.goBack();
    await page.waitForURL((u) => u.pathname === `/traces/${kt.traceId}`);
    await page.getByTestId('trace-logs-link').click();
    await page.waitForURL((u) => u.pathname === '/logs' && u.searchParams.get('trace_id') === kt.traceId && !u.searchParams.get('span_id'));
    await waitRows((n) => document.querySelectorAll('[data-testid="log-row"]').length === n, kt.logs.length);
    const texts = await rowTexts();
    for (const l of kt.logs) assert(texts.some((t) => t.includes(l)), `trace logs lack "${l}"`);
  });

  await check('links: run -> logs and run -> trace, with the target pages\' content', async () => {
    await page.goto(`${base}/runs?name=demo&status=succeeded`);
    await waitRows(() => document.querySelectorAll('[data-testid="run-row"]').length === 1, null);
    const runId = await rows('run-row').first().getAttribute('data-run-id');
    await rows('run-link').first().click();
    await page.waitForURL((u) => u.pathname === `/runs/${runId}`);
    await page.getByTestId('run-logs-link').click();
    await page.waitForURL((u) => u.pathname === '/logs' && u.searchParams.get('q') === `loupe.run.id=${runId}`)
      .catch(() => { throw new Error(`the run's logs link led to ${page.url()}`); });
    await waitRows(() => document.querySelectorAll('[data-testid="log-row"]').length >= 2, null);
    const texts = await rowTexts();
    assert(texts.some((t) => t.includes('hello')) && texts.some((t) => t.includes('almost done')), `run output in the explorer: ${texts}`);
    assert(texts.every((t) => !t.includes('something went wrong')), 'the other run\'s output is listed');
    await page.goBack();
    await page.getByTestId('run-trace-link').click();
    await page.waitForURL(/\/traces\/[0-9a-f]{32}/);
    await page.getByTestId('trace-run-link').waitFor({ timeout: 10000 });
    const root = await rows('span-row').first().innerText();
    assert(root.includes('demo'), `the run's trace root: ${root}`);
    assert((await page.getByTestId('trace-run-link').getAttribute('href')) === `/runs/${runId}`, 'the trace links back to another run');
    await page.getByTestId('trace-run-link').click();
    await page.waitForURL((u) => u.pathname === `/runs/${runId}`);
    assert((await page.getByTestId('run-cmdline').innerText()).includes('echo hello'), 'back on the run page');
  });
}
