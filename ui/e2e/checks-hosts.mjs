// Browser checks of dashboards over a real host's metrics, against a server of their own
// (run.sh runs this after checks.mjs; it can also run alone):
//
//   LOUPE_BIN=bin/loupe LOUPE_SCREENSHOTS=dir node e2e/checks-hosts.mjs
//
// Debian's prometheus-node-exporter runs on a free loopback port. Six hours of its series
// are backfilled before the server starts, as Prometheus users backfill: seed-node.mjs
// writes OpenMetrics from one scrape and `promtool tsdb create-blocks-from openmetrics`
// turns it into blocks in the data directory; the server then scrapes the exporter every
// 15 s. The checks: the built-in host dashboard draws every panel; a 30-panel dashboard in
// the style of "Node Exporter Full" over the 6 hours draws every panel with data (the time
// to draw them all is printed, never asserted); and Ceph's "Host Details" dashboard (a real
// community dashboard, Debian's ceph-grafana-dashboards), imported through the UI, draws
// every panel that reads node_exporter metrics and shows no error on the others, whose
// Ceph metrics this host does not have.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLoupe, stopAll, launchBrowser, checker, assert } from './harness.mjs';

const bin = process.env.LOUPE_BIN;
if (!bin || !existsSync(bin)) throw new Error('checks-hosts: set LOUPE_BIN to a built loupe binary');
const shots = process.env.LOUPE_SCREENSHOTS || 'e2e-artifacts';
mkdirSync(shots, { recursive: true });
const cephDashboard = '/etc/grafana/dashboards/ceph-dashboard/host-details.json';
for (const tool of ['prometheus-node-exporter', 'promtool']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`checks-hosts: ${tool} is missing (scripts/test-deps.sh installs it)`);
  }
}
if (!existsSync(cephDashboard)) throw new Error(`checks-hosts: ${cephDashboard} is missing (Debian package ceph-grafana-dashboards)`);

const work = mkdtempSync(join(tmpdir(), 'loupe-hosts-'));
const data = join(work, 'data');
const procs = [];

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.on('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const port = await freePort();
const instance = `localhost:${port}`; // as Ceph's dashboards expect: host name, then ":port"
const exporter = spawn('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
procs.push(exporter);
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/metrics`)).ok) break;
  } catch {}
  if (i > 100) throw new Error('node_exporter did not answer within 10 s');
  await new Promise((r) => setTimeout(r, 100));
}
const backfill = JSON.parse(execFileSync('node', [new URL('./seed-node.mjs', import.meta.url).pathname, `http://127.0.0.1:${port}/metrics`, join(work, 'node.om'), instance, '6', '15']).toString());
execFileSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(work, 'node.om'), join(data, 'metrics')], { stdio: 'ignore' });
rmSync(join(work, 'node.om'));
console.log(`     backfilled ${backfill.samples} samples of ${backfill.families} node_exporter families over 6 h`);
writeFileSync(join(work, 'loupe.yaml'), `scrape:
  scrape_configs:
    - job_name: node
      scrape_interval: 15s
      static_configs:
        - targets: ['${instance}']
`);

