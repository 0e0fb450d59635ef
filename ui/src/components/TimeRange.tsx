// The time range picker: relative ranges (last 5m … 7d) or absolute from/to, buttons that
// shift the range earlier or later and zoom out, and the auto-refresh interval.
import { useEffect, useRef, useState } from 'react';
import { autoRefreshIntervals, describeRange, parseDurationMs, relativeRanges, resolveRange, resolveTime, shiftRange, zoomOutRange, type Range } from '../util';
import { refresh, setAutoRefresh, useLocation } from '../router';

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 19);
}

export function TimeRangePicker({ range, onChange }: { range: Range; onChange: (r: Range) => void }) {
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [err, setErr] = useState('');
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const r = resolveRange(range);
    if (r) {
      setFrom(toLocalInput(r.start));
      setTo(toLocalInput(r.end));
    }
    setErr('');
    const close = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open, range]);

  const apply = () => {
    const s = resolveTime(from);
    const e = resolveTime(to);
    if (s === null || e === null) return setErr('Enter both times');
    if (s >= e) return setErr('From must be before To');
    onChange({ from: new Date(s).toISOString(), to: new Date(e).toISOString() });
    setOpen(false);
  };

  return (
    <div className="range-picker" ref={box}>
      <button className="btn icon" type="button" data-testid="range-earlier" onClick={() => onChange(shiftRange(range, -1))} title="Move the range earlier by half its length">
        ◀
      </button>
      <button className="btn" type="button" data-testid="range-button" onClick={() => setOpen(!open)} title="Time range">
        <svg width="13" height="13" viewBox="0 0 16 16" aria-hidden="true">
          <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" strokeWidth="1.5" />
          <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" strokeWidth="1.5" />
        </svg>
        {describeRange(range)}
      </button>
      <button className="btn icon" type="button" data-testid="range-later" onClick={() => onChange(shiftRange(range, 1))} title="Move the range later by half its length">
        ▶
      </button>
      <button className="btn icon" type="button" data-testid="range-zoom-out" onClick={() => onChange(zoomOutRange(range))} title="Zoom out: twice as long">
        ⊖
      </button>
      <AutoRefresh />
      {open && (
        <div className="popover">
          <div className="range-rel">
            {relativeRanges.map((r) => (
              <button
                key={r.from}
                type="button"
                className={range.from === r.from && range.to === 'now' ? 'on' : ''}
                onClick={() => {
                  onChange({ from: r.from, to: 'now' });
                  setOpen(false);
                }}
              >
                {r.label}
              </button>
            ))}
          </div>
          <div className="range-abs">
            <label>
              From
              <input type="datetime-local" step="1" value={from} onChange={(e) => setFrom(e.target.value)} />
            </label>
            <label>
              To
              <input type="datetime-local" step="1" value={to} onChange={(e) => setTo(e.target.value)} />
            </label>
            {err && <div className="error-text">{err}</div>}
            <button className="btn primary" type="button" onClick={apply}>
              Apply absolute range
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

/** AutoRefresh picks how often the page's queries run again (`refresh=` in the URL). */
function AutoRefresh() {
  const value = useLocation().params.get('refresh') ?? '';
  return (
    <select className="auto-refresh" data-testid="auto-refresh" value={value} onChange={(e) => setAutoRefresh(e.target.value)} title="Run the queries again every…">
      {autoRefreshIntervals.map((v) => (
        <option key={v} value={v}>
          {v ? `⟳ ${v}` : '⟳ off'}
        </option>
      ))}
      {value && !autoRefreshIntervals.includes(value) && <option value={value}>⟳ {value}</option>}
    </select>
  );
}

/** useAutoRefresh calls refresh() every interval ("5s", "1m"; at least 1 s) while it is set. */
export function useAutoRefresh(interval: string | null) {
  useEffect(() => {
    const ms = interval ? parseDurationMs(interval) : null;
    if (!ms) return;
    const t = window.setInterval(refresh, Math.max(1000, ms));
    return () => window.clearInterval(t);
  }, [interval]);
}
