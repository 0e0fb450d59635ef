// One job run: what ran and how it ended, its resource use over time, its output, and
// everything captured about where it ran (host, scheduler, git, environment, packages, GPUs).
import { useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { getJSON, type Attrs, type LogsPage, type PromMatrix } from '../api';
import { href, onLinkClick } from '../router';
import { fmtDateTime, nsToMs, serviceColor } from '../util';
import {
  alignSeries, cpuProfileType, durationIncrs, elapsedSeconds, fmtBytes, fmtResource, fmtSeconds, lostTitle, matchPackage, openEnded, runProfileSel, samplesToSeries,
  type Package, type RunRecord, type RunsPage,
} from '../runs';
import { Chart, themedAxes } from '../components/Chart';
import { ErrorBox, Spinner } from '../components/States';
import { AttrTable } from '../components/Attributes';
import { StatusBadge } from '../components/RunStatus';
import { useAsync } from '../components/hooks';
import { useFirstRender } from '../components/perf';
import { runsURL } from './Runs';

export function RunPage({ id }: { id: string }) {
  const res = useAsync(id, (signal) => getJSON<{ run: RunRecord }>(`/api/loupe/v1/runs/${encodeURIComponent(id)}`, undefined, signal));
  useFirstRender('run', !!res.data || !!res.error);
  const run = res.data?.run;
  // A running run is polled until it ends.
  const running = run?.status === 'running';
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!running) return;
    const t = window.setInterval(() => {
      res.reload();
      setTick((n) => n + 1);
    }, 5000);
    return () => window.clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [running]);

  if (res.error) {
    return (
      <div className="page">
        <ErrorBox error={res.error} title={`Run ${id}`} />
        <a href="/runs" onClick={onLinkClick}>
          ← Back to the runs
        </a>
      </div>
    );
  }
  if (!run) return <div className="page"><Spinner label="Loading run…" /></div>;
  return <RunView run={run} tick={tick} />;
}

