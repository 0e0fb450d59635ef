// The dashboards list: search by title, filter by tag, built-in and provisioned ones marked
// read-only; a new empty dashboard; and Grafana import (paste the JSON, read the report of
// what was not carried over, then save).
import { useEffect, useState } from 'react';
import { getJSON, sendJSON } from '../api';
import { href, navigate, onLinkClick, submit } from '../router';
import { ErrorBox, Spinner } from '../components/States';
import { useAsync } from '../components/hooks';
import type { Dashboard, DashboardSummary, ImportReport } from '../dashboards';
import './Dashboards.css';

interface ListAnswer {
  dashboards: DashboardSummary[];
  provisioningErrors?: { source: string; error: string }[];
}

export function DashboardsPage({ params }: { params: URLSearchParams }) {
  const query = params.get('query') ?? '';
  const tag = params.get('tag') ?? '';
  const [draft, setDraft] = useState(query);
  useEffect(() => setDraft(query), [query]);
  const [mode, setMode] = useState<'' | 'new' | 'import'>('');
  const list = useAsync(`${query}|${tag}`, (signal) => getJSON<ListAnswer>('/api/loupe/v1/dashboards', new URLSearchParams({ query, tag }), signal));
  const go = (q: string, t: string) => submit(href('/dashboards', { query: q, tag: t }));

  return (
    <div className="page dashboards-page">
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          go(draft, tag);
        }}
      >
        <input className="search" placeholder="Search dashboards by title" value={draft} onChange={(e) => setDraft(e.target.value)} data-testid="dash-search" />
        {tag && (
          <button type="button" className="dash-tag on" onClick={() => go(query, '')} title="Remove the tag filter" data-testid="dash-tag-filter">
            {tag} ✕
          </button>
        )}
        <button className="btn" type="submit">
          Search
        </button>
        <div className="spacer" />
        <button type="button" className="btn primary" data-testid="dash-new" onClick={() => setMode(mode === 'new' ? '' : 'new')}>
          New dashboard
        </button>
        <button type="button" className="btn" data-testid="dash-import" onClick={() => setMode(mode === 'import' ? '' : 'import')}>
          Import Grafana JSON
        </button>
      </form>
      {mode === 'new' && <NewDashboard />}
      {mode === 'import' && <ImportDashboard />}
      {list.error && <ErrorBox error={list.error} title="Cannot list dashboards" />}
      {!list.data && !list.error && <Spinner />}
      {list.data?.provisioningErrors?.map((e) => (
        <div key={e.source} className="error-box small">
          <strong>Provisioned file {e.source} does not load</strong>
          <pre>{e.error}</pre>
        </div>
      ))}
      {list.data && list.data.dashboards.length === 0 && (
        <div className="empty-state">
          <h3>No dashboards match</h3>
          <p>Clear the search, create a dashboard, or import one from Grafana.</p>
        </div>
      )}
      {list.data && list.data.dashboards.length > 0 && (
        <table className="table" data-testid="dash-list">
          <thead>
            <tr>
              <th>Title</th>
              <th>Tags</th>
              <th>Source</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.data.dashboards.map((d) => (
              <tr key={d.uid} data-testid="dash-list-row" data-uid={d.uid}>
                <td>
                  <a href={`/dashboards/${encodeURIComponent(d.uid)}`} onClick={onLinkClick}>
                    {d.title}
                  </a>{' '}
                  <span className="muted small mono">{d.uid}</span>
                </td>
                <td>
                  {(d.tags ?? []).map((t) => (
                    <button key={t} type="button" className={`dash-tag ${t === tag ? 'on' : ''}`} onClick={() => go(query, t)}>
                      {t}
                    </button>
                  ))}
                </td>
                <td>{d.provisioned ? <span className="dash-tag" data-testid="dash-readonly" title="Provisioned: read-only">{d.source === 'builtin' ? 'built-in' : 'provisioned'} · read-only</span> : <span className="muted">stored · v{d.version}</span>}</td>
                <td className="muted small">{d.updated ? new Date(d.updated).toLocaleString() : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function NewDashboard() {
  const [title, setTitle] = useState('');
  const [err, setErr] = useState<Error | null>(null);
  return (
    <form
      className="toolbar dash-form"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!title.trim()) return;
        try {
          const r = await sendJSON<{ uid: string }>('POST', '/api/loupe/v1/dashboards', { dashboard: { title: title.trim(), tags: [], panels: [], time: { from: 'now-1h', to: 'now' } } });
          navigate(`/dashboards/${encodeURIComponent(r.uid)}?edit=1`);
        } catch (e) {
          setErr(e as Error);
        }
      }}
    >
      <input className="search" placeholder="Title of the new dashboard" value={title} onChange={(e) => setTitle(e.target.value)} data-testid="dash-new-title" autoFocus />
      <button className="btn primary" type="submit" data-testid="dash-create">
        Create
      </button>
      {err && <ErrorBox error={err} title="Cannot create the dashboard" />}
    </form>
  );
}

function ImportDashboard() {
  const [text, setText] = useState('');
  const [err, setErr] = useState<Error | null>(null);
  const [result, setResult] = useState<{ dashboard: Dashboard; report: ImportReport } | null>(null);
  const convert = async () => {
    setErr(null);
    setResult(null);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      setErr(new Error(`not JSON: ${(e as Error).message}`));
      return;
    }
    try {
      setResult(await sendJSON('POST', '/api/loupe/v1/dashboards/import', body));
    } catch (e) {
      setErr(e as Error);
    }
  };
  const save = async () => {
    if (!result) return;
    try {
      const r = await sendJSON<{ uid: string }>('POST', '/api/loupe/v1/dashboards', { dashboard: result.dashboard });
      navigate(`/dashboards/${encodeURIComponent(r.uid)}`);
    } catch (e) {
      setErr(e as Error);
    }
  };
  const items = result?.report.items ?? [];
  return (
    <div className="dash-import" data-testid="dash-import-form">
      <textarea className="mono" rows={10} placeholder="Paste a Grafana dashboard JSON (exported, or its JSON model)" value={text} onChange={(e) => setText(e.target.value)} data-testid="dash-import-text" />
      <div className="toolbar">
        <button className="btn" onClick={convert} data-testid="dash-import-convert">
          Convert
        </button>
        {result && (
          <button className="btn primary" onClick={save} data-testid="dash-import-save">
            Save “{result.dashboard.title}”
          </button>
        )}
      </div>
      {err && <ErrorBox error={err} title="Cannot import" />}
      {result && (
        <div data-testid="dash-import-report">
          <p>
            {result.report.panels} panels (schema version {result.report.schemaVersion}); {result.report.unsupported} things not carried over.
          </p>
          {items.length > 0 && (
            <table className="table small">
              <tbody>
                {items.map((it, i) => (
                  <tr key={i}>
                    <td>{it.kind}</td>
                    <td>{it.panelTitle ?? ''}</td>
                    <td className="mono">{it.path}</td>
                    <td>{it.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </div>
  );
}
