// Browser checks of the Dashboards pages (run by checks.mjs on the seeded server, whose
// gauge e2e_temperature has the series room="kitchen" and room="garage"): a dashboard
// created from the UI with a time series and a stat panel survives a reload; changing a
// variable re-queries the panels with the new value; the URL (range and var-NAME) restores
// the same view; a click on a panel's title or chart opens the metrics explorer with the
// query; the built-in dashboards render without panel errors; a stale save shows the
// conflict message and overwrites nothing; a Grafana import shows its report and saves.
import { readFileSync } from 'node:fs';

export async function dashboardChecks({ page, base, expected, check, assert, shot }) {
  // The seeded gauge e2e_temperature (unit Cel) is stored with its unit's suffix; take the
  // name the server lists.
  const names = (await (await fetch(`${base}/api/v1/label/__name__/values`)).json()).data;
  const metric = names.find((n) => n.startsWith(expected.metrics.gauge));
  if (!metric) throw new Error(`no metric named ${expected.metrics.gauge}*: ${names}`);
  const api = async (method, path, body) => {
    const res = await fetch(`${base}/api/loupe/v1/dashboards${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const j = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(j)}`);
    return j.data;
  };
  const panels = page.getByTestId('dash-panel');
  // waitPanels waits until every panel of the grid finished loading (data, no data or error).
  const waitPanels = async (n) => {
    await page.waitForFunction(
      (n) => {
        const ps = [...document.querySelectorAll('[data-testid="dash-panel"]')];
        return ps.length >= n && ps.every((p) => !/Loading…|Waiting for the variables/.test(p.innerText));
      },
      n,
      { timeout: 20000 },
    );
  };
  const panelErrors = () =>
    page.$$eval('[data-testid="dash-panel"]', (ps) =>
      ps.filter((p) => p.querySelector('[data-testid="panel-error"]')).map((p) => `${p.dataset.title}: ${p.querySelector('[data-testid="panel-error"]').innerText}`),
    );

  let createdURL = '';
  await check('dashboards: create a dashboard with a time series and a stat panel from the UI; it is still there after a reload', async () => {
    await page.goto(`${base}/dashboards`);
    await page.getByTestId('dash-list').waitFor({ timeout: 10000 });
    await page.getByTestId('dash-new').click();
    await page.getByTestId('dash-new-title').fill('E2E temperatures');
    await page.getByTestId('dash-create').click();
    await page.waitForURL(/\/dashboards\/[^/?]+\?edit=1/);
    await page.getByTestId('panel-add-form').waitFor();
    await page.getByTestId('panel-add-title').fill('Temperature');
    await page.getByTestId('panel-add-expr').fill(metric);
    await page.getByTestId('panel-add-unit').fill('celsius');
    await page.getByTestId('panel-add').click();
    await page.getByTestId('panel-add-type').selectOption('stat');
    await page.getByTestId('panel-add-title').fill('Rooms');
    await page.getByTestId('panel-add-expr').fill(`count(${metric})`);
    await page.getByTestId('panel-add-unit').fill('');
    await page.getByTestId('panel-add').click();
    await page.getByTestId('dash-save').click();
    await page.getByTestId('dash-edit').waitFor({ timeout: 10000 });
    createdURL = page.url().replace(/\?.*$/, '');
    await page.reload();
    await waitPanels(2);
    assert((await page.getByTestId('dash-title').innerText()) === 'E2E temperatures', 'title after reload');
    const types = await panels.evaluateAll((ps) => ps.map((p) => `${p.dataset.panelType}:${p.dataset.title}`));
    assert(JSON.stringify(types) === JSON.stringify(['timeseries:Temperature', 'stat:Rooms']), `panels after reload: ${JSON.stringify(types)}`);
    const series = await page.getByTestId('panel-timeseries').getAttribute('data-series');
    assert(series === String(expected.metrics.series.length), `time series panel draws ${series} series, want ${expected.metrics.series.length}`);
    await page.getByTestId('panel-timeseries').locator('canvas').first().waitFor();
    const stat = await page.getByTestId('stat-value').first().getAttribute('data-value');
    assert(stat === String(expected.metrics.series.length), `stat panel value ${stat}, want ${expected.metrics.series.length}`);
    assert((await panelErrors()).length === 0, `panel errors: ${await panelErrors()}`);
    await shot('dashboard-created');
  });

  await check('dashboards: a click on a panel title or on a time series opens the metrics explorer with the query and the range', async () => {
    assert(createdURL, 'no dashboard (the first check failed)');
    await page.goto(`${createdURL}?from=now-30m`);
    await waitPanels(2);
    await page.locator('[data-testid="dash-panel"][data-title="Rooms"] [data-testid="panel-title"]').click();
    await page.waitForURL(/\/query\?/);
    let u = new URL(page.url());
    assert(u.searchParams.get('expr') === `count(${metric})` && u.searchParams.get('from') === 'now-30m', `explorer URL ${page.url()}`);
    await page.getByTestId('metric-chart').waitFor({ timeout: 10000 });
    await page.goBack();
    await waitPanels(2);
    const canvas = page.getByTestId('panel-timeseries').locator('.u-over');
    await canvas.click({ position: { x: 100, y: 40 } });
    await page.waitForURL(/\/query\?/);
    u = new URL(page.url());
    assert(u.searchParams.get('expr') === metric, `explorer URL after a chart click: ${page.url()}`);
    await page.getByTestId('metric-chart').waitFor({ timeout: 10000 });
  });

  await check('dashboards: changing a variable re-queries the panels, and the URL restores the same view', async () => {
    await api('POST', '', {
      dashboard: {
        uid: 'e2e-vars',
        title: 'E2E variables',
        tags: ['e2e'],
        time: { from: 'now-1h', to: 'now' },
        templating: {
          list: [
            { type: 'query', name: 'room', query: `label_values(${metric}, room)`, includeAll: true, current: { text: 'kitchen', value: 'kitchen' } },
            { type: 'interval', name: 'step', query: '1m,5m' },
          ],
        },
        panels: [
          { id: 1, type: 'timeseries', title: 'By room', gridPos: { x: 0, y: 0, w: 16, h: 8 }, targets: [{ expr: `avg_over_time(${metric}{room=~"$room"}[$step])`, legendFormat: '{{room}}' }] },
          { id: 2, type: 'stat', title: 'Series', gridPos: { x: 16, y: 0, w: 8, h: 8 }, targets: [{ expr: `count(${metric}{room=~"$room"})` }] },
          { id: 3, type: 'text', title: 'Notes', gridPos: { x: 0, y: 8, w: 24, h: 3 }, options: { mode: 'markdown', content: '**Rooms** of the <img src=x onerror=alert(1)> house' } },
        ],
      },
    });
    const queries = [];
    const onReq = (r) => r.url().includes('/api/v1/query') && queries.push(decodeURIComponent(new URL(r.url()).searchParams.get('query') ?? ''));
    page.on('request', onReq);
    try {
      await page.goto(`${base}/dashboards/e2e-vars`);
      await waitPanels(3);
      assert(queries.some((q) => q.includes('room=~"kitchen"')), `first queries: ${JSON.stringify(queries)}`);
      assert((await page.getByTestId('panel-timeseries').getAttribute('data-series')) === '1', 'one series for kitchen');
      const md = page.getByTestId('panel-text');
      assert((await md.locator('strong').innerText()) === 'Rooms' && (await md.locator('img').count()) === 0 && (await md.innerText()).includes('<img'), 'markdown: bold drawn, HTML shown as text');
      queries.length = 0;
      await page.getByTestId('var-room').locator('select').selectOption('garage');
      await page.waitForURL(/var-room=garage/);
      await page.waitForFunction(() => document.querySelector('[data-testid="panel-timeseries"]')?.closest('[data-testid="dash-panel"]')?.innerText.includes('garage'), null, { timeout: 10000 });
      await waitPanels(3);
      assert(queries.some((q) => q.includes('room=~"garage"')) && !queries.some((q) => q.includes('room=~"kitchen"')), `queries after the change: ${JSON.stringify(queries)}`);
      await page.getByTestId('var-step').locator('select').selectOption('5m');
      await page.waitForURL(/var-step=5m/);
      await page.getByTestId('range-button').click();
      await page.getByRole('button', { name: 'Last 15 minutes' }).click();
      await page.waitForURL(/from=now-15m/);
      await waitPanels(3);
      const url = page.url();
      queries.length = 0;
      await page.goto('about:blank');
      await page.goto(url);
      await waitPanels(3);
      assert((await page.getByTestId('var-room').locator('select').inputValue()) === 'garage', 'room restored from the URL');
      assert((await page.getByTestId('var-step').locator('select').inputValue()) === '5m', 'step restored from the URL');
      assert((await page.getByTestId('range-button').innerText()).includes('15'), `range restored: ${await page.getByTestId('range-button').innerText()}`);
      assert(queries.some((q) => q.includes('room=~"garage"') && q.includes('[5m]')), `queries after restoring: ${JSON.stringify(queries)}`);
      await page.getByTestId('var-room').locator('select').selectOption('$__all');
      await page.waitForURL(/var-room=%24__all/);
      await page.waitForFunction(() => document.querySelector('[data-testid="stat-value"]')?.dataset.value === '2', null, { timeout: 10000 });
      assert((await panelErrors()).length === 0, `panel errors: ${await panelErrors()}`);
      await shot('dashboard-variables');
    } finally {
      page.off('request', onReq);
    }
  });

  await check('dashboards: the built-in dashboards are listed read-only and render without panel errors', async () => {
    await page.goto(`${base}/dashboards?tag=loupe`);
    await page.getByTestId('dash-list').waitFor({ timeout: 10000 });
    const uids = await page.getByTestId('dash-list-row').evaluateAll((rs) => rs.map((r) => r.dataset.uid));
    assert(['loupe-node', 'loupe-red', 'loupe-runs', 'loupe-self'].every((u) => uids.includes(u)), `built-ins listed: ${uids}`);
    assert((await page.getByTestId('dash-readonly').count()) >= 4, 'built-ins marked read-only');
    await shot('dashboards-list');
    const times = {};
    for (const uid of ['loupe-self', 'loupe-node', 'loupe-red', 'loupe-runs']) {
      const t0 = Date.now();
      await page.goto(`${base}/dashboards/${uid}`);
      await page.getByTestId('dash-grid').waitFor({ timeout: 10000 });
      const n = await panels.count();
      await waitPanels(n);
      // Reported, not asserted: from navigation to every panel drawn (or empty).
      times[uid] = `${n} panels in ${Date.now() - t0} ms`;
      const errs = await panelErrors();
      assert(errs.length === 0, `${uid}: panel errors: ${errs.join('; ')}`);
      assert((await page.getByTestId('dash-edit').count()) === 0, `${uid}: offers to edit a read-only dashboard`);
      if (uid === 'loupe-runs') await shot('dashboard-builtin-runs');
    }
    console.log(`     built-in dashboards loaded: ${JSON.stringify(times)}`);
    // A read-only dashboard is edited through a stored copy.
    await page.getByTestId('dash-copy').click();
    await page.waitForURL(/\/dashboards\/[^/?]+\?edit=1/);
    await page.getByTestId('dash-save').waitFor();
    assert((await page.getByTestId('dash-title-input').inputValue()) === 'Batch-job runs (copy)', 'the copy is titled "(copy)"');
  });

  await check('dashboards: a stale save gets the conflict message and overwrites nothing', async () => {
    const { uid, version } = await api('POST', '', { dashboard: { title: 'E2E conflict', panels: [] } });
    await page.goto(`${base}/dashboards/${uid}`);
    await page.getByTestId('dash-edit').click();
    // Someone else saves in between.
    await api('PUT', `/${uid}`, { version, dashboard: { title: 'Saved by someone else', panels: [] } });
    await page.getByTestId('dash-title-input').fill('My stale title');
    await page.getByTestId('dash-save').click();
    await page.getByTestId('dash-conflict').waitFor({ timeout: 10000 });
    const got = await api('GET', `/${uid}`);
    assert(got.dashboard.title === 'Saved by someone else' && got.meta.version === version + 1, `stored: ${got.dashboard.title} v${got.meta.version}`);
    await shot('dashboard-conflict');
    await page.getByTestId('dash-reload').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="dash-title"]')?.textContent === 'Saved by someone else', null, { timeout: 10000 });
  }, { allow: [/status of 409/] });

  await check('dashboards: importing Grafana JSON shows the report of what was not carried over, then saves', async () => {
    const json = readFileSync(new URL('../../internal/dashboards/testdata/grafana-modern.json', import.meta.url), 'utf8');
    await page.goto(`${base}/dashboards`);
    await page.getByTestId('dash-import').click();
    await page.getByTestId('dash-import-text').fill(json);
    await page.getByTestId('dash-import-convert').click();
    const report = page.getByTestId('dash-import-report');
    await report.waitFor({ timeout: 10000 });
    const text = await report.innerText();
    assert(/piechart/.test(text), `the report does not name the unsupported piechart: ${text.slice(0, 300)}`);
    await page.getByTestId('dash-import-save').click();
    await page.waitForURL(/\/dashboards\/[^/?]+$/);
    await page.getByTestId('dash-grid').waitFor({ timeout: 10000 });
    assert((await panels.count()) > 0, 'the imported dashboard has panels');
  });
}
