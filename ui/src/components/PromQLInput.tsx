// A PromQL input with completion of metric names, functions, label names and label values
// from the Prometheus API.
import { useEffect, useRef, useState } from 'react';
import { getJSON } from '../api';

const functions = [
  'rate', 'irate', 'increase', 'sum', 'avg', 'min', 'max', 'count', 'topk', 'bottomk', 'histogram_quantile',
  'sum_over_time', 'avg_over_time', 'max_over_time', 'min_over_time', 'count_over_time', 'quantile_over_time',
  'delta', 'deriv', 'abs', 'clamp_min', 'clamp_max', 'label_replace', 'absent', 'time', 'vector', 'by', 'without',
];

interface Context {
  kind: 'metric' | 'label' | 'value';
  word: string; // the partial word being completed
  from: number; // where the word starts in the text
  metric?: string;
  label?: string;
}

/** contextAt finds what is being typed at position pos. Exported for tests. */
export function contextAt(text: string, pos: number): Context {
  const before = text.slice(0, pos);
  const open = before.lastIndexOf('{');
  const close = before.lastIndexOf('}');
  if (open > close) {
    const metric = /([A-Za-z_:][\w:]*)\s*$/.exec(before.slice(0, open))?.[1];
    const inner = before.slice(open + 1);
    const val = /([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)$/.exec(inner);
    if (val) return { kind: 'value', word: val[3], from: pos - val[3].length, metric, label: val[1] };
    const lab = /([A-Za-z_]\w*)?$/.exec(inner)!;
    const w = lab[1] ?? '';
    return { kind: 'label', word: w, from: pos - w.length, metric };
  }
  const m = /([A-Za-z_:][\w:]*)$/.exec(before);
  const w = m?.[1] ?? '';
  return { kind: 'metric', word: w, from: pos - w.length };
}

export function PromQLInput({ value, onChange, onRun, metricNames }: { value: string; onChange: (v: string) => void; onRun: (v: string) => void; metricNames: string[] }) {
  const ref = useRef<HTMLInputElement>(null);
  const [ctx, setCtx] = useState<Context | null>(null);
  const [items, setItems] = useState<string[]>([]);
  const [active, setActive] = useState(0);
  const cache = useRef(new Map<string, Promise<string[]>>());

  const fetchList = (key: string, url: string) => {
    if (!cache.current.has(key)) cache.current.set(key, getJSON<string[]>(url).catch(() => []));
    return cache.current.get(key)!;
  };

  useEffect(() => {
    if (!ctx) {
      setItems([]);
      return;
    }
    let live = true;
    const w = ctx.word.toLowerCase();
    const rank = (list: string[]) => {
      const pre = list.filter((x) => x.toLowerCase().startsWith(w));
      const sub = list.filter((x) => !x.toLowerCase().startsWith(w) && x.toLowerCase().includes(w));
      return [...pre, ...sub].filter((x) => x !== ctx.word).slice(0, 50);
    };
    let p: Promise<string[]>;
    if (ctx.kind === 'metric') p = Promise.resolve(ctx.word ? [...metricNames, ...functions] : []);
    else if (ctx.kind === 'label') {
      const q = ctx.metric ? `?match[]=${encodeURIComponent(ctx.metric)}` : '';
      p = fetchList(`labels:${ctx.metric ?? ''}`, `/api/v1/labels${q}`).then((l) => l.filter((x) => x !== '__name__'));
    } else {
      const q = ctx.metric ? `?match[]=${encodeURIComponent(ctx.metric)}` : '';
      p = fetchList(`values:${ctx.metric ?? ''}:${ctx.label}`, `/api/v1/label/${encodeURIComponent(ctx.label!)}/values${q}`);
    }
    p.then((list) => {
      if (!live) return;
      setItems(rank(list));
      setActive(0);
    });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ctx?.kind, ctx?.word, ctx?.metric, ctx?.label, metricNames]);

  const update = (text: string, pos: number) => {
    onChange(text);
    setCtx(contextAt(text, pos));
  };

  const accept = (item: string) => {
    if (!ctx || !ref.current) return;
    const pos = ref.current.selectionStart ?? value.length;
    const text = value.slice(0, ctx.from) + item + value.slice(pos);
    const caret = ctx.from + item.length;
    onChange(text);
    setCtx(null);
    requestAnimationFrame(() => {
      ref.current?.focus();
      ref.current?.setSelectionRange(caret, caret);
    });
  };

  const open = items.length > 0 && ctx !== null;
  return (
    <div className="promql">
      <input
        ref={ref}
        className="search mono"
        data-testid="promql-input"
        placeholder='PromQL, e.g. rate(http_server_request_duration_seconds_count[5m])'
        value={value}
        spellCheck={false}
        autoComplete="off"
        onChange={(e) => update(e.target.value, e.target.selectionStart ?? e.target.value.length)}
        onBlur={() => setTimeout(() => setCtx(null), 150)}
        onKeyDown={(e) => {
          if (open && e.key === 'ArrowDown') {
            e.preventDefault();
            setActive((a) => Math.min(a + 1, items.length - 1));
          } else if (open && e.key === 'ArrowUp') {
            e.preventDefault();
            setActive((a) => Math.max(a - 1, 0));
          } else if (open && (e.key === 'Tab' || e.key === 'Enter')) {
            e.preventDefault();
            accept(items[active]);
          } else if (e.key === 'Escape') setCtx(null);
          else if (e.key === 'Enter') {
            e.preventDefault();
            setCtx(null);
            onRun(value);
          }
        }}
      />
      {open && (
        <ul className="suggest" data-testid="promql-suggest">
          {items.map((it, i) => (
            <li key={it} className={i === active ? 'on' : ''} onMouseDown={(e) => { e.preventDefault(); accept(it); }}>
              <span className="mono">{it}</span>
              <span className="tiny muted">{ctx!.kind === 'metric' ? (functions.includes(it) ? 'function' : 'metric') : ctx!.kind === 'label' ? 'label' : 'value'}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
