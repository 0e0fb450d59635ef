// One dashboard: its variables and time range (both in the URL: var-NAME=..., from, to,
// as Grafana's links have them), the panels on a 24-column grid, and a minimal editor
// (title, add a time series, stat or heatmap panel with a PromQL query or a traces or
// errors panel with its search, remove panels, save with
// the version read so a concurrent save is refused instead of overwritten, delete).
import { useEffect, useMemo, useState } from 'react';
import { ApiError, getJSON, sendJSON, type PromResult } from '../api';
import { href, navigate, onLinkClick, submit, useRefresh } from '../router';
import { resolveRange, type Range } from '../util';
import { TimeRangePicker } from '../components/TimeRange';
import { ErrorBox, Spinner } from '../components/States';
import { useAsync } from '../components/hooks';
import { ALL, applyRegex, nextPanelPos, parseVarQuery, select, sortValues, staticOptions, interpolate, builtinValues, type Dashboard, type DashboardMeta, type Panel, type VarState } from '../dashboards';
import { PanelBody, cachedGet, exploreURL, type PanelContext } from './DashboardPanels';
import { DashboardHistory } from './DashboardHistory';
import './Dashboards.css';

const ROW_PX = 30;
const GAP_PX = 8;

export function DashboardPage({ uid, params }: { uid: string; params: URLSearchParams }) {
  const [n, setN] = useState(0);
  const res = useAsync(`${uid}|${n}`, (signal) => getJSON<{ dashboard: Dashboard; meta: DashboardMeta }>(`/api/loupe/v1/dashboards/${encodeURIComponent(uid)}`, undefined, signal));
  if (res.error) return <div className="page"><ErrorBox error={res.error} title={`Cannot load dashboard ${uid}`} /></div>;
  if (!res.data) return <div className="page"><Spinner label="Loading dashboard…" /></div>;
  return <DashboardView key={`${uid}|${res.data.meta.version}|${n}`} loaded={res.data} params={params} reload={() => setN((x) => x + 1)} />;
}

