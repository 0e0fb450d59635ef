import { afterEach, describe, expect, it, vi } from 'vitest';
import { csrfToken, installFetch, onUnauthorized, signIn } from './session';
import { tenantStorageKey } from './tenant';

// A stand-in for the browser: one origin, its cookies, and a fetch that records what it
// was asked and answers with status.
function browser(cookie: string, status: number, stored: Record<string, string> = {}, body = 'your session has ended') {
  const calls: { url: string; headers: Headers }[] = [];
  const plain = async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), headers: new Headers(init?.headers) });
    return new Response(body, { status });
  };
  const storage = new Map(Object.entries(stored));
  vi.stubGlobal('localStorage', {
    getItem: (k: string) => storage.get(k) ?? null,
    setItem: (k: string, v: string) => void storage.set(k, v),
    removeItem: (k: string) => void storage.delete(k),
  });
  vi.stubGlobal('document', { cookie });
  vi.stubGlobal('window', { location: { href: 'http://loupe.test/logs', origin: 'http://loupe.test' }, fetch: plain });
  vi.stubGlobal('fetch', (...a: Parameters<typeof fetch>) => (globalThis as any).window.fetch(...a));
  installFetch();
  return Object.assign(calls, { storage });
}

afterEach(() => vi.unstubAllGlobals());

describe('session', () => {
  it('reads the CSRF token from its cookie', () => {
    vi.stubGlobal('document', { cookie: 'loupe.theme=dark; loupe_csrf=abc%2Bdef; other=1' });
    expect(csrfToken()).toBe('abc+def');
    vi.stubGlobal('document', { cookie: '' });
    expect(csrfToken()).toBe('');
  });

  it('sends the CSRF token on same-origin writes only', async () => {
    const calls = browser('loupe_csrf=tok', 200);
    await window.fetch('/api/loupe/v1/issues/1/status', { method: 'PUT', headers: { 'Content-Type': 'application/json' } });
    await window.fetch('/api/loupe/v1/logs');
    await window.fetch('https://elsewhere.example/x', { method: 'POST' });
    expect(calls[0].headers.get('X-CSRF-Token')).toBe('tok');
    expect(calls[0].headers.get('Content-Type')).toBe('application/json');
    expect(calls[1].headers.get('X-CSRF-Token')).toBeNull();
    expect(calls[2].headers.get('X-CSRF-Token')).toBeNull();
  });

  it('names the picked tenant on same-origin requests but the session API', async () => {
    const calls = browser('loupe_csrf=tok', 200, { [tenantStorageKey]: 'team-a' });
    await window.fetch('/api/loupe/v1/logs');
    await window.fetch('/api/loupe/v1/issues/1/status', { method: 'PUT', headers: { 'Content-Type': 'application/json' } });
    await window.fetch('/loki/api/v1/query_range', { headers: { 'X-Scope-OrgID': 'team-c' } }); // a caller's own is kept
    await window.fetch('/api/loupe/v1/session');
    await window.fetch('https://elsewhere.example/x');
    expect(calls.map((c) => c.headers.get('X-Scope-OrgID'))).toEqual(['team-a', 'team-a', 'team-c', null, null]);
    expect(calls[1].headers.get('X-CSRF-Token')).toBe('tok');
    expect(calls[1].headers.get('Content-Type')).toBe('application/json');
  });

  it('names no tenant for the default one, nor one the server would refuse', async () => {
    let calls = browser('', 200);
    await window.fetch('/api/loupe/v1/logs');
    expect(calls[0].headers.get('X-Scope-OrgID')).toBeNull();
    calls = browser('', 200, { [tenantStorageKey]: 'team/a' });
    await window.fetch('/api/loupe/v1/logs');
    expect(calls[0].headers.get('X-Scope-OrgID')).toBeNull();
  });

  it('forgets the picked tenant when signing in with a token bound to one', async () => {
    let calls = browser('', 200, { [tenantStorageKey]: 'team-a' }, '{"status": "success", "data": {"auth_enabled": true, "kind": "token", "tenant": "team-b"}}');
    expect(await signIn({ token: 'x' })).toBeNull();
    expect(calls.storage.has(tenantStorageKey)).toBe(false);
    calls = browser('', 200, { [tenantStorageKey]: 'team-a' }, '{"status": "success", "data": {"auth_enabled": true, "kind": "token"}}');
    expect(await signIn({ token: 'x' })).toBeNull();
    expect(calls.storage.get(tenantStorageKey)).toBe('team-a'); // an operator keeps it
  });

  it('reports a 401 with the server message, also one that came before anyone listened', async () => {
    browser('', 401);
    await window.fetch('/api/loupe/v1/logs');
    await new Promise((r) => setTimeout(r));
    const told: string[] = [];
    const undo = onUnauthorized((m) => told.push(m));
    expect(told).toEqual(['your session has ended']);
    await window.fetch('/api/loupe/v1/session', { method: 'POST' }); // a failed sign-in is the sign-in page's own
    await new Promise((r) => setTimeout(r));
    expect(told).toHaveLength(1);
    undo();
  });
});
