// Tenants in the UI (docs/security.md, Tenants; docs/ui.md). With tenants.enabled, every
// request acts for one tenant: the one the session's token is bound to, else the one the
// X-Scope-OrgID header names, else the default tenant. An operator (a session bound to no
// tenant, or no authentication) picks the tenant in the header; the pick is kept in
// localStorage and installFetch (session.ts) sends it with every request to Loupe.

export const tenantHeader = 'X-Scope-OrgID';
export const tenantStorageKey = 'loupe.tenant';
export const tenantMaxLen = 150;

/**
 * tenantError tells why id cannot name a tenant, or null when it can: the rule of the
 * server (internal/tenant Validate, as Cortex and Loki): 1 to 150 letters, digits and
 * !-_.*'(), not "." or "..".
 */
export function tenantError(id: string): string | null {
  if (id === '') return 'empty tenant id';
  if (id.length > tenantMaxLen) return `tenant id of ${id.length} characters: at most ${tenantMaxLen}`;
  if (id === '.' || id === '..') return `tenant id "${id}" is not allowed`;
  for (const c of id) {
    if (!/^[A-Za-z0-9!\-_.*'()]$/.test(c)) return `character "${c}" is not allowed (letters, digits and !-_.*'() are)`;
  }
  return null;
}

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled by the browser
  }
}

/** pickedTenant is the tenant picked in this browser, or '' for the default tenant. */
export function pickedTenant(): string {
  const id = storage()?.getItem(tenantStorageKey) ?? '';
  // A value edited by hand that the server would refuse (400) is not sent.
  return id && tenantError(id) === null ? id : '';
}

/** pickTenant keeps id as this browser's tenant; '' goes back to the default tenant. */
export function pickTenant(id: string) {
  const s = storage();
  if (!s) return;
  if (id === '') s.removeItem(tenantStorageKey);
  else s.setItem(tenantStorageKey, id);
}

/** What GET /api/loupe/v1/session and /status say about tenants. */
export interface SessionTenant {
  tenant?: string;
}
export interface StatusTenant {
  tenant?: string;
  tenants_enabled?: boolean;
}

/** What the header shows about tenants. */
export type TenantView =
  | { mode: 'off' } // tenants are off: nothing
  | { mode: 'fixed'; tenant: string } // the session is bound to a tenant
  | { mode: 'picker'; acting: string; picked: string; error?: string }; // an operator's choice

/**
 * tenantView decides the header's tenant element. session is the session (null when
 * unknown, or none), status the status answer (null when it failed, statusError then
 * says why) and picked the browser's pick.
 */
export function tenantView(session: SessionTenant | null, status: StatusTenant | null, statusError: string | null, picked: string): TenantView {
  if (session?.tenant) return { mode: 'fixed', tenant: session.tenant };
  if (status?.tenants_enabled) return { mode: 'picker', acting: status.tenant ?? '', picked };
  // The picked tenant was refused (say, beyond tenants.max): keep the picker so that it
  // can be changed back, with the server's reason.
  if (!status && picked) return { mode: 'picker', acting: '', picked, error: statusError ?? undefined };
  return { mode: 'off' };
}

/**
 * staleTenant reports whether the browser holds a pick its session cannot use: a session
 * bound to a tenant may act for that tenant only, and the server refuses (403) a header
 * naming another.
 */
export function staleTenant(session: SessionTenant | null, picked: string): boolean {
  return !!session?.tenant && picked !== '' && picked !== session.tenant;
}

/**
 * tenantInput reads what was typed in the picker: the tenant to switch to ('' for the
 * default tenant), an error the server would answer too, or nothing to do when it is the
 * tenant picked already.
 */
export function tenantInput(text: string, picked: string): { pick: string } | { error: string } | null {
  const id = text.trim();
  if (id === picked) return null;
  if (id === '') return { pick: '' };
  const error = tenantError(id);
  return error === null ? { pick: id } : { error };
}
