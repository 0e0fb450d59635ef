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

/**
 * navigate goes to url; replace=true edits the current history entry (for typing). It
 * returns false when url is already the current one (nothing happens then).
 *
 * The auto-refresh interval (`refresh=` in the URL) is kept across navigations within one
 * page, so that a page's own links and forms, which do not know about it, keep it on.
 */
export function navigate(url: string, replace = false): boolean {
  const ar = new URLSearchParams(window.location.search).get('refresh');
  if (ar) {
    const u = new URL(url, window.location.origin);
    if (u.pathname === window.location.pathname && !u.searchParams.has('refresh')) {
      u.searchParams.set('refresh', ar);
      url = u.pathname + u.search;
    }
  }
  return go(url, replace);
}

function go(url: string, replace: boolean): boolean {
  if (url === window.location.pathname + window.location.search) return false;
  if (replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  listeners.forEach((f) => f());
  return true;
}

// The refresh generation: every page includes it in the keys of its queries, so bumping it
// runs them again, resolving relative times ("now-15m") anew.
let generation = 0;
const refreshListeners = new Set<() => void>();

/** refresh runs the current page's queries again. */
export function refresh() {
  generation++;
  refreshListeners.forEach((f) => f());
}

/** useRefresh returns the refresh generation; a change means "query again". */
export function useRefresh(): number {
  const [g, setG] = useState(generation);
  useEffect(() => {
    const f = () => setG(generation);
    refreshListeners.add(f);
    return () => {
      refreshListeners.delete(f);
    };
  }, []);
  return g;
}

/**
 * submit is what a Search / Run button does: go to url and run the queries again, also when
 * the URL does not change or changes only in its spelling (so "now" moves forward and new
 * data shows up). React batches the two updates into one render, so one query runs.
 */
export function submit(url: string) {
  navigate(url);
  refresh();
}

/** setAutoRefresh puts the auto-refresh interval ('' for off) in the current URL. */
export function setAutoRefresh(interval: string) {
  const p = new URLSearchParams(window.location.search);
  if (interval) p.set('refresh', interval);
  else p.delete('refresh');
  const s = p.toString();
  go(s ? `${window.location.pathname}?${s}` : window.location.pathname, true);
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
