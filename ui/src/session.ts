// The UI's side of signing in (docs/security.md). The server keeps the session in an
// HttpOnly cookie that scripts cannot read; its CSRF token sits in the readable loupe_csrf
// cookie, and every state-changing request to Loupe carries it in X-CSRF-Token, which a
// page on another site can neither read nor send. A 401 from Loupe's APIs shows the
// sign-in page (App.tsx) instead of a failed page. With tenants, every request to Loupe
// also names the tenant picked in the header (tenant.ts) in X-Scope-OrgID.

import { pickedTenant, pickTenant, tenantHeader } from './tenant';

export const sessionAPI = '/api/loupe/v1/session';

/** csrfToken is the session's CSRF token, or '' when not signed in with a session. */
export function csrfToken(): string {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'loupe_csrf') return decodeURIComponent(v.join('='));
  }
  return '';
}

/** signedIn reports whether this browser holds a session (and so can sign out). */
export const signedIn = () => csrfToken() !== '';

let unauthorized: ((message: string) => void) | null = null;
let pending: string | null = null; // a 401 that came before anyone listened

/** onUnauthorized sets the function told when an API answers 401; it returns its undo. */
export function onUnauthorized(f: (message: string) => void): () => void {
  unauthorized = f;
  if (pending !== null) f(pending);
  pending = null;
  return () => {
    if (unauthorized === f) unauthorized = null;
  };
}

function tell(message: string) {
  if (unauthorized) unauthorized(message);
  else pending = message;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * installFetch wraps window.fetch once, so that every call of every page (api.ts,
 * profile.ts and the rest) sends the CSRF token and the picked tenant and reports a 401,
 * without each caller knowing about sessions or tenants.
 */
export function installFetch() {
  const plain = window.fetch.bind(window);
  window.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = input instanceof Request ? input : null;
    const url = new URL(req ? req.url : String(input), window.location.href);
    const sameOrigin = url.origin === window.location.origin;
    const method = (init?.method ?? req?.method ?? 'GET').toUpperCase();
    const token = sameOrigin && !safeMethods.has(method) ? csrfToken() : '';
    // The session API is the server's, not a tenant's: with a header it would be the
    // tenant's (which has no sessions), and a session bound to another tenant gets 403.
    const tenant = sameOrigin && url.pathname !== sessionAPI ? pickedTenant() : '';
    if (token || tenant) {
      const headers = new Headers(init?.headers ?? req?.headers);
      if (token) headers.set('X-CSRF-Token', token);
      if (tenant && !headers.has(tenantHeader)) headers.set(tenantHeader, tenant);
      init = { ...init, headers };
    }
    const res = await plain(input, init);
    if (sameOrigin && res.status === 401 && url.pathname !== sessionAPI) {
      res.clone().text().then(tell, () => tell(''));
    }
    return res;
  };
}

/** signIn starts a session with a token or a user and password; it answers the server's error. */
export async function signIn(body: { token: string } | { user: string; password: string }): Promise<string | null> {
  let res: Response;
  try {
    res = await fetch(sessionAPI, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  } catch (e) {
    return `cannot reach the Loupe server (${(e as Error).message})`;
  }
  if (res.ok) {
    // A session bound to a tenant acts for it only (a header naming another is refused):
    // a tenant picked before in this browser no longer applies.
    const info = await res.json().catch(() => ({}));
    if (info?.data?.tenant) pickTenant('');
    return null;
  }
  const text = await res.text();
  try {
    return JSON.parse(text).error ?? `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}: ${text.slice(0, 200)}`;
  }
}

/** signOut ends the session on the server, which deletes the cookies. */
export async function signOut(): Promise<void> {
  await fetch(sessionAPI, { method: 'DELETE' }).catch(() => undefined);
}
