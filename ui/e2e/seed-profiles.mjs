// Test data for the Profiles page: CPU profiles of "shop-api" sent to Pyroscope's push API
// (POST /ingest, folded stacks), a baseline 40 minutes ago and a later one that adds
// main.allocHeavy, so the diff shows it grown and the rest shrunk; and one pprof profile
// of "payments" whose samples carry the span_id of the known trace's charge span (the
// pprof label pyroscope-go's OpenTelemetry integration sets), for "Profile of this span".
// It adds what it sent to expected.json under "profiles".
//
//   node e2e/seed-profiles.mjs http://127.0.0.1:<http port> expected.json
import { gzipSync } from 'node:zlib';
import { readFileSync, writeFileSync } from 'node:fs';

const [, , base, file] = process.argv;
if (!base || !file) {
  console.error('usage: node e2e/seed-profiles.mjs <http-url> <expected.json>');
  process.exit(2);
}
const expected = JSON.parse(readFileSync(file, 'utf8'));
const nowS = Math.floor(Date.now() / 1000);

async function ingest(params, body, type) {
  const url = `${base}/ingest?${new URLSearchParams(params)}`;
  const res = await fetch(url, { method: 'POST', body, headers: type ? { 'Content-Type': type } : {} });
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
}

// Baseline and comparison, 10 s profiles at 100 Hz: values are sample counts.
const baseline = {
  'main.main;main.handle;main.checkoutWork': 700,
  'main.main;main.handle;encoding/json.Marshal': 200,
  'runtime.gcBgMarkWorker;runtime.scanobject': 100,
};
const comparison = { ...baseline, 'main.main;main.handle;main.allocHeavy;runtime.mallocgc': 800 };
const folded = (o) => Object.entries(o).map(([s, v]) => `${s} ${v}`).join('\n') + '\n';
const at = { baseline: nowS - 40 * 60, comparison: nowS - 10 * 60 };
for (const [name, stacks] of [['baseline', baseline], ['comparison', comparison]]) {
  await ingest({ name: 'shop-api.cpu{env="e2e"}', from: String(at[name]), until: String(at[name] + 10), format: 'folded', sampleRate: '100', spyName: 'gospy' }, folded(stacks));
}

// ---- a minimal pprof encoder (protobuf by hand: varints, length-delimited fields) ----
const varint = (n) => {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const field = (num, wire, payload) => [...varint((num << 3) | wire), ...payload];
const int = (num, n) => field(num, 0, varint(n));
const bytes = (num, b) => field(num, 2, [...varint(b.length), ...b]);
const msg = (num, parts) => bytes(num, parts.flat());
const packed = (num, ns) => bytes(num, ns.flatMap((n) => varint(n)));

function pprof({ stacks, spanId, spanName, timeS, durS }) {
  const strings = [''];
  const str = (s) => (strings.includes(s) ? strings.indexOf(s) : strings.push(s) - 1);
  const funcs = new Map();
  const fn = (name) => funcs.get(name) ?? (funcs.set(name, funcs.size + 1), funcs.size);
  const p = [];
  p.push(msg(1, [int(1, str('cpu')), int(2, str('nanoseconds'))]));
  for (const [stack, v] of Object.entries(stacks)) {
    const ids = stack.split(';').reverse().map(fn); // leaf first; location id = function id
    p.push(msg(2, [packed(1, ids), packed(2, [v * 10_000_000]), msg(3, [int(1, str('span_id')), int(2, str(spanId))]), msg(3, [int(1, str('span_name')), int(2, str(spanName))])]));
  }
  for (const [name, id] of funcs) {
    p.push(msg(4, [int(1, id), msg(4, [int(1, id), int(2, 1)])]));
    p.push(msg(5, [int(1, id), int(2, str(name)), int(3, str(name)), int(4, str(`${name.split('.')[0]}.go`))]));
  }
  const tail = [int(9, BigInt(timeS) * 1_000_000_000n), int(10, BigInt(durS) * 1_000_000_000n), msg(11, [int(1, str('cpu')), int(2, str('nanoseconds'))]), int(12, 10_000_000)];
  // The string table after every str() call.
  return gzipSync(Buffer.from([...p.flat(), ...tail.flat(), ...strings.flatMap((s) => bytes(6, [...Buffer.from(s)]))]));
}

const charge = expected.knownTrace?.spans.find((s) => s.name === 'charge');
const spanStacks = { 'main.main;main.charge;main.chargeCard': 30, 'main.main;main.charge;crypto/tls.(*Conn).Write': 10 };
if (charge) {
  const form = new FormData();
  form.append('profile', new Blob([pprof({ stacks: spanStacks, spanId: charge.id, spanName: 'charge', timeS: nowS - 6 * 60, durS: 10 })]), 'profile.pprof');
  await ingest({ name: 'payments.cpu{}', from: String(nowS - 6 * 60), until: String(nowS - 6 * 60 + 10), format: 'pprof', spyName: 'gospy' }, form);
}

const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
expected.profiles = {
  service: 'shop-api',
  // Over the last hour both profiles merge: main.checkoutWork is 1400 of 2800 samples.
  total: sum(baseline) + sum(comparison),
  checkoutWorkShare: (baseline['main.main;main.handle;main.checkoutWork'] * 2) / (sum(baseline) + sum(comparison)),
  allocHeavyShare: 800 / (sum(baseline) + sum(comparison)),
  left: { from: new Date((at.baseline - 300) * 1000).toISOString(), to: new Date((at.baseline + 300) * 1000).toISOString() },
  right: { from: new Date((at.comparison - 300) * 1000).toISOString(), to: new Date((at.comparison + 300) * 1000).toISOString() },
  span: charge ? { id: charge.id, traceId: expected.knownTrace.traceId, fn: 'main.chargeCard', share: 30 / 40 } : null,
};
writeFileSync(file, JSON.stringify(expected, null, 2));
console.log(`seed-profiles: 2 folded profiles of shop-api${charge ? ' and a span profile of payments' : ''}`);
