// Job run records for the browser checks: writes a JSONL file of `loupe run --output`
// records (the job "train", whose runs drift from 2 to 6 hours over the last week) for
// `loupe push FILE`, and adds what the checks expect to expected.json.
//
//   node e2e/seed-runs.mjs runs.jsonl expected.json
//
// It also writes runs.jsonl.lost-logs.json: the start-of-run log of a run that is lost.
//
// The first and the last run are the pair the compare check opens: they differ in one pip
// package version (numpy), one added package (polars), the duration (x3), the host, the
// git commit, a SLURM variable and an environment variable.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const [, , outFile, expectedFile] = process.argv;
if (!outFile || !expectedFile) {
  console.error('usage: node e2e/seed-runs.mjs <runs.jsonl> <expected.json>');
  process.exit(2);
}
const hex = (n) => randomBytes(n).toString('hex');
const nowMs = Date.now();
const hour = 3600_000;

const basePip = [
  { name: 'numpy', version: '1.26.4' },
  { name: 'pandas', version: '2.2.2' },
  { name: 'requests', version: '2.32.3' },
  { name: 'torch', version: '2.3.0' },
];
const conda = [
  { name: 'mkl', version: '2023.1.0' },
  { name: 'python', version: '3.11.7' },
];

// [hours ago the run started, duration in hours, status, cpus]
const plan = [
  [6 * 24, 2.0, 'succeeded', 16],
  [5 * 24, 2.1, 'succeeded', 16],
  [4 * 24, 1.9, 'succeeded', 16],
  [3 * 24, 2.6, 'failed', 16],
  [2 * 24, 3.5, 'succeeded', 8],
  [1 * 24, 4.8, 'succeeded', 8],
  [7, 6.0, 'succeeded', 8],
];

function record(i, [ago, hours, status, cpus]) {
  const last = i === plan.length - 1;
  const newer = i >= 4;
  const start = nowMs - ago * hour;
  const dur = hours * 3600;
  const runId = hex(16);
  const pip = basePip.map((p) => (newer && p.name === 'numpy' ? { ...p, version: '2.0.1' } : p));
  if (last) pip.push({ name: 'polars', version: '1.1.0' });
  pip.sort((a, b) => a.name.localeCompare(b.name));
  const peak = (newer ? 9.5 : 6.2) * 2 ** 30;
  // Samples every 3 minutes: CPU near the core count, memory rising to the peak, IO growing.
  const samples = [];
  for (let t = 1; t < dur; t += 180) {
    const f = t / dur;
    samples.push({
      t, cpu_percent: cpus * 100 * (0.85 + 0.1 * Math.sin(t / 900)), rss_bytes: Math.round(peak * Math.min(1, 0.3 + f)),
      read_bytes: Math.round(40e9 * f), write_bytes: Math.round(5e9 * f), threads: cpus + 4, processes: 2,
      max_hwm_bytes: Math.round(peak * Math.min(1, 0.3 + f) * 0.9),
    });
  }
  return {
    record_version: 1, run_id: runId, name: 'train', tags: { dataset: 'v3', lr: '0.1' },
    command: ['python', 'train.py', '--epochs', '20'], command_line: 'python train.py --epochs 20',
    cwd: '/home/alice/project', user: 'alice', pid: 4242 + i,
    start_time: new Date(start).toISOString(), end_time: new Date(start + dur * 1000).toISOString(),
    timezone: 'Europe/Berlin', tz_offset: '+01:00', duration_seconds: dur,
    status, exit_code: status === 'failed' ? 1 : 0,
    host: {
      hostname: newer ? 'node17' : 'node03', os: 'linux', platform: 'rocky', platform_version: '9.4', kernel_version: '5.14.0-427',
      arch: 'x86_64', cpu_model: 'AMD EPYC 7763 64-Core Processor', cpu_logical: 128, cpu_physical: 64, memory_total_bytes: 512 * 2 ** 30,
    },
    scheduler: {
      type: 'slurm', job_id: String(880100 + i),
      vars: { SLURM_JOB_ID: String(880100 + i), SLURM_JOB_NAME: 'train', SLURM_CPUS_PER_TASK: String(cpus), SLURM_JOB_PARTITION: 'gpu', SLURM_NODELIST: newer ? 'node17' : 'node03' },
    },
    git: { root: '/home/alice/project', commit: newer ? '9f3c2ab1e5d7c4a8b6f0e1d2c3b4a5968778695a' : '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d', branch: 'main', dirty: false, remote_url: 'https://git.example.org/alice/project.git' },
    python: { version: '3.11.7', executable: '/opt/conda/envs/train/bin/python', prefix: '/opt/conda/envs/train', env_type: 'conda', env_name: 'train', packages: pip, conda_packages: conda },
    gpus: [{ index: 0, name: 'NVIDIA A100-SXM4-80GB', uuid: 'GPU-5b1c', driver_version: '550.54.15', memory_total_bytes: 80 * 2 ** 30 }],
    cgroup: { path: '/slurm/job' + (880100 + i), cpu_max: `${cpus * 100000} 100000`, cpu_limit_cores: cpus, memory_max: 'max' },
    env: { OMP_NUM_THREADS: String(cpus), PATH: '/opt/conda/envs/train/bin:/usr/bin:/bin', CONDA_DEFAULT_ENV: 'train' },
    resources: {
      user_cpu_seconds: dur * cpus * 0.8, system_cpu_seconds: dur * 0.05, max_rss_bytes: Math.round(peak * 0.9), peak_rss_bytes: Math.round(peak),
      read_bytes: 40e9, write_bytes: 5e9, cpu_percent_mean: cpus * 85, cpu_percent_max: cpus * 96, max_threads: cpus + 4, max_processes: 2,
    },
    samples,
    output: { stdout_bytes: 0, stdout_lines: 0, stderr_bytes: 0, stderr_lines: 0, truncated_lines: 0, dropped_lines: 0 },
    telemetry: { trace_id: runId, span_id: hex(8) },
  };
}