function DashboardView({ loaded, params, reload }: { loaded: { dashboard: Dashboard; meta: DashboardMeta }; params: URLSearchParams; reload: () => void }) {
  const [dash, setDash] = useState<Dashboard>(loaded.dashboard);
  const [editing, setEditing] = useState(params.get('edit') === '1' && !loaded.meta.readOnly);
  const [dirty, setDirty] = useState(false);
  const [saveErr, setSaveErr] = useState<ApiError | Error | null>(null);
  const [saving, setSaving] = useState(false);
  const [history, setHistory] = useState(false);
  const version = loaded.meta.version;
  const range: Range = { from: params.get('from') || dash.time?.from || 'now-6h', to: params.get('to') || dash.time?.to || 'now' };
  const gen = useRefresh();

  // The URL keeps the view: range and variables; edits of the page's own state keep them.
  const urlWith = (patch: Record<string, string | string[] | null>) => {
    const p = new URLSearchParams(window.location.search);
    for (const [k, v] of Object.entries(patch)) {
      p.delete(k);
      if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
      else if (v !== null && v !== '') p.set(k, v);
    }
    const s = p.toString();
    return s ? `${window.location.pathname}?${s}` : window.location.pathname;
  };

  const r = useMemo(() => resolveRange(range), [range.from, range.to, gen]); // eslint-disable-line react-hooks/exhaustive-deps
  const vars = useVariables(dash, params, r, gen);

  const update = (d: Dashboard) => {
    setDash(d);
    setDirty(true);
  };
  const save = async () => {
    setSaving(true);
    setSaveErr(null);
    try {
      await sendJSON(`PUT`, `/api/loupe/v1/dashboards/${encodeURIComponent(dash.uid)}`, { dashboard: { ...dash, version: undefined }, version });
      setDirty(false);
      setEditing(false);
      navigate(urlWith({ edit: null }), true);
      reload();
    } catch (e) {
      setSaveErr(e as Error);
    } finally {
      setSaving(false);
    }
  };
  const remove = async () => {
    if (!window.confirm(`Delete the dashboard "${dash.title}"?`)) return;
    try {
      await sendJSON('DELETE', `/api/loupe/v1/dashboards/${encodeURIComponent(dash.uid)}?version=${version}`, undefined);
      navigate('/dashboards');
    } catch (e) {
      setSaveErr(e as Error);
    }
  };
  // A provisioned dashboard cannot be changed: editing starts from a stored copy of it.
  const saveCopy = async () => {
    try {
      const r = await sendJSON<{ uid: string }>('POST', '/api/loupe/v1/dashboards', { dashboard: { ...dash, uid: '', version: undefined, title: `${dash.title} (copy)` } });
      navigate(`/dashboards/${encodeURIComponent(r.uid)}?edit=1`);
    } catch (e) {
      setSaveErr(e as Error);
    }
  };
  const conflict = saveErr instanceof ApiError && saveErr.status === 409;

  const ctx: PanelContext | null = r && vars.ready ? { range, start: r.start, end: r.end, vars: vars.states, gen } : null;
  const maxY = dash.panels.reduce((m, p) => Math.max(m, p.gridPos.y + p.gridPos.h), 0);

  return (
    <div className="page dashboard-page" data-testid="dashboard" data-uid={dash.uid} data-version={version}>
      <div className="toolbar dash-toolbar">
        <a href="/dashboards" onClick={onLinkClick} className="muted">
          Dashboards
        </a>
        <span className="muted">/</span>
        {editing ? (
          <input className="dash-title-input" data-testid="dash-title-input" value={dash.title} onChange={(e) => update({ ...dash, title: e.target.value })} />
        ) : (
          <h2 className="dash-title" data-testid="dash-title">
            {dash.title}
          </h2>
        )}
        {loaded.meta.readOnly && (
          <span className="dash-tag" title={`Provisioned (${loaded.meta.source ?? 'file'}): save a copy under another uid to edit it`}>
            read-only
          </span>
        )}
        <div className="spacer" />
        <TimeRangePicker range={range} onChange={(nr) => submit(urlWith({ from: nr.from, to: nr.to }))} />
        {loaded.meta.readOnly && (
          <button className="btn" data-testid="dash-copy" onClick={saveCopy} title="Save an editable copy under a new uid">
            Save a copy
          </button>
        )}
        {!loaded.meta.readOnly && !editing && (
          <button className="btn" data-testid="dash-edit" onClick={() => setEditing(true)}>
            Edit
          </button>
        )}
        {!loaded.meta.readOnly && (
          <button className={`btn ${history ? 'primary' : ''}`} data-testid="dash-history-toggle" onClick={() => setHistory((h) => !h)} title="Earlier versions of this dashboard">
            Versions
          </button>
        )}
        {editing && (
          <>
            <button className="btn primary" data-testid="dash-save" disabled={saving} onClick={save}>
              {saving ? 'Saving…' : dirty ? 'Save' : 'Save (no changes)'}
            </button>
            <button className="btn" data-testid="dash-cancel" onClick={() => (dirty ? reload() : setEditing(false))}>
              {dirty ? 'Discard changes' : 'Done'}
            </button>
            <button className="btn danger" data-testid="dash-delete" onClick={remove}>
              Delete
            </button>
          </>
        )}
        <a className="btn ghost" href={`/api/loupe/v1/dashboards/${encodeURIComponent(dash.uid)}/export`} download={`${dash.uid}.json`} title="Grafana JSON">
          Export
        </a>
      </div>
      {saveErr &&
        (conflict ? (
          <div className="error-box" role="alert" data-testid="dash-conflict">
            <strong>Someone else saved this dashboard since you opened it.</strong>
            <p>Your changes were not saved, and theirs were not overwritten. Reload to see their version (your unsaved edits are lost), then make your change again.</p>
            <pre>{saveErr.message}</pre>
            <button className="btn primary" data-testid="dash-reload" onClick={reload}>
              Reload the dashboard
            </button>
          </div>
        ) : (
          <ErrorBox error={saveErr} title="Cannot save the dashboard" />
        ))}
      {history && !loaded.meta.readOnly && <DashboardHistory uid={dash.uid} current={version} onRestored={reload} />}
      <VariableBar vars={vars} onChange={(name, vals) => navigate(urlWith({ [`var-${name}`]: vals }))} />
      {editing && <AddPanel dash={dash} onAdd={(p) => update({ ...dash, panels: [...dash.panels, p] })} />}
      {!r && <ErrorBox error={new Error(`invalid time range ${range.from} to ${range.to}`)} />}
      {dash.panels.length === 0 && <div className="empty-state"><h3>No panels yet</h3><p>{editing ? 'Add a panel above.' : 'Edit the dashboard to add panels.'}</p></div>}
      <div className="dash-grid" style={{ gridTemplateRows: `repeat(${Math.max(1, maxY)}, ${ROW_PX}px)` }} data-testid="dash-grid">
        {dash.panels.map((p) => (
          <PanelFrame key={p.id} p={p} ctx={ctx} editing={editing} onRemove={() => update({ ...dash, panels: dash.panels.filter((x) => x.id !== p.id) })} />
        ))}
      </div>
    </div>
  );
}

