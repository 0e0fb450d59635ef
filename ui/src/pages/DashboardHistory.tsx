// A stored dashboard's version history (GET /api/loupe/v1/dashboards/{uid}/versions): the
// kept versions, newest first, each restorable as a new version. A restore names the
// version the page was loaded at, so that restoring over someone else's newer save is
// refused (409) instead of overwriting it.
import { useState } from 'react';
import { ApiError, getJSON, sendJSON } from '../api';
import { fmtDateTime } from '../util';
import { ErrorBox, Spinner } from '../components/States';
import { useAsync } from '../components/hooks';

interface VersionInfo {
  version: number;
  updated: string;
  title: string;
}

export function DashboardHistory({ uid, current, onRestored }: { uid: string; current: number; onRestored: () => void }) {
  const base = `/api/loupe/v1/dashboards/${encodeURIComponent(uid)}`;
  const res = useAsync(`${uid}|${current}`, (signal) => getJSON<{ versions: VersionInfo[] }>(`${base}/versions`, undefined, signal));
  const [err, setErr] = useState<Error | null>(null);
  const [busy, setBusy] = useState(0);
  const restore = async (n: number) => {
    setBusy(n);
    setErr(null);
    try {
      await sendJSON('POST', `${base}/versions/${n}/restore`, { version: current });
      onRestored();
    } catch (e) {
      setErr(e as Error);
    } finally {
      setBusy(0);
    }
  };
  return (
    <div className="dash-history" data-testid="dash-history">
      <strong>Versions</strong>
      {res.error && <ErrorBox error={res.error} title="Cannot load the versions" />}
      {!res.data && !res.error && <Spinner label="Loading versions…" />}
      {err && (
        <div className="error-text small" role="alert" data-testid="dash-history-error">
          {err instanceof ApiError && err.status === 409 ? 'Someone else saved this dashboard since you opened it: reload it before restoring a version. ' : ''}
          {err.message}
        </div>
      )}
      {res.data && (
        <table className="table dash-search">
          <tbody>
            {res.data.versions.map((v) => (
              <tr key={v.version} data-testid="dash-version" data-version={v.version}>
                <td className="num">v{v.version}</td>
                <td>{v.title}</td>
                <td className="muted nowrap">{fmtDateTime(Date.parse(v.updated))}</td>
                <td>
                  {v.version === current ? (
                    <span className="muted small">current</span>
                  ) : (
                    <button className="btn small" data-testid="dash-version-restore" disabled={!!busy} onClick={() => restore(v.version)} title={`Save version ${v.version} again, as version ${current + 1}`}>
                      {busy === v.version ? 'Restoring…' : 'Restore'}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
