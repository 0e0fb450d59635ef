// Two runs side by side: how their duration and resource use differ, and everything captured
// that changed between them (packages, git commit, host, scheduler settings, environment),
// and the diff of their CPU profiles when they ran with `loupe run --profile`.
import { useState } from 'react';
import { getJSON } from '../api';
import { href, navigate, onLinkClick } from '../router';
import { fmtDateTime, fmtPercent } from '../util';
import {
  changeLevel, cpuProfileType, fmtDelta, fmtRatio, fmtResource, fmtSeconds, groupChanges, matchPackage, resourceLabels, runProfileSel, sectionLabels,
  type Comparison, type RunSummary,
} from '../runs';
import { changeKind, diffChange, diffColor, fmtValue, profileGet, type FlameGraph } from '../profile';
import { ErrorBox, Spinner } from '../components/States';
import { StatusBadge } from '../components/RunStatus';
import { useAsync } from '../components/hooks';
import { useFirstRender } from '../components/perf';
import { runsURL } from './Runs';

export function ComparePage({ params }: { params: URLSearchParams }) {
  const a = params.get('a') ?? '';
  const b = params.get('b') ?? '';
  const key = a && b ? new URLSearchParams({ a, b }).toString() : '';
  const res = useAsync(key, (signal) => getJSON<Comparison>('/api/loupe/v1/runs/compare', new URLSearchParams(key), signal));
  useFirstRender('compare', !!res.data || !!res.error);
  if (!key) {
    return (
      <div className="page">
        <div className="empty-state">
          <h3>Pick two runs</h3>
          <p>
            Tick two runs in the <a href="/runs" onClick={onLinkClick}>runs list</a> and press <i>Compare</i>, or open a run and follow
            <i> Compare with the previous run</i>. The URL is <code>/runs/compare?a=RUN_ID&amp;b=RUN_ID</code>.
          </p>
        </div>
      </div>
    );
  }
  return (
    <div className="page compare-page" data-testid="compare-page">
      <div className="toolbar">
        <a href={runsURL({ name: res.data?.b.name })} onClick={onLinkClick} className="small">
          ← Runs{res.data ? ` of ${res.data.b.name}` : ''}
        </a>
        <h2 className="grow">Compare two runs</h2>
        <button className="btn small" onClick={() => navigate(href('/runs/compare', { a: b, b: a }))} title="Swap a and b">
          ⇄ Swap
        </button>
      </div>
      {res.error && <ErrorBox error={res.error} title="Comparing the runs failed" />}
      {res.loading && !res.data && <Spinner label="Comparing…" />}
      {res.data && <CompareView c={res.data} />}
    </div>
  );
}

function RunCard({ label, r }: { label: string; r: RunSummary }) {
  return (
    <div className="run-card" data-testid={`compare-${label}`}>
      <div className="small muted">{label === 'a' ? 'a · baseline' : 'b · compared'}</div>
      <div className="run-card-title">
        <StatusBadge status={r.status} />{' '}
        <a href={`/runs/${r.run_id}`} onClick={onLinkClick}>
          <b>{r.name}</b>
        </a>
      </div>
      <div className="small">
        {fmtDateTime(Date.parse(r.start_time))} · {fmtSeconds(r.duration_seconds)} · {r.host}
      </div>
      <div className="tiny muted mono">{r.run_id}</div>
    </div>
  );
}

/** ProfileDiff shows the diff of the two runs' CPU profiles (a left, b right) as the functions
 *  whose share of self CPU changed most, and links to the Profiles page's full diff; there
 *  are profiles when the runs were started with `loupe run --profile`. */