function PanelFrame({ p, ctx, editing, onRemove }: { p: Panel; ctx: PanelContext | null; editing: boolean; onRemove: () => void }) {
  const g = p.gridPos;
  const style = { gridColumn: `${g.x + 1} / span ${Math.max(1, g.w)}`, gridRow: `${g.y + 1} / span ${Math.max(1, g.h)}` };
  if (p.type === 'row')
    return (
      <div className="dash-row" style={style} data-testid="dash-row">
        <h3>{p.title}</h3>
        {p.collapsed && <span className="muted small">{(p.panels ?? []).length} panels (collapsed)</span>}
      </div>
    );
  const height = g.h * ROW_PX + (g.h - 1) * GAP_PX - 34;
  const firstExpr = ctx && (p.targets ?? []).find((t) => !t.hide && t.expr);
  const b = ctx ? builtinValues({ intervalMs: 60000, rangeMs: ctx.end - ctx.start }) : {};
  const exploreHref = ctx && firstExpr ? exploreURL(p, interpolate(firstExpr.expr, ctx.vars, b), ctx.range) : '';
  return (
    <section className="dash-panel" style={style} data-testid="dash-panel" data-panel-id={p.id} data-panel-type={p.type} data-title={p.title}>
      <header className="dash-panel-head">
        {exploreHref ? (
          <a href={exploreHref} onClick={onLinkClick} className="dash-panel-title" title="Open in the explorer" data-testid="panel-title">
            {p.title || '\u00a0'}
          </a>
        ) : (
          <span className="dash-panel-title" data-testid="panel-title">
            {p.title || '\u00a0'}
          </span>
        )}
        {p.description && (
          <span className="muted small" title={p.description}>
            ⓘ
          </span>
        )}
        {editing && (
          <button className="btn ghost small" data-testid="panel-remove" onClick={onRemove} title="Remove this panel">
            ✕
          </button>
        )}
      </header>
      <div className="dash-panel-body">{ctx ? <PanelBody p={p} ctx={ctx} height={height} /> : <div className="dash-placeholder muted">Waiting for the variables…</div>}</div>
    </section>
  );
}

const addPlaceholders: Record<string, string> = {
  timeseries: 'PromQL, e.g. sum(rate(http_server_request_duration_seconds_count[$__rate_interval]))',
  heatmap: 'PromQL, e.g. sum by (le) (rate(http_server_request_duration_seconds_bucket[$__rate_interval]))',
  traces: 'Trace search, e.g. service=checkout&errors=true&min_duration=100ms',
  errors: 'Issue filter, e.g. service=checkout&status=unresolved&environment=prod',
};