function RunView({ run, tick }: { run: RunRecord; tick: number }) {
  const res = run.resources ?? {};
  const dur = elapsedSeconds(run);
  const traceId = run.telemetry?.trace_id;
  return (
    <div className="page run-page" data-testid="run-page">
      <div className="run-head">
        <a href={runsURL({ name: run.name })} onClick={onLinkClick} className="small">
          ← Runs of {run.name}
        </a>
        <h2>
          <StatusBadge status={run.status} title={run.status === 'lost' ? lostTitle(run) : undefined} /> <span className="svc-dot" data-svc={run.name} style={{ background: serviceColor(run.name) }} />
          <span data-testid="run-name">{run.name}</span>
        </h2>
        {run.command_line && <pre className="code cmdline" data-testid="run-cmdline">{run.command_line}</pre>}
        <div className="run-meta small" data-testid="run-meta">
          <span>started {fmtDateTime(Date.parse(run.start_time))}{run.timezone ? ` (${run.timezone})` : ''}</span>
          {!openEnded(run.status) && run.end_time && <span>ended {fmtDateTime(Date.parse(run.end_time))}</span>}
          <span>
            {run.status === 'running' ? 'running for ' : run.status === 'lost' ? 'end unknown, started ' : 'took '}
            <b data-testid="run-duration">{fmtSeconds(dur)}</b>
          </span>
          {!openEnded(run.status) && (
            <span className={run.exit_code ? 'error-text' : ''} data-testid="run-exit">
              exit code {run.exit_code ?? '–'}
              {run.signal ? ` · ${run.signal}` : ''}
            </span>
          )}
          {run.error && <span className="error-text">{run.error}</span>}
          <span>
            {run.user ? `${run.user}@` : ''}
            {String(run.host?.hostname ?? '?')}
          </span>
          {run.cwd && <span className="mono">{run.cwd}</span>}
          <span className="mono muted">{run.run_id}</span>
        </div>
        {run.tags && Object.keys(run.tags).length > 0 && (
          <div className="small">
            {Object.entries(run.tags).map(([k, v]) => (
              <a key={k} className="tag-chip" href={runsURL({ name: run.name, tags: `${k}=${v}` })} onClick={onLinkClick}>
                {k}={v}
              </a>
            ))}
          </div>
        )}
        <div className="links small">
          <PreviousRunLink run={run} />
          {traceId && (
            <a href={href(`/traces/${traceId}`, { span: run.telemetry?.span_id })} onClick={onLinkClick} data-testid="run-trace-link">
              Trace of this run (with the job's own spans)
            </a>
          )}
          {traceId && run.status === 'running' && <span className="muted">the run's span is sent when it ends; the job's own spans show up in the trace before that</span>}
          <a href={href('/logs', { q: `loupe.run.id=${run.run_id}`, from: logWindow(run).from, to: logWindow(run).to })} onClick={onLinkClick} data-testid="run-logs-link">
            Output in the logs explorer
          </a>
          <a href={href('/query', { expr: `{instance="${run.run_id}"}`, from: logWindow(run).from, to: logWindow(run).to })} onClick={onLinkClick}>
            Metrics of this run
          </a>
          {run.telemetry?.profile && (
            <a href={href('/profiles', { type: cpuProfileType, ...runProfileSel(run) })} onClick={onLinkClick} data-testid="run-profile-link">
              CPU flame graph of this run
            </a>
          )}
        </div>
      </div>

      <div className="stat-row wrap">
        {(['duration_seconds', 'user_cpu_seconds', 'system_cpu_seconds', 'peak_rss_bytes', 'max_rss_bytes', 'read_bytes', 'write_bytes', 'cpu_percent_mean', 'cpu_percent_max', 'max_threads', 'max_processes'] as const).map((k) => (
          <div className="stat" key={k}>
            <div className="tiny muted">{statLabels[k]}</div>
            <div className="stat-value">{k === 'duration_seconds' ? fmtSeconds(dur) : openEnded(run.status) ? '–' : fmtResource(k, res[k])}</div>
          </div>
        ))}
      </div>

      <RunCharts run={run} />
      <RunLogs run={run} tick={tick} />
      <RunMetadata run={run} />
    </div>
  );
}

const statLabels: Record<string, string> = {
  duration_seconds: 'Duration',
  user_cpu_seconds: 'User CPU',
  system_cpu_seconds: 'System CPU',
  peak_rss_bytes: 'Peak memory',
  max_rss_bytes: 'Max RSS (1 process)',
  read_bytes: 'Read',
  write_bytes: 'Written',
  cpu_percent_mean: 'CPU mean',
  cpu_percent_max: 'CPU max',
  max_threads: 'Max threads',
  max_processes: 'Max processes',
};

/** logWindow is the run's time span with a margin: output can trail the end a little. */
function logWindow(run: RunRecord): { from: string; to: string; startMs: number; endMs: number } {
  const startMs = Date.parse(run.start_time);
  const endMs = openEnded(run.status) || !run.end_time ? Date.now() : Date.parse(run.end_time);
  return {
    startMs,
    endMs,
    from: new Date(startMs - 60_000).toISOString(),
    to: openEnded(run.status) ? 'now' : new Date(endMs + 5 * 60_000).toISOString(),
  };
}

/** PreviousRunLink finds the newest run of the same job that started before this one. */
function PreviousRunLink({ run }: { run: RunRecord }) {
  const startMs = Date.parse(run.start_time);
  const p = new URLSearchParams({
    name: run.name,
    start: new Date(startMs - 365 * 86_400_000).toISOString(),
    end: run.start_time,
    limit: '1',
  });
  const key = p.toString();
  const prev = useAsync(key, (signal) => getJSON<RunsPage>('/api/loupe/v1/runs', new URLSearchParams(key), signal));
  const other = prev.data?.runs.find((r) => r.run_id !== run.run_id);
  if (prev.loading) return <span className="muted">finding the previous run…</span>;
  if (!other) return <span className="muted" data-testid="run-no-previous">first run of {run.name} in the last year</span>;
  return (
    <a href={href('/runs/compare', { a: other.run_id, b: run.run_id })} onClick={onLinkClick} data-testid="run-compare-previous">
      Compare with the previous run ({fmtDateTime(Date.parse(other.start_time))}, {fmtSeconds(other.duration_seconds)})
    </a>
  );
}

type Columns = { t: number[]; cpu: (number | null)[]; rss: (number | null)[]; hwm: (number | null)[]; read: (number | null)[]; write: (number | null)[] };

/**
 * RunCharts draws CPU, memory and IO over the run: from the record's samples when it has
 * them, else from the run's metrics in the metrics store (the span's record leaves them out).
 */
function RunCharts({ run }: { run: RunRecord }) {
  const samples = useMemo(() => run.samples ?? [], [run]);
  const win = useMemo(() => logWindow(run), [run]);
  const fromMetrics = samples.length === 0;
  const sel = (m: string) => `${m}{instance="${run.run_id}"}`;
  const s0 = win.startMs / 1000;
  const s1 = Math.max(win.endMs / 1000, s0 + 1);
  // Short runs: every sample, from range vectors at the end of the run. Longer runs: about
  // 300 points from query_range, so a day-long run does not fetch 86,400 samples a series.
  const raw = s1 - s0 <= 900;
  const p = new URLSearchParams();
  if (raw) {
    p.set('time', String(s1 + 2));
  } else {
    const step = Math.max(1, Math.round((s1 - s0) / 300));
    p.set('start', String(s0));
    p.set('end', String(s1 + step));
    p.set('step', String(step));
  }
  const key = fromMetrics ? `${p}|${run.status}` : '';
  const metrics = useAsync(key, async (signal) => {
    const one = (metric: string) => {
      const x = new URLSearchParams(p);
      x.set('query', raw ? `${sel(metric)}[${Math.ceil(s1 - s0 + 4)}s]` : `max(${sel(metric)})`);
      return getJSON<PromMatrix>(raw ? '/api/v1/query' : '/api/v1/query_range', x, signal).then((r) => r.result[0]?.values);
    };
    const cols = await Promise.all([
      one('loupe_run_cpu_utilization_ratio'),
      one('loupe_run_memory_rss_bytes'),
      one('loupe_run_io_read_bytes_total'),
      one('loupe_run_io_write_bytes_total'),
    ]);
    return alignSeries(s0, cols, [100, 1, 1, 1]);
  });
  const xMax = s1 - s0;
  const cols = useMemo((): Columns | null => {
    if (!fromMetrics) {
      const s = samplesToSeries(samples);
      return s;
    }
    const m = metrics.data;
    if (!m) return null;
    return { t: m[0] as number[], cpu: m[1], rss: m[2], hwm: [], read: m[3], write: m[4] };
  }, [fromMetrics, samples, metrics.data]);

  return (
    <section data-testid="run-charts">
      <div className="section-head">
        <h3>Resources over the run</h3>
        <span className="small muted">
          {fromMetrics ? 'from the run’s metrics' : `${samples.length} samples`} · x: time since start
        </span>
      </div>
      {metrics.error && <ErrorBox error={metrics.error} title="Loading the run's metrics failed" />}
      {fromMetrics && metrics.loading && !metrics.data && <Spinner label="Loading the run's metrics…" />}
      {cols && cols.t.length === 0 && <div className="small muted">No samples: the run ended before its first sample, or its metrics did not reach this server.</div>}
      {cols && cols.t.length > 0 && (
        <div className="chart-grid">
          <RunChart title="CPU % (100 = one core)" xMax={xMax} t={cols.t} series={[['CPU %', cols.cpu, '#4f8cff']]} fmt={(v) => `${v < 10 ? v.toFixed(1) : v.toFixed(0)}%`} />
          <RunChart
            title="Memory"
            xMax={xMax}
            t={cols.t}
            series={cols.hwm.length ? [['RSS (tree)', cols.rss, '#3fb950'], ['max HWM (1 process)', cols.hwm, '#d29922']] : [['RSS (tree)', cols.rss, '#3fb950']]}
            fmt={fmtBytes}
          />
          <RunChart title="IO (cumulative)" xMax={xMax} t={cols.t} series={[['read', cols.read, '#a371f7'], ['written', cols.write, '#db61a2']]} fmt={fmtBytes} />
        </div>
      )}
    </section>
  );
}

/** RunChart draws series over the whole run (0 to xMax seconds), so missing samples show as gaps. */
function RunChart({ title, xMax, t, series, fmt }: { title: string; xMax: number; t: number[]; series: [string, (number | null)[], string][]; fmt: (v: number) => string }) {
  const data = useMemo((): uPlot.AlignedData => [t, ...series.map((s) => s[1])], [t, series]);
  const opts = useMemo((): Omit<uPlot.Options, 'width' | 'height'> => {
    const axes = themedAxes(fmt);
    axes[0] = { ...axes[0], values: (_u, vals) => vals.map((v) => (v == null ? '' : fmtSeconds(v))), incrs: durationIncrs };
    axes[1] = { ...axes[1], size: 76 };
    return {
      legend: { show: true, live: false },
      scales: { x: { time: false, range: (_u, min, max) => [Math.min(0, min), Math.max(xMax, max)] }, y: { range: (_u, _min, max) => [0, Math.max(max * 1.1, 1)] } },
      axes,
      series: [
        { value: (_u, v) => (v == null ? '–' : `+${fmtSeconds(v)}`) },
        ...series.map(([label, , color]) => ({ label, stroke: color, fill: color + '22', width: 1.5, spanGaps: true, points: { show: t.length < 40 }, value: (_u: uPlot, v: number | null) => (v == null ? '–' : fmt(v)) })),
      ],
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [title, series.length, xMax]);
  return (
    <div className="mini-chart" data-testid="run-chart">
      <div className="small muted">{title}</div>
      <Chart options={opts} data={data} height={150} optionsKey={`${title}|${series.length}|${xMax}`} />
    </div>
  );
}

/** RunLogs shows the run's output: log records with resource attribute loupe.run.id. */
function RunLogs({ run, tick }: { run: RunRecord; tick: number }) {
  const win = logWindow(run);
  const p = new URLSearchParams({ start: win.from, end: win.to === 'now' ? 'now+1m' : win.to, limit: '1000' });
  p.append('attr', `loupe.run.id=${run.run_id}`);
  const key = `${p}|${run.status}|${run.status === 'running' ? tick : ''}`;
  const logs = useAsync(key, (signal) => getJSON<LogsPage>('/api/loupe/v1/logs', p, signal));
  const recs = useMemo(() => [...(logs.data?.records ?? [])].reverse(), [logs.data]);
  const [stream, setStream] = useState('');
  const shown = stream ? recs.filter((r) => r.attributes.stream === stream) : recs;
  const out = run.output ?? {};
  return (
    <section className="run-logs" data-testid="run-logs">
      <div className="section-head">
        <h3>Output</h3>
        <span className="small muted">
          {openEnded(run.status) ? 'so far, newest at the bottom' : `${out.stdout_lines ?? 0} stdout lines, ${out.stderr_lines ?? 0} stderr lines`}
          {out.truncated_lines ? ` · ${out.truncated_lines} cut` : ''}
          {out.dropped_lines ? ` · ${out.dropped_lines} not shipped` : ''}
        </span>
        <div className="seg small">
          {['', 'stdout', 'stderr'].map((s) => (
            <button key={s} className={stream === s ? 'on' : ''} onClick={() => setStream(s)}>
              {s || 'both'}
            </button>
          ))}
        </div>
      </div>
      {logs.error && <ErrorBox error={logs.error} />}
      {logs.loading && !logs.data && <Spinner label="Loading output…" />}
      {logs.data && shown.length === 0 && (
        <div className="muted small">No output recorded for this run (a run pushed from a JSONL file has none, and `--capture-output=false` ships none).</div>
      )}
      {shown.length > 0 && (
        <div className="mini-logs run-output">
          {logs.data?.next_cursor && <div className="small muted">showing the last 1000 lines; the logs explorer has them all</div>}
          {shown.map((r, i) => {
            const s = String(r.attributes.stream ?? (r.attributes['loupe.run.event'] ? 'event' : ''));
            return (
              <div key={i} className={`out-line out-${s}`} data-testid="run-log-line">
                <span className="log-time">+{fmtSeconds((nsToMs(r.time_unix_nano) - win.startMs) / 1000)}</span>
                <span className="out-stream">{s}</span>
                <span className="log-body">{r.body}</span>
              </div>
            );
          })}
        </div>
      )}
    </section>
  );
}

function str(o: Record<string, unknown> | undefined, fmt: Record<string, (v: any) => string> = {}): Attrs {
  const out: Attrs = {};
  for (const [k, v] of Object.entries(o ?? {})) {
    if (v === undefined || v === null || v === '' || typeof v === 'object') continue;
    out[k] = fmt[k] ? fmt[k](v) : String(v);
  }
  return out;
}

/** RunMetadata is everything captured about where and with what the run ran, by section. */
function RunMetadata({ run }: { run: RunRecord }) {
  const bytes = (v: number) => `${fmtBytes(v)} (${v})`;
  const sched = run.scheduler;
  const py = run.python;
  const sections: [string, Attrs, string?][] = [
    ['Run', str({ run_id: run.run_id, user: run.user, cwd: run.cwd, pid: run.pid, timezone: run.timezone, tz_offset: run.tz_offset, command: run.command ? JSON.stringify(run.command) : '' })],
    ['Host', str(run.host, { memory_total_bytes: bytes })],
  ];
  if (sched) sections.push(['Scheduler', { type: sched.type, ...(sched.job_id ? { job_id: sched.job_id } : {}), ...(sched.vars ?? {}) }]);
  if (run.git) sections.push(['Git', str(run.git)]);
  if (run.env) sections.push(['Environment', run.env]);
  if (py) sections.push(['Python', str({ version: py.version, executable: py.executable, prefix: py.prefix, env_type: py.env_type, env_name: py.env_name, packages: py.packages?.length, conda_packages: py.conda_packages?.length })]);
  if (run.go) sections.push(['Go', str(run.go)]);
  if (run.r) sections.push(['R', str(run.r)]);
  for (const g of run.gpus ?? []) sections.push([`GPU ${g.index}`, str(g, { memory_total_bytes: bytes })]);
  if (run.cgroup) sections.push(['Cgroup', str(run.cgroup, { memory_max_bytes: bytes })]);
  if (run.telemetry) sections.push(['Telemetry', str(run.telemetry)]);
  if (run.capture_errors && Object.keys(run.capture_errors).length) sections.push(['Capture errors', run.capture_errors, 'error']);
  const [json, setJson] = useState(false);
  return (
    <section data-testid="run-metadata">
      <div className="section-head">
        <h3>What was captured</h3>
        <div className="seg small">
          <button className={!json ? 'on' : ''} onClick={() => setJson(false)}>Sections</button>
          <button className={json ? 'on' : ''} onClick={() => setJson(true)}>JSON</button>
        </div>
      </div>
      {json ? (
        <pre className="code json tall">{JSON.stringify(run, null, 2)}</pre>
      ) : (
        <div className="meta-grid">
          {sections.map(([title, attrs, cls]) => (
            <div key={title} className={`meta-section ${cls ?? ''}`} data-testid="meta-section" data-section={title}>
              <h4>{title}</h4>
              <AttrTable attrs={attrs} />
            </div>
          ))}
          {py?.packages?.length ? <PackageList title="Python packages (pip)" pkgs={py.packages} /> : null}
          {py?.conda_packages?.length ? <PackageList title="Conda packages" pkgs={py.conda_packages} /> : null}
        </div>
      )}
    </section>
  );
}

function PackageList({ title, pkgs }: { title: string; pkgs: Package[] }) {
  const [q, setQ] = useState('');
  const shown = pkgs.filter((p) => matchPackage(p, q));
  return (
    <div className="meta-section packages" data-testid="meta-section" data-section={title}>
      <div className="section-head">
        <h4>
          {title} · {pkgs.length}
        </h4>
        {pkgs.length > 10 && <input className="small-input" placeholder="filter packages" value={q} onChange={(e) => setQ(e.target.value)} data-testid="package-filter" />}
      </div>
      <div className="pkg-scroll">
        <table className="attr-table">
          <tbody>
            {shown.map((p) => (
              <tr key={p.name}>
                <td className="attr-key">{p.name}</td>
                <td className="attr-val">{p.version}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {shown.length === 0 && <div className="muted small">no package matches</div>}
      </div>
    </div>
  );
}
