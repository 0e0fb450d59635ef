import { useEffect, useRef } from 'react';

/**
 * useFirstRender records, once per page load, when a page first showed its data, as a
 * performance mark "loupe-ready-<page>" that the browser tests read.
 */
export function useFirstRender(page: string, ready: boolean) {
  const done = useRef(false);
  useEffect(() => {
    if (!ready || done.current) return;
    done.current = true;
    requestAnimationFrame(() => performance.mark(`loupe-ready-${page}`));
  }, [ready, page]);
}
