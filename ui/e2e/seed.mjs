// Test data generator: sends traces, logs and metrics to a Loupe server over OTLP/HTTP JSON
// and writes what it sent (the expectations of the browser checks) to a JSON file.
//
//   node e2e/seed.mjs http://127.0.0.1:4318 expected.json [--big]
//
// --big also sends one 10,000-span trace and 100,000 log records, for the scrolling
// measurements.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const [, , base, outFile, ...flags] = process.argv;
if (!base || !outFile) {
  console.error('usage: node e2e/seed.mjs <otlp-http-url> <expected.json> [--big]');
  process.exit(2);
}
const big = flags.includes('--big');
const nowMs = Date.now();
const ns = (ms) => (BigInt(Math.round(ms * 1000)) * 1000n).toString();
const hex = (n) => randomBytes(n).toString('hex');
const attrs = (o) =>
  Object.entries(o).map(([key, v]) => ({
    key,
    value: typeof v === 'number' ? (Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v }) : typeof v === 'boolean' ? { boolValue: v } : { stringValue: String(v) },
  }));

async function post(path, body) {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
}

// ---- traces ----
// Each request: frontend "GET /checkout" (server, root) -> checkout "POST /api/checkout"
// (server) -> payments "charge" (server) and checkout "SELECT orders" (client).
const KIND = { internal: 1, server: 2, client: 3 };
const spansByService = new Map();
function addSpan(service, span) {
  if (!spansByService.has(service)) spansByService.set(service, []);
  spansByService.get(service).push(span);
}
const expectedSpans = []; // {service, name, kind, root, durMs, error}
function span(traceId, parent, service, name, kind, startMs, durMs, error, extra = {}) {
  const id = hex(8);
  const s = {
    traceId, spanId: id, name, kind,
    startTimeUnixNano: ns(startMs), endTimeUnixNano: ns(startMs + durMs),
    attributes: attrs(extra),
    status: error ? { code: 2, message: `${name} failed` } : {},
  };
  if (parent) s.parentSpanId = parent;
  addSpan(service, s);
  expectedSpans.push({ service, name, kind, root: !parent, durMs, error });
  return id;
}

const logs = []; // {service, sev, sevNum, body, attrs, traceId, spanId, ms}
function log(service, ms, sevText, sevNum, body, extra = {}, traceId, spanId) {
  logs.push({ service, ms, sevText, sevNum, body, extra, traceId, spanId });
}

