import { useEffect, useRef, useState } from 'react';

export interface Async<T> {
  data?: T;
  error?: Error;
  loading: boolean;
}

/**
 * useAsync runs load whenever key changes, aborting the previous run, and reports its
 * state. An empty key skips loading.
 */
export function useAsync<T>(key: string, load: (signal: AbortSignal) => Promise<T>): Async<T> & { reload: () => void } {
  const [state, setState] = useState<Async<T>>({ loading: !!key });
  const [n, setN] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    if (!key) {
      setState({ loading: false });
      return;
    }
    const ac = new AbortController();
    setState((s) => ({ data: s.data, loading: true }));
    loadRef.current(ac.signal).then(
      (data) => !ac.signal.aborted && setState({ data, loading: false }),
      (error) => !ac.signal.aborted && setState({ error, loading: false }),
    );
    return () => ac.abort();
  }, [key, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}