function ProfileDiff({ c }: { c: Comparison }) {
  const a = runProfileSel(c.a);
  const b = runProfileSel(c.b);
  const to = href('/profiles', {
    type: cpuProfileType, view: 'diff', sort: 'change', query: b.query, from: b.from, to: b.to,
    left_query: a.query, left_from: a.from, left_to: a.to, right_query: b.query, right_from: b.from, right_to: b.to,
  });
  const q = new URLSearchParams({
    type: cpuProfileType, left_query: a.query, left_start: a.from, left_end: a.to, right_query: b.query, right_start: b.from, right_end: b.to,
  });
  const res = useAsync(`diff?${q}`, (signal) => profileGet<FlameGraph>('diff', q, signal));
  const g = res.data;
  const lt = g?.left_total ?? 0;
  const rt = g?.right_total ?? 0;
  // Self CPU says where the time went; a change under half a point is noise at 100 Hz.
  const rows = (g?.top ?? [])
    .map((r) => ({ fn: r.function, ch: diffChange({ left_total: r.left_self, right_total: r.right_self }, lt, rt) }))
    .filter((r) => Math.abs(r.ch.delta) >= 0.005)
    .sort((x, y) => Math.abs(y.ch.delta) - Math.abs(x.ch.delta) || x.fn.localeCompare(y.fn))
    .slice(0, 8);
  return (
    <section data-testid="compare-profile">
      <h3>CPU profile</h3>
      {res.error && <ErrorBox error={res.error} title="The profile diff failed" />}
      {g && !lt && !rt && (
        <div className="small muted" data-testid="compare-profile-none">
          No CPU profiles of these runs: start a Go job using Loupe's SDK with <code>loupe run --profile</code>.
        </div>
      )}
      {g && (lt > 0 || rt > 0) && (
        <>
          <div className="small">
            CPU sampled: a {fmtValue(lt, g.unit)} · b {fmtValue(rt, g.unit)} ·{' '}
            <a href={to} onClick={onLinkClick} data-testid="compare-profile-diff">
              flame graph of the diff
            </a>
          </div>
          <table className="table compare-table" data-testid="compare-profile-table">
            <thead>
              <tr>
                <th>Function (largest changes of self CPU share)</th>
                <th className="num">a</th>
                <th className="num">b</th>
                <th className="num">b − a</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.fn} data-testid="profile-change-row" data-function={r.fn} data-change={changeKind(r.ch)}>
                  <td className="mono">{r.fn}</td>
                  <td className="num">{fmtPercent(r.ch.left)}</td>
                  <td className="num">{fmtPercent(r.ch.right)}</td>
                  <td className="num" style={{ color: diffColor(r.ch) }}>
                    {r.ch.delta >= 0 ? '+' : '−'}
                    {(Math.abs(r.ch.delta) * 100).toFixed(1)} pp
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function CompareView({ c }: { c: Comparison }) {
  const dur = c.resources.find((r) => r.key === 'duration_seconds');
  const groups = groupChanges(c.changes);
  return (
    <>
      <div className="compare-cards">
        <RunCard label="a" r={c.a} />
        <div className="compare-arrow">
          {dur && dur.ratio != null && (
            <div className={`big-ratio ${changeLevel(dur)}`} data-testid="compare-duration-ratio" title="duration of b / duration of a">
              {fmtRatio(dur.ratio)}
              <div className="tiny muted">duration b / a</div>
            </div>
          )}
          →
        </div>
        <RunCard label="b" r={c.b} />
      </div>
      {c.a.name !== c.b.name && <div className="small muted">These runs belong to different jobs ({c.a.name}, {c.b.name}).</div>}

      <section>
        <h3>Duration and resources</h3>
        <table className="table compare-table" data-testid="compare-resources">
          <thead>
            <tr>
              <th></th>
              <th className="num">a</th>
              <th className="num">b</th>
              <th className="num">b − a</th>
              <th className="num">b / a</th>
            </tr>
          </thead>
          <tbody>
            {c.resources.map((d) => {
              const level = changeLevel(d);
              return (
                <tr key={d.key} data-testid="resource-row" data-key={d.key} className={level ? `chg-${level}` : ''}>
                  <td>{resourceLabels[d.key] ?? d.key}</td>
                  <td className="num">{fmtResource(d.key, d.a)}</td>
                  <td className="num">{fmtResource(d.key, d.b)}</td>
                  <td className="num">{fmtDelta(d.key, d.delta)}</td>
                  <td className="num ratio" data-testid="resource-ratio">{fmtRatio(d.ratio)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <div className="tiny muted">Red: b grew by a quarter or more; blue: b shrank by a fifth or more; bold: doubled or halved. Values under a second or a MiB are not highlighted.</div>
      </section>
      <ProfileDiff c={c} />

      <div className="compare-grid">
        <section>
          <h3>What changed ({c.changes.length})</h3>
          {c.changes.length === 0 ? (
            <div className="small muted">Nothing captured differs apart from the packages: same host, git commit, scheduler settings and environment.</div>
          ) : (
            <table className="table changes-table" data-testid="compare-changes">
              <thead>
                <tr>
                  <th>Setting</th>
                  <th>a</th>
                  <th>b</th>
                </tr>
              </thead>
              {groups.map(([section, rows]) => (
                <tbody key={section}>
                  <tr className="group-row">
                    <td colSpan={3}>{sectionLabels[section] ?? section}</td>
                  </tr>
                  {rows.map((ch) => (
                    <tr key={ch.key} data-testid="change-row" data-section={ch.section} data-key={ch.key}>
                      <td className="mono">{ch.key}</td>
                      <td className={`mono val ${ch.a === '' ? 'muted' : 'old'}`}>{ch.a === '' ? '(not set)' : ch.a}</td>
                      <td className={`mono val ${ch.b === '' ? 'muted' : 'new'}`}>{ch.b === '' ? '(not set)' : ch.b}</td>
                    </tr>
                  ))}
                </tbody>
              ))}
            </table>
          )}
        </section>

        <PackageDiff c={c} />
      </div>
    </>
  );
}

const changeOrder = ['changed', 'added', 'removed'];

function PackageDiff({ c }: { c: Comparison }) {
  const [q, setQ] = useState('');
  const [kind, setKind] = useState('');
  const counts = Object.fromEntries(changeOrder.map((k) => [k, c.packages.filter((p) => p.change === k).length]));
  const shown = c.packages.filter((p) => (!kind || p.change === kind) && (matchPackage({ name: p.name, version: p.a }, q) || matchPackage({ name: p.name, version: p.b }, q)));
  return (
    <section data-testid="compare-packages">
      <div className="section-head">
        <h3>Packages</h3>
        <span className="small" data-testid="package-summary">
          <span className="pkg-changed">{counts.changed} changed</span> · <span className="pkg-added">{counts.added} added</span> ·{' '}
          <span className="pkg-removed">{counts.removed} removed</span> · <span className="muted">{c.unchanged_packages} unchanged</span>
        </span>
        <div className="seg small">
          {['', ...changeOrder].map((k) => (
            <button key={k} className={kind === k ? 'on' : ''} onClick={() => setKind(k)}>
              {k || 'all'}
            </button>
          ))}
        </div>
        {c.packages.length > 10 && <input className="small-input" placeholder="filter packages" value={q} onChange={(e) => setQ(e.target.value)} />}
      </div>
      {c.packages.length === 0 ? (
        <div className="small muted">The same {c.unchanged_packages} packages in both runs.</div>
      ) : (
        <table className="table pkg-table">
          <thead>
            <tr>
              <th>Manager</th>
              <th>Package</th>
              <th>a</th>
              <th>b</th>
              <th>Change</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((p) => (
              <tr key={`${p.manager}/${p.name}`} className={`pkg-${p.change}`} data-testid="package-row" data-name={p.name} data-change={p.change}>
                <td className="muted">{p.manager}</td>
                <td className="mono">{p.name}</td>
                <td className="mono">{p.a || '–'}</td>
                <td className="mono">{p.b || '–'}</td>
                <td>
                  <span className="pkg-badge">{p.change === 'changed' ? '~ changed' : p.change === 'added' ? '+ added' : p.change === 'removed' ? '− removed' : p.change}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