const knownTrace = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spans: [] };
const stackTrace = 'java.net.SocketTimeoutException: read timed out\n\tat com.example.pay.Gateway.charge(Gateway.java:88)\n\tat com.example.pay.PaymentService.pay(PaymentService.java:42)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)';
const N = 60;
for (let i = 0; i < N; i++) {
  const t0 = nowMs - 30 * 60_000 + i * 25_000;
  const traceId = i === N - 1 ? knownTrace.traceId : hex(16);
  const fail = i % 6 === 0;
  const d = 40 + (i % 10) * 7;
  const root = span(traceId, null, 'frontend', 'GET /checkout', KIND.server, t0, d + 20, fail, { 'http.route': '/checkout', 'http.response.status_code': fail ? 502 : 200 });
  const api = span(traceId, root, 'checkout', 'POST /api/checkout', KIND.server, t0 + 5, d + 5, fail, { 'order.id': String(1000 + i) });
  // The known trace (the last) has its children well inside the timeline, so that a bar
  // drawn at a wrong offset or width is off by more than the checks' tolerance.
  const known = i === N - 1;
  const [payAt, payDur, dbAt, dbDur] = known ? [40, d - 40, 30, 15] : [8, d - 10, 6, 3 + (i % 3)];
  const pay = span(traceId, api, 'payments', 'charge', KIND.server, t0 + payAt, payDur, fail, { 'order.id': String(1000 + i), 'payment.method': i % 2 ? 'card' : 'wallet' });
  const db = span(traceId, api, 'checkout', 'SELECT orders', KIND.client, t0 + dbAt, dbDur, false, { 'db.system': 'postgresql' });
  // The known trace: offsets and durations (ms from the root's start) for the bar positions,
  // and the critical path: root -> api -> charge (charge ends last among api's children;
  // the query ends after charge starts, so it is not on the path).
  if (known) knownTrace.spans = [
    { id: root, name: 'GET /checkout', service: 'frontend', depth: 0, offsetMs: 0, durMs: d + 20, critical: true },
    { id: api, name: 'POST /api/checkout', service: 'checkout', depth: 1, offsetMs: 5, durMs: d + 5, critical: true },
    { id: db, name: 'SELECT orders', service: 'checkout', depth: 2, offsetMs: dbAt, durMs: dbDur, critical: false },
    { id: pay, name: 'charge', service: 'payments', depth: 2, offsetMs: payAt, durMs: payDur, critical: true },
  ];
  if (i === N - 1) {
    // An exception event with a stack trace on the known trace's charge span.
    const s = spansByService.get('payments').at(-1);
    s.events = [{ timeUnixNano: ns(t0 + payAt + 20), name: 'exception', attributes: attrs({ 'exception.type': 'java.net.SocketTimeoutException', 'exception.message': 'read timed out', 'exception.stacktrace': stackTrace }) }];
  }
  log('frontend', t0 + 1, 'INFO', 9, `GET /checkout started for order ${1000 + i}`, { 'http.route': '/checkout' }, traceId, root);
  log('payments', t0 + 20, fail ? 'ERROR' : 'INFO', fail ? 17 : 9, fail ? `card declined for order ${1000 + i}` : `charged order ${1000 + i}`, { 'order.id': String(1000 + i) }, traceId, pay);
  if (i % 4 === 0) log('checkout', t0 + 30, 'WARN', 13, `slow query on orders table (${d}ms)`, { 'db.system': 'postgresql' }, traceId, db);
  log('checkout', t0 + 40, 'DEBUG', 5, `cache miss for key cart:${i}`, { cache: 'cart' });
}
// a stack trace: a body of several lines and the exception.stacktrace attribute
log('payments', nowMs - 90_000, 'ERROR', 17, `IllegalStateException: gateway refused the card\n\tat com.example.pay.Gateway.send(Gateway.java:120)\n\tat com.example.pay.PaymentService.pay(PaymentService.java:42)`, { 'exception.type': 'java.lang.IllegalStateException', 'exception.stacktrace': stackTrace });
// one order with a unique id to find by attribute
log('payments', nowMs - 60_000, 'ERROR', 17, 'refund rejected by bank for order 424242', { 'order.id': '424242', 'refund.reason': 'duplicate' });

// The log lines of the known trace, and of its charge span, for the cross-link checks.
knownTrace.logs = logs.filter((l) => l.traceId === knownTrace.traceId).map((l) => l.body);
const chargeId = knownTrace.spans.find((x) => x.name === 'charge').id;
knownTrace.chargeLogs = logs.filter((l) => l.spanId === chargeId).map((l) => l.body);

let bigTrace = null;
if (big) {
  // 10,000 spans: a root with 100 children of 99 children each.
  const traceId = 'b16b16b16b16b16b16b16b16b16b16b1';
  const t0 = nowMs - 10 * 60_000;
  const root = span(traceId, null, 'batch', 'nightly-import', KIND.server, t0, 60_000, false, { 'job.id': 'big' });
  let n = 1;
  for (let i = 0; i < 100; i++) {
    const p = span(traceId, root, 'batch', `import-file-${i}`, KIND.internal, t0 + i * 590, 580, i === 42, { file: `f${i}.csv` });
    n++;
    for (let j = 0; j < 99; j++) {
      span(traceId, p, j % 2 ? 'db' : 'batch', j % 2 ? 'INSERT rows' : `parse-chunk-${j}`, j % 2 ? KIND.client : KIND.internal, t0 + i * 590 + j * 5.8, 5, false, { chunk: j });
      n++;
    }
  }
  bigTrace = { traceId, spanCount: n };
}

// Send spans per service in batches of 2,000.
for (const [service, spans] of spansByService) {
  for (let i = 0; i < spans.length; i += 2000) {
    await post('/v1/traces', {
      resourceSpans: [{ resource: { attributes: attrs({ 'service.name': service }) }, scopeSpans: [{ scope: { name: 'e2e' }, spans: spans.slice(i, i + 2000) }] }],
    });
  }
}

