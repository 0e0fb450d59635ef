// The runs list: every recorded run of a batch job (`loupe run`), filtered by job name,
// status, host, tags and time; with one job chosen, its duration over time shows drift.
// Ticking two runs compares them.
import { useEffect, useMemo, useRef, useState } from 'react';
import type uPlot from 'uplot';
import { getJSON } from '../api';
import { href, navigate, onLinkClick, submit as go, useRefresh } from '../router';
import { fmtDateTime, rangeFromParams, serviceColor, type Range } from '../util';
import {
  compareOrder, drift, durationIncrs, durationSeries, elapsedSeconds, fmtBytes, fmtSeconds, lostTitle, parseTags, statusColors, statuses,
  type RunName, type RunSummary, type RunsPage,
} from '../runs';
import { TimeRangePicker } from '../components/TimeRange';
import { Chart, escapeHTML, themedAxes, tooltipPlugin } from '../components/Chart';
import { ErrorBox, Spinner, useListen } from '../components/States';
import { StatusBadge } from '../components/RunStatus';
import { useAsync } from '../components/hooks';
import { useFirstRender } from '../components/perf';

const defaultRunsRange: Range = { from: 'now-7d', to: 'now' };
const PAGE = 100;
const noRuns: RunSummary[] = [];

interface RunsFilter {
  name: string;
  status: string;
  host: string;
  tags: string;
  range: Range;
  /** limit is the page size (URL parameter only; default 100). */
  limit?: number;
}

function filterFromParams(p: URLSearchParams): RunsFilter {
  return {
    name: p.get('name') ?? '',
    status: p.get('status') ?? '',
    host: p.get('host') ?? '',
    tags: p.getAll('tag').join(' '),
    range: rangeFromParams(p, defaultRunsRange),
    limit: Math.min(1000, Math.max(1, Number(p.get('limit')) || PAGE)),
  };
}

export function runsURL(f: Partial<RunsFilter>): string {
  return href('/runs', {
    name: f.name,
    status: f.status,
    host: f.host?.trim(),
    tag: parseTags(f.tags ?? ''),
    from: !f.range || f.range.from === defaultRunsRange.from ? '' : f.range.from,
    to: !f.range || f.range.to === 'now' ? '' : f.range.to,
    limit: f.limit && f.limit !== PAGE ? String(f.limit) : '',
  });
}

function apiParams(f: RunsFilter, limit: number): URLSearchParams {
  const p = new URLSearchParams({ start: f.range.from, end: f.range.to, limit: String(limit) });
  if (f.name) p.set('name', f.name);
  if (f.status) p.set('status', f.status);
  if (f.host.trim()) p.set('host', f.host.trim());
  parseTags(f.tags).forEach((t) => p.append('tag', t));
  return p;
}

