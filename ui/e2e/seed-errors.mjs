// Error events for the browser checks, sent as a Sentry SDK sends them: envelopes POSTed
// to the server's real ingest endpoint (/api/<project>/envelope/) with a DSN key of the
// server's config (run.sh writes it). Adds what the checks expect to expected.json.
//
//   node e2e/seed-errors.mjs http://127.0.0.1:7070 http://127.0.0.1:4318 expected.json KEY1 KEY2
//
// Project 1 (shop-api) gets one bug from two call sites: a ZeroDivisionError raised in
// shop.cart.total while handling a JSONDecodeError, reached from two lines of
// shop.views.checkout (6 events over 5 hours, 3 users, two releases, two environments).
// The newest of them carries everything an issue page shows: context lines, breadcrumbs,
// request, user, tags, and a trace context whose trace is sent too (a transaction whose
// "cart.total" span failed), plus an OTLP log record of shop-api at the same moment.
// Project 2 (shop-worker) gets a different bug: a KeyError in worker.inventory.reserve
// (3 events).
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const [, , httpBase, otlpBase, expectedFile, keyAPI, keyWorker] = process.argv;
if (!httpBase || !otlpBase || !expectedFile || !keyAPI || !keyWorker) {
  console.error('usage: node e2e/seed-errors.mjs <http-url> <otlp-http-url> <expected.json> <key of project 1> <key of project 2>');
  process.exit(2);
}
const hex = (n) => randomBytes(n).toString('hex');
const nowMs = Date.now();
const sec = (ms) => ms / 1000;
const minute = 60_000;
const hour = 60 * minute;

async function envelope(project, key, items) {
  const eventId = items.find((i) => i.payload.event_id)?.payload.event_id ?? hex(16);
  const lines = [JSON.stringify({ event_id: eventId, sent_at: new Date().toISOString() })];
  for (const { type, payload } of items) lines.push(JSON.stringify({ type }), JSON.stringify(payload));
  const res = await fetch(`${httpBase}/api/${project}/envelope/`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-sentry-envelope',
      'X-Sentry-Auth': `Sentry sentry_version=7, sentry_key=${key}, sentry_client=loupe-e2e/1.0`,
    },
    body: lines.join('\n') + '\n',
  });
  if (!res.ok) throw new Error(`POST /api/${project}/envelope/: ${res.status} ${await res.text()}`);
}

// ---- project 1: the checkout bug, from two call sites ----
const flask = [
  { filename: 'flask/app.py', abs_path: '/usr/lib/python3/dist-packages/flask/app.py', module: 'flask.app', function: 'full_dispatch_request', lineno: 1484, in_app: false },
  { filename: 'flask/app.py', abs_path: '/usr/lib/python3/dist-packages/flask/app.py', module: 'flask.app', function: 'dispatch_request', lineno: 1469, in_app: false },
];
const checkoutLines = {
  41: ['    cart = load_cart(request)', '    qty = parse_qty(request.args.get("qty"))', '    # the express checkout path', '    total = cart.total()'],
  88: ['    cart = load_cart(request)', '    if cart.has_coupon():', '        cart.apply_coupon()', '    total = cart.total()'],
};
function checkoutFrame(line, rich) {
  const f = { filename: 'shop/views.py', abs_path: '/srv/shop/shop/views.py', module: 'shop.views', function: 'checkout', lineno: line, in_app: true };
  if (rich) Object.assign(f, { pre_context: checkoutLines[line].slice(0, 3), context_line: checkoutLines[line][3], post_context: ['    return render_receipt(total)', ''] });
  return f;
}
function bugA(line, rich) {
  const total = { filename: 'shop/cart.py', abs_path: '/srv/shop/shop/cart.py', module: 'shop.cart', function: 'total', lineno: 17, in_app: true };
  const parse = { filename: 'shop/cart.py', abs_path: '/srv/shop/shop/cart.py', module: 'shop.cart', function: 'parse_qty', lineno: 9, in_app: true };
  if (rich) {
    Object.assign(total, { pre_context: ['    def total(self):', '        # quantity is 0 when the request had none'], context_line: '        return self.amount / self.quantity', post_context: ['', '    def add(self, item):'] });
    Object.assign(parse, { pre_context: ['def parse_qty(raw):', '    try:'], context_line: '        return json.loads(raw)', post_context: ['    except ValueError:', '        return 0'] });
  }
  const json = [
    { filename: 'json/__init__.py', abs_path: '/usr/lib/python3.11/json/__init__.py', module: 'json', function: 'loads', lineno: 346, in_app: false },
    { filename: 'json/decoder.py', abs_path: '/usr/lib/python3.11/json/decoder.py', module: 'json.decoder', function: 'decode', lineno: 337, in_app: false },
    { filename: 'json/decoder.py', abs_path: '/usr/lib/python3.11/json/decoder.py', module: 'json.decoder', function: 'raw_decode', lineno: 355, in_app: false },
  ];
  return [
    // Causes first, as the SDKs send a chain.
    { type: 'JSONDecodeError', module: 'json.decoder', value: 'Expecting value: line 1 column 1 (char 0)', mechanism: { type: 'chained', handled: true }, stacktrace: { frames: [...flask, checkoutFrame(line, rich), parse, ...json] } },
    { type: 'ZeroDivisionError', module: 'builtins', value: 'division by zero', mechanism: { type: 'flask', handled: false }, stacktrace: { frames: [...flask, checkoutFrame(line, rich), total] } },
  ];
}

