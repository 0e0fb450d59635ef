// An event's exceptions: the raised one first, then its causes, each with its stack trace.
// Frames show the crashing call first (switchable); the application's own (in-app) frames
// are shown and each run of library frames is collapsed into one row that opens on demand.
// A frame opens to its source lines when the SDK sent them.
import { useState } from 'react';
import { contextLines, crashFrame, exceptionChain, frameGroups, frameLabel, type Exception, type Frame } from '../errors';
import { AttrTable } from './Attributes';

export function Exceptions({ exceptions }: { exceptions: Exception[] }) {
  const [newestFirst, setNewestFirst] = useState(true);
  const chain = exceptionChain(exceptions);
  return (
    <section className="exceptions" data-testid="exceptions">
      <div className="section-head">
        <h3>{chain.length > 1 ? `Exceptions (${chain.length}, raised first)` : 'Exception'}</h3>
        <div className="seg small" role="group" aria-label="Frame order">
          <button type="button" className={newestFirst ? 'on' : ''} aria-pressed={newestFirst} onClick={() => setNewestFirst(true)} data-testid="frames-newest-first">
            Most recent call first
          </button>
          <button type="button" className={!newestFirst ? 'on' : ''} aria-pressed={!newestFirst} onClick={() => setNewestFirst(false)} data-testid="frames-oldest-first">
            Oldest first
          </button>
        </div>
      </div>
      {chain.map((e, i) => (
        <ExceptionView key={i} exc={e} cause={i > 0} newestFirst={newestFirst} />
      ))}
    </section>
  );
}

function ExceptionView({ exc, cause, newestFirst }: { exc: Exception; cause: boolean; newestFirst: boolean }) {
  const [raw, setRaw] = useState(false);
  const frames = exc.frames ?? [];
  return (
    <div className="exception" data-testid="exception" data-type={exc.type}>
      {cause && <div className="tiny muted cause-note">which was caused by</div>}
      <div className="exc-head">
        <span className="exc-type mono">{exc.type || 'Error'}</span>
        {exc.value && <span className="exc-value">{exc.value}</span>}
      </div>
      <div className="exc-meta tiny muted">
        {exc.module && <span>module {exc.module}</span>}
        {exc.mechanism && <span>mechanism {exc.mechanism}</span>}
        {exc.handled === false && <span className="error-text">unhandled</span>}
        {exc.handled === true && <span>handled</span>}
        {frames.length > 0 && <span>{frames.length} frames, {frames.filter((f) => f.in_app).length} in app</span>}
        {frames.length > 0 && exc.raw_stacktrace && (
          <button type="button" className="link-btn tiny" onClick={() => setRaw(!raw)} aria-pressed={raw}>
            {raw ? 'frames' : 'raw text'}
          </button>
        )}
      </div>
      {(raw || frames.length === 0) && exc.raw_stacktrace ? (
        <pre className="stacktrace" data-testid="raw-stacktrace">{exc.raw_stacktrace}</pre>
      ) : frames.length === 0 ? (
        <div className="muted small">No stack trace was sent.</div>
      ) : (
        <Frames frames={frames} newestFirst={newestFirst} />
      )}
    </div>
  );
}

function Frames({ frames, newestFirst }: { frames: Frame[]; newestFirst: boolean }) {
  const items = frameGroups(frames, newestFirst);
  const [open, setOpen] = useState<Set<number>>(() => new Set([crashFrame(frames)]));
  const [expanded, setExpanded] = useState<Set<number>>(new Set());
  const toggle = (set: Set<number>, setter: (s: Set<number>) => void, k: number) => {
    const x = new Set(set);
    if (x.has(k)) x.delete(k);
    else x.add(k);
    setter(x);
  };
  return (
    <ol className="frames" data-testid="frames">
      {items.map((it) => {
        if (it.kind === 'frame') return <FrameRow key={it.index} frame={it.frame} index={it.index} open={open.has(it.index)} onToggle={() => toggle(open, setOpen, it.index)} />;
        // A collapsed run of library frames is known by its first frame's index.
        const k = it.frames[0].index;
        if (expanded.has(k))
          return (
            <li key={`lib-${k}`} className="lib-group open">
              <button type="button" className="lib-toggle" data-testid="library-toggle" aria-expanded="true" onClick={() => toggle(expanded, setExpanded, k)}>
                ▾ hide {it.frames.length} library frame{it.frames.length > 1 ? 's' : ''}
              </button>
              <ol className="frames">
                {it.frames.map((f) => (
                  <FrameRow key={f.index} frame={f.frame} index={f.index} open={open.has(f.index)} onToggle={() => toggle(open, setOpen, f.index)} />
                ))}
              </ol>
            </li>
          );
        return (
          <li key={`lib-${k}`} className="lib-group">
            <button type="button" className="lib-toggle" data-testid="library-toggle" aria-expanded="false" onClick={() => toggle(expanded, setExpanded, k)}>
              ▸ {it.frames.length} library frame{it.frames.length > 1 ? 's' : ''}
              <span className="muted"> ({[...new Set(it.frames.map((f) => frameLabel(f.frame).where))].slice(0, 3).join(', ')})</span>
            </button>
          </li>
        );
      })}
    </ol>
  );
}

function FrameRow({ frame: f, index, open, onToggle }: { frame: Frame; index: number; open: boolean; onToggle: () => void }) {
  const lines = contextLines(f);
  const vars = f.vars && Object.keys(f.vars).length ? f.vars : null;
  const expandable = lines.length > 0 || !!vars;
  const { where, fn } = frameLabel(f);
  const file = f.filename || f.abs_path;
  // The file when the label does not already name it, then line and column.
  let loc = file && file !== where ? file : '';
  if (f.lineno) loc += loc ? `:${f.lineno}` : `line ${f.lineno}`;
  if (f.lineno && f.colno) loc += `:${f.colno}`;
  const head = (
    <>
      <span className="frame-where mono">{where}</span>
      <span className="frame-in muted">in</span>
      <span className="frame-fn mono">{fn}</span>
      {loc && (
        <span className="frame-file mono muted" title={f.abs_path || file}>
          {loc}
        </span>
      )}
      {f.in_app && <span className="in-app-badge">in app</span>}
    </>
  );
  return (
    <li className={`frame ${f.in_app ? 'in-app' : 'library'} ${open && expandable ? 'open' : ''}`} data-testid="frame" data-in-app={f.in_app ? '1' : '0'} data-index={index} data-function={f.function ?? ''}>
      {expandable ? (
        <button type="button" className="frame-head" aria-expanded={open} onClick={onToggle}>
          <span className="twisty" aria-hidden="true">{open ? '▾' : '▸'}</span>
          {head}
        </button>
      ) : (
        <div className="frame-head">
          <span className="twisty" aria-hidden="true" />
          {head}
        </div>
      )}
      {open && lines.length > 0 && (
        <pre className="context" data-testid="context-lines">
          {lines.map((l, i) => (
            <div key={i} className={l.current ? 'ctx-line current' : 'ctx-line'}>
              <span className="ctx-no">{l.lineno ?? ''}</span>
              {l.text}
            </div>
          ))}
        </pre>
      )}
      {open && vars && (
        <div className="frame-vars">
          <AttrTable attrs={vars} />
        </div>
      )}
    </li>
  );
}