export function RunsPage({ params }: { params: URLSearchParams }) {
  const filter = useMemo(() => filterFromParams(params), [params]);
  const [draft, setDraft] = useState(filter);
  useEffect(() => setDraft(filter), [filter]);
  const submit = (f: RunsFilter) => go(runsURL(f));
  const gen = useRefresh();

  const names = useAsync(`names:${filter.range.from}:${filter.range.to}:${gen}`, (signal) =>
    getJSON<{ names: RunName[] }>('/api/loupe/v1/runs/names', new URLSearchParams({ start: filter.range.from, end: filter.range.to }), signal),
  );
  const key = apiParams(filter, filter.limit ?? PAGE).toString();
  const first = useAsync(`${key}#${gen}`, (signal) => getJSON<RunsPage>('/api/loupe/v1/runs', new URLSearchParams(key), signal));
  useFirstRender('runs', !first.loading);

  // Later pages, appended by "Load more"; dropped when the filter changes.
  const [more, setMore] = useState<{ key: string; runs: RunSummary[]; cursor?: string; loading: boolean; error?: Error }>({ key: '', runs: [], loading: false });
  const extra = more.key === key ? more : { key, runs: noRuns, cursor: undefined, loading: false, error: undefined };
  const runs = useMemo(() => (first.data?.runs ?? []).concat(extra.runs), [first.data, extra.runs]);
  const cursor = extra.runs.length ? extra.cursor : first.data?.next_cursor;
  const loadMore = () => {
    if (!cursor || extra.loading) return;
    const base = extra.runs;
    const p = new URLSearchParams(key);
    p.set('cursor', cursor);
    setMore({ key, runs: base, cursor, loading: true });
    getJSON<RunsPage>('/api/loupe/v1/runs', p).then(
      (page) => setMore((m) => (m.key === key ? { key, runs: base.concat(page.runs), cursor: page.next_cursor, loading: false } : m)),
      (error) => setMore((m) => (m.key === key ? { ...m, loading: false, error } : m)),
    );
  };

  const [selected, setSelected] = useState<string[]>([]);
  const toggle = (id: string) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id].slice(-2)));
  const picked = selected.map((id) => runs.find((r) => r.run_id === id)).filter((r): r is RunSummary => !!r);
  const compare = () => {
    if (picked.length !== 2) return;
    const [a, b] = compareOrder(picked[0], picked[1]);
    navigate(href('/runs/compare', { a: a.run_id, b: b.run_id }));
  };

  const filtered = !!(filter.name || filter.status || filter.host || filter.tags);
  const nameList = names.data?.names ?? [];

  return (
    <div className="page runs-page">
      <form
        className="toolbar wrap"
        data-testid="runs-form"
        onSubmit={(e) => {
          e.preventDefault();
          submit(draft);
        }}
      >
        <label className="field">
          Job
          <select data-testid="runs-name" value={draft.name} onChange={(e) => submit({ ...draft, name: e.target.value })}>
            <option value="">Any</option>
            {nameList.map((n) => (
              <option key={n.name} value={n.name}>
                {n.name} ({n.runs})
              </option>
            ))}
            {draft.name && !nameList.some((n) => n.name === draft.name) && <option>{draft.name}</option>}
          </select>
        </label>
        <label className="field">
          Status
          <select data-testid="runs-status" value={draft.status} onChange={(e) => submit({ ...draft, status: e.target.value })}>
            <option value="">Any</option>
            {statuses.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label className="field">
          Host
          <input data-testid="runs-host" placeholder="node17" value={draft.host} onChange={(e) => setDraft({ ...draft, host: e.target.value })} spellCheck={false} />
        </label>
        <label className="field grow">
          Tags
          <input data-testid="runs-tags" placeholder="lr=0.1 dataset=v3" value={draft.tags} onChange={(e) => setDraft({ ...draft, tags: e.target.value })} spellCheck={false} />
        </label>
        <TimeRangePicker range={draft.range} onChange={(range) => submit({ ...draft, range })} />
        <button className="btn primary" type="submit" data-testid="runs-search">
          Search
        </button>
      </form>
      {filter.name && <DurationChart filter={filter} />}
      {first.error && <ErrorBox error={first.error} />}
      {first.loading && !first.data && <Spinner label="Loading runs…" />}
      {first.data && runs.length === 0 && !first.loading && (filtered ? (
        <div className="empty-state">
          <h3>No runs match</h3>
          <p>No run started in this range matches every filter. Widen the range or remove a filter.</p>
        </div>
      ) : (
        <NoRuns />
      ))}
      {runs.length > 0 && (
        <>
          <div className="toolbar small">
            <span className="muted grow" data-testid="runs-status-line">
              {runs.length} runs{cursor ? ' loaded' : ''}
              {first.loading && ' · refreshing…'} · tick two runs to compare them
            </span>
            <button className="btn small primary" data-testid="runs-compare" disabled={picked.length !== 2} onClick={compare}>
              Compare{picked.length ? ` (${picked.length}/2)` : ''}
            </button>
          </div>
          <table className="table runs-table" data-testid="runs-table">
            <thead>
              <tr>
                <th></th>
                <th>Job</th>
                <th>Status</th>
                <th>Started</th>
                <th className="num">Duration</th>
                <th>Host</th>
                <th className="num">Peak memory</th>
                <th>Tags</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.run_id} data-testid="run-row" data-run-id={r.run_id} data-name={r.name} data-status={r.status} className={selected.includes(r.run_id) ? 'selected' : ''}>
                  <td>
                    <input type="checkbox" data-testid="run-select" checked={selected.includes(r.run_id)} onChange={() => toggle(r.run_id)} title="Select to compare" />
                  </td>
                  <td>
                    <a href={`/runs/${r.run_id}`} onClick={onLinkClick} data-testid="run-link">
                      <span className="svc-dot" data-svc={r.name} style={{ background: serviceColor(r.name) }} title="The colour of the run's service (the job name)" />
                      <b>{r.name}</b>
                    </a>
                    {r.command_line && <div className="tiny muted mono ellipsis" title={r.command_line}>{r.command_line}</div>}
                  </td>
                  <td>
                    <StatusBadge status={r.status} title={r.status === 'lost' ? lostTitle(r) : r.signal ? `killed by ${r.signal}` : r.exit_code != null ? `exit code ${r.exit_code}` : r.status} />
                  </td>
                  <td className="nowrap">{fmtDateTime(Date.parse(r.start_time))}</td>
                  <td className="num nowrap">
                    {r.status === 'running' ? <span className="muted">{fmtSeconds(elapsedSeconds(r))}…</span> : fmtSeconds(r.duration_seconds)}
                  </td>
                  <td>
                    <a href={runsURL({ ...filter, host: r.host })} onClick={onLinkClick} className="plain" title="Only runs on this host">
                      {r.host}
                    </a>
                  </td>
                  <td className="num nowrap">{r.peak_rss_bytes ? fmtBytes(r.peak_rss_bytes) : '–'}</td>
                  <td>
                    {Object.entries(r.tags ?? {}).map(([k, v]) => (
                      <a key={k} className="tag-chip" href={runsURL({ ...filter, tags: `${filter.tags} ${k}=${v}` })} onClick={onLinkClick} title="Only runs with this tag">
                        {k}={v}
                      </a>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {extra.error && <ErrorBox error={extra.error} />}
          {cursor && (
            <button className="btn" data-testid="runs-more" onClick={loadMore} disabled={extra.loading}>
              {extra.loading ? 'Loading…' : 'Load more runs'}
            </button>
          )}
        </>
      )}
    </div>
  );
}

function durationAxes(): uPlot.Axis[] {
  const axes = themedAxes((v) => fmtSeconds(v));
  axes[1] = { ...axes[1], incrs: durationIncrs };
  return axes;
}

function NoRuns() {
  const otlp = useListen().otlp;
  return (
    <div className="empty-state">
      <h3>No runs in this range yet</h3>
      <p>Wrap a batch job with <code>loupe run</code> and every run is recorded here: what ran, where, with which packages, and how it used the machine.</p>
      <pre className="code">{`loupe run --server http://${otlp} --name train --tag lr=0.1 -- python train.py`}</pre>
      <p>
        Runs recorded without a server (<code>--output runs.jsonl</code>) arrive with <code>loupe push --server http://{otlp} runs.jsonl</code>.
      </p>
      <p className="muted">If you have recorded runs already, try a wider time range.</p>
    </div>
  );
}

/** DurationChart plots each run's duration over its start time, coloured by status, with a rolling median. */
function DurationChart({ filter }: { filter: RunsFilter }) {
  const key = apiParams(filter, 1000).toString();
  const res = useAsync(key, (signal) => getJSON<RunsPage>('/api/loupe/v1/runs', new URLSearchParams(key), signal));
  const series = useMemo(() => durationSeries(res.data?.runs ?? []), [res.data]);
  const d = useMemo(() => drift(res.data?.runs ?? []), [res.data]);
  const runsRef = useRef(series.runs);
  runsRef.current = series.runs;
  const data = useMemo(
    (): uPlot.AlignedData => [series.xs, series.byStatus.succeeded, series.byStatus.failed, series.byStatus.killed, series.median],
    [series],
  );
  const opts = useMemo((): Omit<uPlot.Options, 'width' | 'height'> => {
    const pts = (label: string, color: string) => ({
      label,
      stroke: color,
      paths: () => null,
      points: { show: true, size: 8, stroke: color, fill: color + 'aa', width: 1 },
    });
    return {
      legend: { show: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: durationAxes(),
      cursor: { points: { size: 10 }, focus: { prox: 16 } },
      series: [
        {},
        pts('succeeded', statusColors.succeeded),
        pts('failed', statusColors.failed),
        pts('killed', statusColors.killed),
        { label: 'median', stroke: '#a371f7', width: 1.5, dash: [4, 3], points: { show: false } },
      ],
      plugins: [
        tooltipPlugin((_u, idx) => {
          const r = runsRef.current[idx];
          if (!r) return null;
          return `<div class="tt-title">${escapeHTML(r.name)} · <span style="color:${statusColors[r.status] ?? 'inherit'}">${escapeHTML(r.status)}</span></div><div>${fmtSeconds(r.duration_seconds)} on ${escapeHTML(r.host)}</div><div class="muted">${new Date(r.start_time).toLocaleString()} · click to open</div>`;
        }),
        {
          hooks: {
            init: (u) => {
              u.over.addEventListener('click', () => {
                const idx = u.cursor.idx;
                if (idx != null && runsRef.current[idx]) navigate(`/runs/${runsRef.current[idx].run_id}`);
              });
            },
          },
        },
      ],
    };
  }, []);
  if (res.error) return <ErrorBox error={res.error} title="Duration chart failed" />;
  if (!res.data) return <div className="scatter placeholder">{res.loading && <Spinner label="Loading durations…" />}</div>;
  return (
    <div className="scatter" data-testid="runs-duration-chart">
      <div className="small muted chart-head">
        <span>
          Duration of <b>{filter.name}</b> over time · each point is a run · dashed: median of the last 3 · click a point to open the run
        </span>
        <span className="legend-inline">
          {(['succeeded', 'failed', 'killed'] as const).map((s) => (
            <span key={s}>
              <span className="swatch" style={{ background: statusColors[s] }} />
              {s}
            </span>
          ))}
        </span>
      </div>
      {d && (
        <div className={`small drift ${d.ratio >= 1.25 ? 'worse' : d.ratio <= 0.8 ? 'better' : ''}`} data-testid="runs-drift">
          Median duration {d.ratio >= 1 ? 'rose' : 'fell'} from {fmtSeconds(d.before)} (oldest third) to {fmtSeconds(d.after)} (newest third): ×{d.ratio.toFixed(2)}
        </div>
      )}
      {series.xs.length === 0 ? (
        <div className="muted small chart-empty">No finished runs of {filter.name} in this range.</div>
      ) : (
        <Chart options={opts} data={data} height={180} optionsKey="runs-duration" />
      )}
      {res.data.next_cursor && <div className="tiny muted">showing the newest 1000 runs</div>}
    </div>
  );
}