const trace = { traceId: hex(16), rootSpan: hex(8), dbSpan: hex(8), errSpan: hex(8) };
const aEvents = [];
// Oldest first: 5, 4, 3, 2 and 1 hours ago, then the rich one 10 minutes ago.
const plan = [
  { ago: 5 * hour, line: 41, release: 'shop@1.2.0', env: 'prod', user: 'u1' },
  { ago: 4 * hour, line: 88, release: 'shop@1.2.0', env: 'staging', user: 'u2' },
  { ago: 3 * hour, line: 41, release: 'shop@1.2.0', env: 'prod', user: 'u3' },
  { ago: 2 * hour, line: 88, release: 'shop@1.3.0', env: 'prod', user: 'u1' },
  { ago: 1 * hour, line: 41, release: 'shop@1.3.0', env: 'prod', user: 'u2' },
  { ago: 10 * minute, line: 88, release: 'shop@1.3.0', env: 'prod', user: 'u1', rich: true },
];
const richMs = nowMs - 10 * minute;
const breadcrumbs = [
  { timestamp: sec(richMs - 900), type: 'http', category: 'http', level: 'info', data: { method: 'GET', url: 'http://inventory.internal/stock/42', status_code: 200 } },
  { timestamp: sec(richMs - 600), type: 'query', category: 'query', level: 'info', message: 'SELECT * FROM carts WHERE id = 42' },
  { timestamp: sec(richMs - 300), type: 'default', category: 'cart', level: 'warning', message: 'qty parameter is empty, defaulting to 0' },
  { timestamp: sec(richMs - 50), type: 'default', category: 'checkout', level: 'info', message: 'computing the total of cart 42' },
];
for (const p of plan) {
  const t = nowMs - p.ago;
  const ev = {
    event_id: hex(16), timestamp: sec(t), platform: 'python', level: 'error', logger: 'shop',
    release: p.release, environment: p.env, server_name: p.rich ? 'web-2' : 'web-1', transaction: 'POST /checkout',
    exception: { values: bugA(p.line, !!p.rich) },
    user: { id: p.user, email: `${p.user}@shop.example` },
    tags: { browser: p.user === 'u2' ? 'Firefox 128' : 'Chrome 126', 'http.method': 'POST' },
  };
  if (p.rich) {
    Object.assign(ev, {
      breadcrumbs: { values: breadcrumbs },
      request: { method: 'POST', url: 'http://shop.example/checkout', query_string: 'cart=42&qty=', headers: { 'User-Agent': 'Mozilla/5.0', Authorization: 'Bearer secret-token' } },
      contexts: { trace: { trace_id: trace.traceId, span_id: trace.errSpan, op: 'function' }, runtime: { name: 'CPython', version: '3.11.7' } },
      extra: { cart_id: 42 },
    });
  }
  await envelope(1, keyAPI, [{ type: 'event', payload: ev }]);
  aEvents.push({ id: ev.event_id, line: p.line, release: p.release, env: p.env });
}
// The trace of the rich event: POST /checkout -> SELECT cart (ok), cart.total (failed).
await envelope(1, keyAPI, [{
  type: 'transaction',
  payload: {
    event_id: hex(16), type: 'transaction', transaction: 'POST /checkout', platform: 'python', release: 'shop@1.3.0', environment: 'prod',
    start_timestamp: sec(richMs - 1000), timestamp: sec(richMs + 20),
    contexts: { trace: { trace_id: trace.traceId, span_id: trace.rootSpan, op: 'http.server', status: 'internal_error' } },
    spans: [
      { span_id: trace.dbSpan, parent_span_id: trace.rootSpan, trace_id: trace.traceId, op: 'db', description: 'SELECT cart', start_timestamp: sec(richMs - 700), timestamp: sec(richMs - 500), status: 'ok' },
      { span_id: trace.errSpan, parent_span_id: trace.rootSpan, trace_id: trace.traceId, op: 'function', description: 'cart.total', start_timestamp: sec(richMs - 60), timestamp: sec(richMs + 5), status: 'internal_error' },
    ],
  },
}]);
// A log line of shop-api at the moment of the rich event, for the "logs around it" link.
const logLine = 'checkout failed for cart 42: division by zero';
{
  const ns = (BigInt(richMs) * 1000000n).toString();
  const res = await fetch(`${otlpBase}/v1/logs`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop-api' } }] }, scopeLogs: [{ logRecords: [{ timeUnixNano: ns, severityText: 'ERROR', severityNumber: 17, body: { stringValue: logLine }, traceId: trace.traceId, spanId: trace.errSpan }] }] }] }),
  });
  if (!res.ok) throw new Error(`POST /v1/logs: ${res.status} ${await res.text()}`);
}

