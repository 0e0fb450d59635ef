// Attribute maps shown as a key/value table or as JSON.
import { useState } from 'react';
import type { Attrs } from '../api';

function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/**
 * isBlock tells whether a value reads better as a preformatted block: stack traces
 * (`exception.stacktrace`) and any other text of several lines keep their line breaks and
 * indentation.
 */
export function isBlock(key: string, v: unknown): v is string {
  return typeof v === 'string' && (v.includes('\n') || key === 'exception.stacktrace');
}

export function AttrTable({ attrs, onFilter }: { attrs: Attrs; onFilter?: (k: string, v: string) => void }) {
  const keys = Object.keys(attrs).sort();
  if (keys.length === 0) return <div className="muted small">none</div>;
  return (
    <table className="attr-table">
      <tbody>
        {keys.map((k) => {
          const v = attrs[k];
          // A block (stack trace) spans both columns under its key, so that a narrow panel
          // does not squeeze the key into a sliver beside it.
          if (isBlock(k, v))
            return (
              <tr key={k}>
                <td className="attr-val" colSpan={2}>
                  <div className="attr-key">{k}</div>
                  <pre className="stacktrace" data-testid="multiline-value" data-key={k}>
                    {v}
                  </pre>
                </td>
              </tr>
            );
          return (
            <tr key={k}>
              <td className="attr-key">{k}</td>
              <td className="attr-val">
                {valueText(v)}
                {onFilter && typeof v !== 'object' && (
                  <button className="link-btn small" title="Filter by this value" onClick={() => onFilter(k, valueText(v))}>
                    filter
                  </button>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Sections shows named attribute maps, switchable between table and JSON. */
export function Sections({ sections, json, onFilter }: { sections: [string, Attrs][]; json: unknown; onFilter?: (k: string, v: string) => void }) {
  const [mode, setMode] = useState<'table' | 'json'>('table');
  return (
    <div className="sections">
      <div className="seg small">
        <button className={mode === 'table' ? 'on' : ''} onClick={() => setMode('table')}>
          Table
        </button>
        <button className={mode === 'json' ? 'on' : ''} onClick={() => setMode('json')}>
          JSON
        </button>
      </div>
      {mode === 'json' ? (
        <pre className="code json">{JSON.stringify(json, null, 2)}</pre>
      ) : (
        sections.map(([title, attrs]) => (
          <div key={title} className="section">
            <h4>{title}</h4>
            <AttrTable attrs={attrs} onFilter={onFilter} />
          </div>
        ))
      )}
    </div>
  );
}