function logRecord(l) {
  const r = {
    timeUnixNano: ns(l.ms), observedTimeUnixNano: ns(l.ms + 1),
    severityText: l.sevText, severityNumber: l.sevNum,
    body: { stringValue: l.body }, attributes: attrs(l.extra),
  };
  if (l.traceId) r.traceId = l.traceId;
  if (l.spanId) r.spanId = l.spanId;
  return r;
}
const logsByService = new Map();
for (const l of logs) {
  if (!logsByService.has(l.service)) logsByService.set(l.service, []);
  logsByService.get(l.service).push(logRecord(l));
}
for (const [service, recs] of logsByService) {
  await post('/v1/logs', { resourceLogs: [{ resource: { attributes: attrs({ 'service.name': service }) }, scopeLogs: [{ scope: { name: 'e2e' }, logRecords: recs }] }] });
}
let bulkLogs = 0;
if (big) {
  // 100,000 records from "bulk" over the last 50 minutes, in batches of 10,000.
  const sev = [['INFO', 9], ['DEBUG', 5], ['WARN', 13], ['INFO', 9], ['ERROR', 17]];
  for (let b = 0; b < 10; b++) {
    const recs = [];
    for (let k = 0; k < 10_000; k++) {
      const i = b * 10_000 + k;
      const [t, n] = sev[i % sev.length];
      recs.push(logRecord({ ms: nowMs - 50 * 60_000 + i * 30, sevText: t, sevNum: n, body: `bulk record ${i} processed item=${i % 977} took ${i % 250}ms`, extra: { i: String(i), shard: String(i % 16) } }));
    }
    await post('/v1/logs', { resourceLogs: [{ resource: { attributes: attrs({ 'service.name': 'bulk' }) }, scopeLogs: [{ scope: { name: 'e2e' }, logRecords: recs }] }] });
    bulkLogs += recs.length;
  }
}

// ---- metrics: a gauge with two series and a counter, points every 30 s, oldest first ----
const points = [];
for (let k = 20; k >= 0; k--) points.push(nowMs - k * 30_000);
const gauge = (room, base) => ({ attributes: attrs({ room }), points: points.map((ms, k) => ({ timeUnixNano: ns(ms), asDouble: base + Math.sin(k / 3) })) });
const metrics = {
  resourceMetrics: [{
    resource: { attributes: attrs({ 'service.name': 'sensors' }) },
    scopeMetrics: [{
      scope: { name: 'e2e' },
      metrics: [
        {
          name: 'e2e_temperature', unit: 'Cel', description: 'Room temperature.',
          gauge: { dataPoints: ['kitchen', 'garage'].flatMap((room, r) => gauge(room, 20 - r * 8).points.map((p) => ({ ...p, attributes: attrs({ room }) }))) },
        },
        {
          name: 'e2e_requests', unit: '1', description: 'Requests served.',
          sum: {
            aggregationTemporality: 2, isMonotonic: true,
            dataPoints: ['200', '500'].flatMap((code) => points.map((ms, k) => ({ attributes: attrs({ code }), startTimeUnixNano: ns(points[0] - 1000), timeUnixNano: ns(ms), asInt: String((code === '200' ? 10 : 1) * (k + 1)) }))),
          },
        },
      ],
    }],
  }],
};
// Points of one series must arrive in time order: sort each metric's points by time.
for (const m of metrics.resourceMetrics[0].scopeMetrics[0].metrics) {
  const dp = (m.gauge ?? m.sum).dataPoints;
  dp.sort((a, b) => (BigInt(a.timeUnixNano) < BigInt(b.timeUnixNano) ? -1 : 1));
}
await post('/v1/metrics', metrics);

// ---- expectations: RED of entry spans (server kind or root) per service ----

const red = {};
const isEntry = (s) => s.kind === KIND.server || s.root;
const hasEntry = new Set(expectedSpans.filter(isEntry).map((s) => s.service));
for (const s of expectedSpans) {
  // A service without entry spans (db, seen only as a client) is counted by all its spans.
  if (hasEntry.has(s.service) && !isEntry(s)) continue;
  const r = (red[s.service] ??= { count: 0, errors: 0 });
  r.count++;
  if (s.error) r.errors++;
}
const expected = {
  seededAt: nowMs,
  knownTrace,
  bigTrace,
  bulkLogs,
  red,
  logs: {
    declined: logs.filter((l) => /declined/i.test(l.body)).length,
    stackTrace,
    order424242: 1,
    total: logs.length + bulkLogs,
  },
  metrics: { gauge: 'e2e_temperature', series: ['garage', 'kitchen'] },
};
writeFileSync(outFile, JSON.stringify(expected, null, 2));
console.log(`seeded ${expectedSpans.length} spans, ${logs.length + bulkLogs} log records, 2 metrics`);
