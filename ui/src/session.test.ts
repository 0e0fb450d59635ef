import { afterEach, describe, expect, it, vi } from 'vitest';
import { csrfToken, installFetch, onUnauthorized } from './session';

// A stand-in for the browser: one origin, its cookies, and a fetch that records what it
// was asked and answers with status.
function browser(cookie: string, status: number) {
  const calls: { url: string; headers: Headers }[] = [];
  const plain = async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), headers: new Headers(init?.headers) });
    return new Response('your session has ended', { status });
  };
  vi.stubGlobal('document', { cookie });
  vi.stubGlobal('window', { location: { href: 'http://loupe.test/logs', origin: 'http://loupe.test' }, fetch: plain });
  vi.stubGlobal('fetch', (...a: Parameters<typeof fetch>) => (globalThis as any).window.fetch(...a));
  installFetch();
  return calls;
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