let failures = 0;
let context;
try {
  const { base } = await startLoupe(bin, 'hosts', ['--config', join(work, 'loupe.yaml'), '--data-dir', data], procs);
  const api = async (method, path, body) => {
    const res = await fetch(`${base}${path}`, { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const j = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(j)}`);
    return j.data;
  };
  // The backfilled blocks are read: a series 5 hours ago, from the exporter's instance.
  const old = await api('GET', `/api/v1/query?${new URLSearchParams({ query: 'node_uname_info', time: String(Date.now() / 1000 - 5 * 3600) })}`);
  assert(old.result.length === 1 && old.result[0].metric.instance === instance, `node_uname_info 5 h ago: ${JSON.stringify(old.result)}`);

  const browser = await launchBrowser();
  context = browser.context;
  const { page, consoleErrors } = browser;
  const { check, failures: failed } = checker(page, consoleErrors, shots);
  const waitPanels = (n) =>
    page.waitForFunction(
      (n) => {
        const ps = [...document.querySelectorAll('[data-testid="dash-panel"]')];
        return ps.length >= n && ps.every((p) => !/Loading…|Waiting for the variables/.test(p.innerText));
      },
      n,
      { timeout: 60000 },
    );
  // Panels by what they show: an error, no data, or something drawn (rows are not panels).
  const panelStates = () =>
    page.$$eval('[data-testid="dash-panel"]', (ps) =>
      ps.map((p) => ({
        title: p.dataset.title,
        error: p.querySelector('[data-testid="panel-error"]')?.innerText ?? '',
        nodata: !!p.querySelector('[data-testid="panel-nodata"]'),
      })),
    );

  await check('hosts: the built-in host dashboard draws every panel over node_exporter data', async () => {
    await page.goto(`${base}/dashboards/loupe-node?from=now-6h&to=now`);
    await waitPanels(1);
    const states = await panelStates();
    const bad = states.filter((s) => s.error || s.nodata);
    assert(states.length > 5 && bad.length === 0, `panels with an error or no data: ${JSON.stringify(bad)}`);
    await page.screenshot({ path: join(shots, 'hosts-builtin.png') });
  });

  await check('hosts: a 30-panel node_exporter dashboard over 6 h draws every panel with data (time reported)', async () => {
    const sel = 'instance=~"$instance"';
    const q = [
      ['CPU busy', 'stat', `100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle",${sel}}[$__rate_interval])))`, 'percent'],
      ['Load 1m', 'stat', `node_load1{${sel}}`, 'short'],
      ['RAM used', 'gauge', `100 * (1 - node_memory_MemAvailable_bytes{${sel}} / node_memory_MemTotal_bytes{${sel}})`, 'percent'],
      ['Root FS used', 'gauge', `100 - 100 * node_filesystem_avail_bytes{${sel},mountpoint="/"} / node_filesystem_size_bytes{${sel},mountpoint="/"}`, 'percent'],
      ['CPU cores', 'stat', `count(count by (cpu) (node_cpu_seconds_total{${sel}}))`, 'short'],
      ['Uptime', 'stat', `node_time_seconds{${sel}} - node_boot_time_seconds{${sel}}`, 's'],
      ['CPU by mode', 'timeseries', `sum by (mode) (rate(node_cpu_seconds_total{${sel}}[$__rate_interval]))`, 'short'],
      ['Load', 'timeseries', `node_load1{${sel}}`, 'short'],
      ['Load 5m', 'timeseries', `node_load5{${sel}}`, 'short'],
      ['Load 15m', 'timeseries', `node_load15{${sel}}`, 'short'],
      ['Memory total', 'timeseries', `node_memory_MemTotal_bytes{${sel}}`, 'bytes'],
      ['Memory available', 'timeseries', `node_memory_MemAvailable_bytes{${sel}}`, 'bytes'],
      ['Memory cached', 'timeseries', `node_memory_Cached_bytes{${sel}}`, 'bytes'],
      ['Memory buffers', 'timeseries', `node_memory_Buffers_bytes{${sel}}`, 'bytes'],
      ['Network received', 'timeseries', `rate(node_network_receive_bytes_total{${sel}}[$__rate_interval]) * 8`, 'bps'],
      ['Network sent', 'timeseries', `rate(node_network_transmit_bytes_total{${sel}}[$__rate_interval]) * 8`, 'bps'],
      ['Network packets in', 'timeseries', `rate(node_network_receive_packets_total{${sel}}[$__rate_interval])`, 'pps'],
      ['Network packets out', 'timeseries', `rate(node_network_transmit_packets_total{${sel}}[$__rate_interval])`, 'pps'],
      ['Disk reads', 'timeseries', `rate(node_disk_reads_completed_total{${sel}}[$__rate_interval])`, 'iops'],
      ['Disk writes', 'timeseries', `rate(node_disk_writes_completed_total{${sel}}[$__rate_interval])`, 'iops'],
      ['Disk read bytes', 'timeseries', `rate(node_disk_read_bytes_total{${sel}}[$__rate_interval])`, 'Bps'],
      ['Disk written bytes', 'timeseries', `rate(node_disk_written_bytes_total{${sel}}[$__rate_interval])`, 'Bps'],
      ['Disk IO time', 'timeseries', `rate(node_disk_io_time_seconds_total{${sel}}[$__rate_interval])`, 'percentunit'],
      ['Filesystem available', 'timeseries', `node_filesystem_avail_bytes{${sel}}`, 'bytes'],
      ['Context switches', 'timeseries', `rate(node_context_switches_total{${sel}}[$__rate_interval])`, 'short'],
      ['Interrupts', 'timeseries', `rate(node_intr_total{${sel}}[$__rate_interval])`, 'short'],
      ['Processes running', 'timeseries', `node_procs_running{${sel}}`, 'short'],
      ['Open file descriptors', 'timeseries', `node_filefd_allocated{${sel}}`, 'short'],
      ['TCP connections', 'bargauge', `node_netstat_Tcp_CurrEstab{${sel}}`, 'short'],
      ['Filesystems', 'table', `node_filesystem_size_bytes{${sel}}`, 'bytes'],
    ];
    const panels = q.map(([title, type, expr, unit], i) => ({
      id: i + 1, title, type, gridPos: { x: (i % 4) * 6, y: Math.floor(i / 4) * 6, w: 6, h: 6 },
      targets: [{ expr, refId: 'A', ...(type === 'table' ? { instant: true } : {}) }],
      fieldConfig: { defaults: { unit } },
    }));
    await api('POST', '/api/loupe/v1/dashboards', { dashboard: {
      uid: 'e2e-node-30', title: 'Node exporter, 30 panels', time: { from: 'now-6h', to: 'now' },
      templating: { list: [{ name: 'instance', type: 'query', query: 'label_values(node_uname_info, instance)' }] }, panels,
    } });
    await page.goto('about:blank');
    const t0 = Date.now();
    await page.goto(`${base}/dashboards/e2e-node-30`);
    await waitPanels(30);
    const ms = Date.now() - t0;
    const states = await panelStates();
    const bad = states.filter((s) => s.error || s.nodata);
    assert(states.length === 30 && bad.length === 0, `${states.length} panels; with an error or no data: ${JSON.stringify(bad)}`);
    // Reported, not asserted (the machine is shared): navigation to every panel drawn.
    console.log(`     30-panel node_exporter dashboard over 6 h (${backfill.samples} backfilled samples): every panel drawn ${ms} ms after navigation`);
    await page.screenshot({ path: join(shots, 'hosts-30-panels.png') });
  });

  await check('hosts: Ceph\'s Host Details dashboard, imported through the UI, draws every node_exporter panel', async () => {
    const raw = readFileSync(cephDashboard, 'utf8');
    const g = JSON.parse(raw);
    // The Grafana panels whose every query reads node_exporter metrics only.
    const all = g.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
    const nodeOnly = all.filter((p) => p.targets?.length && p.targets.every((t) => /node_/.test(t.expr) && !/(?<![$\w])ceph_/.test(t.expr))).map((p) => p.title);
    await page.goto(`${base}/dashboards`);
    await page.getByTestId('dash-import').click();
    await page.getByTestId('dash-import-text').fill(raw);
    await page.getByTestId('dash-import-convert').click();
    await page.getByTestId('dash-import-report').waitFor({ timeout: 10000 });
    await page.getByTestId('dash-import-save').click();
    await page.waitForURL(/\/dashboards\/[^/?]+$/);
    await page.goto(`${page.url()}?from=now-6h&to=now`);
    await waitPanels(all.length);
    const states = await panelStates();
    const errors = states.filter((s) => s.error);
    assert(errors.length === 0, `panels with an error: ${JSON.stringify(errors)}`);
    // Titles may hold the host variable ("$ceph_hosts Disk IOPS"): compare without it.
    const strip = (t) => t.replace(/\$\w+|localhost/g, '').trim();
    const drawn = new Set(states.filter((s) => !s.nodata).map((s) => strip(s.title)));
    const missing = nodeOnly.filter((t) => !drawn.has(strip(t)));
    assert(nodeOnly.length >= 5 && missing.length === 0, `node_exporter panels without data: ${JSON.stringify(missing)} (of ${nodeOnly.length}); states ${JSON.stringify(states)}`);
    console.log(`     Ceph Host Details: ${nodeOnly.length} node_exporter panels drawn, ${states.filter((s) => s.nodata).length} Ceph panels without data, no errors`);
    await page.screenshot({ path: join(shots, 'hosts-ceph-host-details.png'), fullPage: true });
  });
  failures += failed();
} catch (e) {
  failures++;
  console.log(`FAIL hosts: ${e.message ?? e}`);
} finally {
  await context?.close();
  await stopAll(procs);
  rmSync(work, { recursive: true, force: true });
}
console.log(failures ? `hosts: ${failures} check(s) failed` : 'hosts: all checks passed');
process.exit(failures ? 1 : 0);