function AddPanel({ dash, onAdd }: { dash: Dashboard; onAdd: (p: Panel) => void }) {
  const [type, setType] = useState('timeseries');
  const [title, setTitle] = useState('');
  const [expr, setExpr] = useState('');
  const [unit, setUnit] = useState('');
  return (
    <form
      className="dash-add toolbar"
      data-testid="panel-add-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!expr.trim() && type !== 'traces' && type !== 'errors') return;
        const id = dash.panels.reduce((m, p) => Math.max(m, p.id, ...(p.panels ?? []).map((x) => x.id)), 0) + 1;
        const stat = type === 'stat';
        // Traces and errors panels have no query: the text is their search (options.query).
        const search = type === 'traces' || type === 'errors';
        onAdd({
          id,
          type,
          title: title || expr,
          gridPos: nextPanelPos(dash.panels, stat ? 6 : 12, 8),
          ...(search ? { options: { query: expr.trim() } } : { targets: [{ refId: 'A', expr: expr.trim(), ...(type === 'heatmap' ? { format: 'heatmap' } : {}) }] }),
          ...(unit ? { fieldConfig: { defaults: { unit } } } : {}),
          ...(stat ? { options: { reduceOptions: { calcs: ['lastNotNull'] } } } : {}),
        });
        setTitle('');
        setExpr('');
      }}
    >
      <strong>Add a panel</strong>
      <select value={type} onChange={(e) => setType(e.target.value)} data-testid="panel-add-type">
        <option value="timeseries">Time series</option>
        <option value="stat">Stat</option>
        <option value="heatmap">Heatmap</option>
        <option value="traces">Traces</option>
        <option value="errors">Errors</option>
      </select>
      <input placeholder="Title" value={title} onChange={(e) => setTitle(e.target.value)} data-testid="panel-add-title" />
      <input className="search mono" placeholder={addPlaceholders[type] ?? addPlaceholders.timeseries} value={expr} onChange={(e) => setExpr(e.target.value)} data-testid="panel-add-expr" spellCheck={false} />
      <input placeholder="Unit (s, bytes, percent…)" value={unit} onChange={(e) => setUnit(e.target.value)} data-testid="panel-add-unit" style={{ width: 150 }} />
      <button className="btn" type="submit" data-testid="panel-add">
        Add
      </button>
    </form>
  );
}

interface Vars {
  ready: boolean;
  states: Map<string, VarState>;
}

/**
 * useVariables resolves the dashboard's variables in order (a query variable may use the
 * ones before it): their options (queries through the Prometheus or Loki label APIs) and
 * selection (the URL's var-NAME, else the saved default).
 */
function useVariables(dash: Dashboard, params: URLSearchParams, r: { start: number; end: number } | null, gen: number): Vars & { error?: Error } {
  const list = dash.templating?.list ?? [];
  const fromURL = list.map((v) => `${v.name}=${params.getAll(`var-${v.name}`).join(',')}`).join('&');
  const key = r ? `${JSON.stringify(list)}|${fromURL}|${r.start}|${r.end}|${gen}` : '';
  const res = useAsync(key, async () => {
    const states = new Map<string, VarState>();
    const b = builtinValues({ intervalMs: 60000, rangeMs: r!.end - r!.start });
    for (const v of list) {
      let options = staticOptions(v);
      let error: string | undefined;
      if (v.type === 'query') {
        try {
          options = sortValues(applyRegex(await varQuery(interpolate(v.query ?? '', states, b), v.datasource?.type === 'loki', r!, gen), v.regex), v.sort);
        } catch (e) {
          error = (e as Error).message;
          options = [];
        }
      }
      states.set(v.name, { v, options, selected: select(v, options, params.getAll(`var-${v.name}`)), error });
    }
    return states;
  });
  const [last, setLast] = useState<Map<string, VarState>>(new Map());
  useEffect(() => {
    if (res.data) setLast(res.data);
  }, [res.data]);
  return { ready: !!res.data || list.length === 0, states: res.data ?? last, error: res.error };
}

