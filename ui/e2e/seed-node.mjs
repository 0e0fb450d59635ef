// Backfill file of a real host's metrics: reads one scrape of a node_exporter and writes the
// same series as OpenMetrics text over the last HOURS hours, a sample every STEP seconds,
// for `promtool tsdb create-blocks-from openmetrics` (Prometheus' documented way to
// backfill). The values move as a host's do: counters grow to the scraped value at the end
// (so live scrapes carry on from there), gauges wave ±5 % around it.
//
//   node e2e/seed-node.mjs http://127.0.0.1:9100/metrics out.om INSTANCE [HOURS] [STEP]
//
// Every series gets job="node" and instance=INSTANCE, the labels a scrape of that target
// gives, so backfilled and scraped samples are one series. Only node_* series are kept.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

const [, , url, outFile, instance, hoursArg = '6', stepArg = '15'] = process.argv;
if (!url || !outFile || !instance) {
  console.error('usage: node e2e/seed-node.mjs <node_exporter /metrics URL> <out.om> <instance> [hours] [step seconds]');
  process.exit(2);
}
const hours = Number(hoursArg);
const step = Number(stepArg);

const res = await fetch(url);
if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
const text = await res.text();

// Series by metric name, in the order of the exposition; counters by their TYPE line.
const types = new Map();
const families = new Map(); // name -> [{labels: 'a="b",…' or '', value}]
for (const line of text.split('\n')) {
  if (line.startsWith('# TYPE ')) {
    const [, , name, type] = line.split(' ');
    types.set(name, type);
    continue;
  }
  if (line === '' || line.startsWith('#')) continue;
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
  if (!m) throw new Error(`unparsed exposition line: ${line}`);
  const [, name, labels = '', value] = m;
  if (!name.startsWith('node_')) continue;
  if (!families.has(name)) families.set(name, []);
  families.get(name).push({ labels, value: Number(value) });
}
const isCounter = (name) => {
  for (const [family, type] of types) {
    if ((type === 'counter' && name === family) || ((type === 'histogram' || type === 'summary') && name.startsWith(family + '_'))) return true;
  }
  return false;
};

const end = Math.floor(Date.now() / 1000) - 60; // the live scrapes take over from here
const start = end - hours * 3600;
const out = createWriteStream(outFile);
const write = async (s) => {
  if (!out.write(s)) await once(out, 'drain');
};
let samples = 0;
for (const [name, series] of families) {
  const counter = isCounter(name);
  for (const { labels, value } of series) {
    const ls = `job="node",instance="${instance}"${labels ? ',' + labels : ''}`;
    const lines = [];
    for (let t = start; t <= end; t += step) {
      const f = (t - start) / (end - start);
      let v = value;
      if (Number.isFinite(value) && value !== 0) {
        v = counter ? value * (0.5 + 0.5 * f) : value * (1 + 0.05 * Math.sin((2 * Math.PI * (t - start)) / 3600));
      }
      lines.push(`${name}{${ls}} ${Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : v} ${t}\n`);
    }
    samples += lines.length;
    await write(lines.join(''));
  }
}
await write('# EOF\n');
out.end();
await once(out, 'finish');
console.log(JSON.stringify({ families: families.size, samples, start, end }));