const records = plan.map((p, i) => record(i, p));
// A run whose `loupe run` died without its final record (kill -9): only its running record,
// with a heartbeat period and no heartbeat since its start an hour ago, so the server shows
// it as lost (docs/run.md, "Lost runs").
const stuckId = hex(16);
const stuck = {
  record_version: 1, run_id: stuckId, name: 'stuck', command: ['./simulate'], command_line: './simulate', user: 'alice',
  start_time: new Date(nowMs - hour).toISOString(), end_time: '0001-01-01T00:00:00Z', status: 'running',
  host: { hostname: 'node17', os: 'linux', arch: 'x86_64' }, heartbeat_seconds: 30,
  resources: {}, output: {}, telemetry: { trace_id: stuckId, span_id: hex(8) },
};
writeFileSync(outFile, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
// The stuck run goes in as `loupe run` sends its start: an OTLP log record of scope
// loupe.run carrying the record (run.sh posts it to /v1/logs).
const startNs = String(BigInt(nowMs - hour) * 1000000n);
writeFileSync(outFile + '.lost-logs.json', JSON.stringify({
  resourceLogs: [{
    resource: { attributes: [{ key: 'service.name', value: { stringValue: 'stuck' } }] },
    scopeLogs: [{
      scope: { name: 'loupe.run' },
      logRecords: [{
        timeUnixNano: startNs, severityNumber: 9, severityText: 'INFO', body: { stringValue: 'run started: ./simulate' },
        traceId: stuckId, attributes: [
          { key: 'loupe.run.event', value: { stringValue: 'started' } },
          { key: 'loupe.run.record', value: { stringValue: JSON.stringify(stuck) } },
        ],
      }],
    }],
  }],
}));

const expected = JSON.parse(readFileSync(expectedFile, 'utf8'));
const [a, b] = [records[0], records[records.length - 1]];
expected.runs = {
  train: {
    count: records.length,
    failed: records.filter((r) => r.status === 'failed').length,
    a: a.run_id,
    b: b.run_id,
    durationRatio: b.duration_seconds / a.duration_seconds,
    changedPackage: { name: 'numpy', a: '1.26.4', b: '2.0.1' },
    addedPackage: { name: 'polars', b: '1.1.0' },
    unchangedPackages: 3 + conda.length,
  },
  lost: stuckId,
};
writeFileSync(expectedFile, JSON.stringify(expected, null, 2));
console.log(`wrote ${records.length} run records of "train" to ${outFile}`);