// ---- project 2: another bug ----
const bEvents = [];
for (const ago of [50, 30, 5]) {
  const ev = {
    event_id: hex(16), timestamp: sec(nowMs - ago * minute), platform: 'python', level: 'error', release: 'worker@2.0.1', environment: 'prod',
    transaction: 'tasks.process_order',
    exception: { values: [{ type: 'KeyError', value: "'sku'", stacktrace: { frames: [
      { filename: 'celery/app/trace.py', module: 'celery.app.trace', function: 'trace_task', lineno: 451, in_app: false },
      { filename: 'worker/tasks.py', module: 'worker.tasks', function: 'process_order', lineno: 30, in_app: true },
      { filename: 'worker/inventory.py', module: 'worker.inventory', function: 'reserve', lineno: 12, in_app: true },
    ] } }] },
  };
  await envelope(2, keyWorker, [{ type: 'event', payload: ev }]);
  bEvents.push(ev.event_id);
}

const expected = JSON.parse(readFileSync(expectedFile, 'utf8'));
expected.errors = {
  a: {
    service: 'shop-api', title: 'ZeroDivisionError: division by zero', events: aEvents.length, users: 3,
    releases: ['shop@1.2.0', 'shop@1.3.0'], environments: ['prod', 'staging'],
    // newest first, as the issue page pages through them
    eventIds: aEvents.map((e) => e.id).reverse(),
    // the raised exception's frames, most recent call first: in-app, then the collapsed Flask frames
    inAppFrames: ['total', 'checkout'], libraryFrames: ['dispatch_request', 'full_dispatch_request'],
    causeFrames: { inApp: ['parse_qty', 'checkout'], library: ['raw_decode', 'decode', 'loads'] },
    contextLine: 'return self.amount / self.quantity',
    breadcrumbs: breadcrumbs.map((b) => b.message ?? b.data?.url),
    trace, logLine,
  },
  b: { service: 'shop-worker', title: "KeyError: 'sku'", events: bEvents.length, users: 0, eventIds: bEvents.reverse() },
};
writeFileSync(expectedFile, JSON.stringify(expected, null, 2));
console.log(`sent ${aEvents.length + bEvents.length} Sentry events, 1 transaction and 1 log record`);