async function varQuery(q: string, loki: boolean, r: { start: number; end: number }, gen: number): Promise<string[]> {
  const pq = parseVarQuery(q);
  const t = { start: String(r.start / 1000), end: String(r.end / 1000) };
  if (loki) {
    const lt = { start: `${Math.floor(r.start)}000000`, end: `${Math.ceil(r.end)}000000` };
    if (pq.kind === 'label_names') return cachedGet<string[]>(gen, '/loki/api/v1/labels', new URLSearchParams(lt));
    if (pq.kind === 'label_values') return cachedGet<string[]>(gen, `/loki/api/v1/label/${encodeURIComponent(pq.label)}/values`, new URLSearchParams({ ...lt, ...(pq.match ? { query: pq.match } : {}) }));
    throw new Error(pq.kind === 'invalid' ? pq.error : 'query_result is for Prometheus variables');
  }
  switch (pq.kind) {
    case 'label_names': {
      const p = new URLSearchParams(t);
      if (pq.match) p.set('match[]', pq.match);
      return cachedGet<string[]>(gen, '/api/v1/labels', p);
    }
    case 'label_values': {
      const p = new URLSearchParams(t);
      if (pq.match) p.set('match[]', pq.match);
      return cachedGet<string[]>(gen, `/api/v1/label/${encodeURIComponent(pq.label)}/values`, p);
    }
    case 'query_result': {
      const res = await cachedGet<PromResult>(gen, '/api/v1/query', new URLSearchParams({ query: pq.expr, time: t.end }));
      if (res.resultType !== 'vector') return [];
      return res.result.map((s) => {
        const { __name__, ...rest } = s.metric;
        const labels = Object.entries(rest).map(([k, v]) => `${k}="${v}"`);
        return `${__name__ ?? ''}{${labels.join(', ')}} ${s.value[1]} ${s.value[0] * 1000}`;
      });
    }
    default:
      throw new Error(pq.error);
  }
}

function VariableBar({ vars, onChange }: { vars: Vars; onChange: (name: string, vals: string[]) => void }) {
  const shown = [...vars.states.values()].filter((s) => s.v.hide !== 2 && s.v.type !== 'constant');
  if (!shown.length) return null;
  return (
    <div className="dash-vars" data-testid="dash-vars">
      {shown.map((s) => (
        <label key={s.v.name} className="dash-var" data-testid={`var-${s.v.name}`}>
          {s.v.hide !== 1 && <span className="muted">{s.v.label || s.v.name}</span>}
          {s.v.type === 'textbox' ? (
            <TextVar value={s.selected[0] ?? ''} onChange={(v) => onChange(s.v.name, [v])} />
          ) : (
            <select
              multiple={!!s.v.multi}
              size={s.v.multi ? Math.min(6, s.options.length + (s.v.includeAll ? 1 : 0)) : undefined}
              value={s.v.multi ? s.selected : s.selected[0] ?? ''}
              onChange={(e) => {
                const vals = [...e.target.selectedOptions].map((o) => o.value);
                onChange(s.v.name, vals.includes(ALL) && vals.length > 1 && !s.selected.includes(ALL) ? [ALL] : vals.filter((v) => !(v === ALL && vals.length > 1)));
              }}
            >
              {s.v.includeAll && <option value={ALL}>All</option>}
              {s.options.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          )}
          {s.error && (
            <span className="error-text small" data-testid="var-error" title={s.error}>
              ⚠ {s.error}
            </span>
          )}
        </label>
      ))}
    </div>
  );
}

function TextVar({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  return <input value={draft} onChange={(e) => setDraft(e.target.value)} onBlur={() => draft !== value && onChange(draft)} onKeyDown={(e) => e.key === 'Enter' && onChange(draft)} />;
}

export const dashboardURL = (uid: string, extra: Record<string, string> = {}) => href(`/dashboards/${encodeURIComponent(uid)}`, extra);
