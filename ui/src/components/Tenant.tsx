// The header's tenant (tenant.ts): nothing with tenants off, the session's tenant when its
// token is bound to one, else a field where an operator picks the tenant the UI acts for.
import { useEffect, useState } from 'react';
import { getJSON } from '../api';
import { sessionAPI, signedIn } from '../session';
import {
  pickedTenant, pickTenant, staleTenant, tenantInput, tenantView, type SessionTenant, type StatusTenant, type TenantView,
} from '../tenant';

async function loadView(): Promise<TenantView> {
  const picked = pickedTenant();
  // The session is asked only when this browser has one: without, it would answer 401.
  const session: SessionTenant | null = signedIn() ? await getJSON<SessionTenant>(sessionAPI).catch(() => null) : null;
  if (staleTenant(session, picked)) {
    // Every request sent the pick, which this session may not use: drop it and start over.
    pickTenant('');
    window.location.reload();
    return { mode: 'off' };
  }
  try {
    return tenantView(session, await getJSON<StatusTenant>('/api/loupe/v1/status'), null, picked);
  } catch (e) {
    return tenantView(session, null, (e as Error).message, picked);
  }
}

export function Tenant() {
  const [view, setView] = useState<TenantView>({ mode: 'off' });
  useEffect(() => {
    let live = true;
    loadView().then((v) => live && setView(v));
    return () => {
      live = false;
    };
  }, []);
  if (view.mode === 'off') return null;
  if (view.mode === 'fixed')
    return (
      <span className="tenant" data-testid="tenant-fixed" title="The tenant this session's token is bound to: the UI shows its data only">
        Tenant <strong>{view.tenant}</strong>
      </span>
    );
  return <TenantPicker view={view} />;
}

function TenantPicker({ view }: { view: Extract<TenantView, { mode: 'picker' }> }) {
  const [text, setText] = useState(view.picked);
  const input = tenantInput(text, view.picked);
  const error = input && 'error' in input ? input.error : '';
  const apply = () => {
    if (!input || 'error' in input) return;
    pickTenant(input.pick);
    // Every page and cache starts afresh, now for the new tenant.
    window.location.reload();
  };
  return (
    <label className="tenant" title="The tenant the UI acts for (sent as X-Scope-OrgID): Enter switches to the one typed, empty is the default tenant">
      Tenant
      <input data-testid="tenant-picker" value={text} placeholder={view.acting || 'default'} spellCheck={false} autoComplete="off"
        aria-invalid={!!error} maxLength={200}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') apply();
          else if (e.key === 'Escape') setText(view.picked);
        }}
        onBlur={() => setText(view.picked)} />
      {(error || view.error) && (
        <span className="error-text" data-testid="tenant-error" role="alert" title={error || view.error}>⚠</span>
      )}
    </label>
  );
}
