// A minimal router: the path picks the page, the query string holds the page's state, and
// both live in the URL so that a reload or a shared link reproduces the view.
import { useEffect, useState, useCallback } from 'react';

export interface Location {
  path: string;
  params: URLSearchParams;
}

function current(): Location {
  return { path: window.location.pathname, params: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((f) => f()));

/** navigate goes to url; replace=true edits the current history entry (for typing). */
export function navigate(url: string, replace = false) {
  if (url === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  listeners.forEach((f) => f());
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const f = () => setLoc(current());
    listeners.add(f);
    return () => {
      listeners.delete(f);
    };
  }, []);
  return loc;
}

/** href builds path?params, leaving out empty values. */
export function href(path: string, params: Record<string, string | string[] | undefined | null | false>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === false || v === '') continue;
    if (Array.isArray(v)) v.filter((x) => x !== '').forEach((x) => p.append(k, x));
    else p.set(k, v);
  }
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

/** useLinkHandler makes an <a> navigate client-side on a plain left click. */
export function onLinkClick(e: React.MouseEvent<HTMLAnchorElement>) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.currentTarget;
  if (a.target || a.origin !== window.location.origin) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
}

export function useNavigate() {
  return useCallback((url: string, replace = false) => navigate(url, replace), []);
}
