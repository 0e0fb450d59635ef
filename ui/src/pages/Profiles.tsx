// Profiles: pick a profile type, a selection (service, labels, time range) and see its
// samples over time, the merged flame graph with search, zoom and the sandwich of one
// function, and the top functions; or compare two selections as a diff coloured by change.
// All of it lives in the URL, so a link reproduces the view (span_id= from the trace view
// filters to one span's samples).
import { useEffect, useMemo, useRef, useState } from 'react';
import type uPlot from 'uplot';
import { href, navigate, submit as go, useRefresh } from '../router';
import { fmtPercent, isoSeconds, rangeFromParams, resolveRange, type Range } from '../util';
import {
  alignSeries, defaultType, fmtValue, labelValue, matchedShare, previousRange, profileGet, searchMatcher, typeLabel, weigher, withLabel,
  type FlameGraph, type ProfileSeries, type ProfileType, type TopSort,
} from '../profile';
import { TimeRangePicker } from '../components/TimeRange';
import { Chart, themedAxes, tooltipPlugin } from '../components/Chart';
import { ErrorBox, Spinner, useListen } from '../components/States';
import { useAsync } from '../components/hooks';
import { Flame, Sandwich, TopTable, type FlameCtx } from './ProfilesFlame';
import './Profiles.css';

interface Form {
  type: string;
  query: string;
  range: Range;
  spanIds: string[];
  search: string;
  zoom: string[];
  fn: string;
  sort: TopSort;
  dir: 'asc' | 'desc';
  diff: boolean;
  left: { query: string; range: Range };
  right: { query: string; range: Range };
}

function formFromParams(p: URLSearchParams): Form {
  const range = rangeFromParams(p);
  const query = p.get('query') ?? '';
  const prev = previousRange(range);
  return {
    type: p.get('type') ?? '',
    query,
    range,
    spanIds: p.getAll('span_id'),
    search: p.get('search') ?? '',
    zoom: (p.get('zoom') ?? '').split(';').filter(Boolean),
    fn: p.get('fn') ?? '',
    sort: (['function', 'total', 'change'] as const).find((k) => k === p.get('sort')) ?? 'self',
    dir: p.get('dir') === 'asc' ? 'asc' : 'desc',
    diff: p.get('view') === 'diff',
    left: { query: p.get('left_query') ?? query, range: { from: p.get('left_from') || prev.from, to: p.get('left_to') || prev.to } },
    right: { query: p.get('right_query') ?? query, range: { from: p.get('right_from') || range.from, to: p.get('right_to') || range.to } },
  };
}

function formURL(f: Form): string {
  return href('/profiles', {
    type: f.type,
    query: f.query,
    from: f.range.from === 'now-1h' ? '' : f.range.from,
    to: f.range.to === 'now' ? '' : f.range.to,
    span_id: f.spanIds,
    search: f.search,
    zoom: f.zoom.join(';'),
    fn: f.fn,
    sort: f.sort === 'self' ? '' : f.sort,
    dir: f.dir === 'desc' ? '' : f.dir,
    view: f.diff ? 'diff' : '',
    left_query: f.diff ? f.left.query : '',
    left_from: f.diff ? f.left.range.from : '',
    left_to: f.diff ? f.left.range.to : '',
    right_query: f.diff ? f.right.query : '',
    right_from: f.diff ? f.right.range.from : '',
    right_to: f.diff ? f.right.range.to : '',
  });
}

const api = (o: Record<string, string | string[] | undefined>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) (Array.isArray(v) ? v : [v]).forEach((x) => x && p.append(k, x));
  return p;
};

export function ProfilesPage({ params }: { params: URLSearchParams }) {
  const form = useMemo(() => formFromParams(params), [params]);
  const [draft, setDraft] = useState(form);
  useEffect(() => setDraft(form), [form]);
  const gen = useRefresh();
  const submit = (f: Form) => go(formURL(f));
  // View changes (search, zoom, sort, sandwich) edit the URL without a new query.
  const view = (f: Partial<Form>) => navigate(formURL({ ...form, ...f }), true);

  const { from, to } = form.range;
  const typesKey = `types?${api({ start: from, end: to })}#${gen}`;
  const types = useAsync(typesKey, (s) => profileGet<{ types: ProfileType[] }>('types', api({ start: from, end: to }), s));
  const list = types.data?.types ?? [];
  const type = form.type || defaultType(list);
  const sel = { type, query: form.query, start: from, end: to };
  const services = useAsync(type ? `svc?${api(sel)}#${gen}` : '', (s) =>
    profileGet<{ values: string[] }>('labels/service_name/values', api({ type, start: from, end: to }), s));
  const labelNames = useAsync(type ? `labels?${api(sel)}#${gen}` : '', (s) => profileGet<{ names: string[] }>('labels', api(sel), s));
  const [label, setLabel] = useState('');
  const labelValues = useAsync(type && label ? `values?${label}&${api(sel)}#${gen}` : '', (s) =>
    profileGet<{ values: string[] }>(`labels/${encodeURIComponent(label)}/values`, api(sel), s));

  const flameParams = form.diff
    ? api({ type, left_query: form.left.query, left_start: form.left.range.from, left_end: form.left.range.to, right_query: form.right.query, right_start: form.right.range.from, right_end: form.right.range.to })
    : api({ ...sel, span_id: form.spanIds });
  const endpoint = form.diff ? 'diff' : 'flamegraph';
  const flame = useAsync(type ? `${endpoint}?${flameParams}#${gen}` : '', (s) => profileGet<FlameGraph>(endpoint, flameParams, s));
  const g = flame.data;
  const ctx = useMemo((): FlameCtx | null => (g ? { g, diff: form.diff, weight: weigher(g) } : null), [g, form.diff]);
  const match = useMemo(() => searchMatcher(form.search), [form.search]);
  const share = ctx && match ? matchedShare(ctx.g.root, match, ctx.weight) : null;
  const service = labelValue(draft.query, 'service_name');

  return (
    <div className="page profiles-page">
      <form className="toolbar wrap" data-testid="profile-form" onSubmit={(e) => (e.preventDefault(), submit({ ...draft, zoom: [], fn: '' }))}>
        <label className="field">
          Profile type
          <select data-testid="profile-type" value={type} onChange={(e) => submit({ ...draft, type: e.target.value, zoom: [], fn: '' })}>
            {list.map((t) => (
              <option key={t.id} value={t.id}>
                {typeLabel(t)}
              </option>
            ))}
            {type && !list.some((t) => t.id === type) && <option value={type}>{type}</option>}
          </select>
        </label>
        <label className="field">
          Service
          <select data-testid="profile-service" value={service} onChange={(e) => submit({ ...draft, query: withLabel(draft.query, 'service_name', e.target.value), zoom: [], fn: '' })}>
            <option value="">All</option>
            {(services.data?.values ?? []).map((v) => (
              <option key={v}>{v}</option>
            ))}
            {service && !services.data?.values.includes(service) && <option>{service}</option>}
          </select>
        </label>
        <label className="field">
          Label
          <select data-testid="profile-label" value={label} onChange={(e) => setLabel(e.target.value)}>
            <option value="">–</option>
            {(labelNames.data?.names ?? []).filter((n) => n !== 'service_name').map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <label className="field">
          Value
          <select data-testid="profile-label-value" value={label ? labelValue(draft.query, label) : ''} disabled={!label} onChange={(e) => submit({ ...draft, query: withLabel(draft.query, label, e.target.value), zoom: [], fn: '' })}>
            <option value="">Any</option>
            {(labelValues.data?.values ?? []).map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </label>
        <label className="field grow">
          Selector
          <input data-testid="profile-query" placeholder='{service_name="api"}' value={draft.query} spellCheck={false} onChange={(e) => setDraft({ ...draft, query: e.target.value })} />
        </label>
        <TimeRangePicker range={draft.range} onChange={(range) => submit({ ...draft, range })} />
        <button className="btn primary" type="submit" data-testid="profile-run">
          Show
        </button>
      </form>
      {form.spanIds.length > 0 && (
        <div className="chips small" data-testid="profile-span-filter">
          Samples of span{form.spanIds.length > 1 ? 's' : ''}{' '}
          {form.spanIds.map((id) => (
            <span key={id} className="chip mono">
              {id}
              <button className="btn ghost small" type="button" title="Show all samples" onClick={() => submit({ ...form, spanIds: form.spanIds.filter((x) => x !== id) })}>
                ✕
              </button>
            </span>
          ))}
        </div>
      )}
      {types.error && <ErrorBox error={types.error} />}
      {types.data && list.length === 0 && <NoProfiles />}
      {type && !form.diff && !form.spanIds.length && <SeriesStrip sel={sel} unit={list.find((t) => t.id === type)?.sample_unit ?? ''} gen={gen} onRange={(range) => submit({ ...form, range })} />}
      {type && (
        <div className="toolbar small">
          <div className="seg" data-testid="profile-mode">
            <button type="button" className={form.diff ? '' : 'on'} onClick={() => submit({ ...form, diff: false, zoom: [], fn: '' })}>
              Flame graph
            </button>
            <button type="button" data-testid="profile-diff" className={form.diff ? 'on' : ''} onClick={() => submit({ ...form, diff: true, zoom: [], fn: '', sort: 'change' })}>
              Diff
            </button>
          </div>
          <input
            className="flame-search"
            data-testid="flame-search"
            placeholder="Search frames (text or /regexp/)"
            value={draft.search}
            onChange={(e) => {
              setDraft({ ...draft, search: e.target.value });
              view({ search: e.target.value });
            }}
          />
          {share !== null && (
            <span data-testid="flame-matched">
              matched <b>{fmtPercent(share)}</b> of {form.diff ? 'the mean share' : 'the total'}
            </span>
          )}
          <span className="grow" />
          {g && !form.diff && <span className="muted">total {fmtValue(g.total, g.unit)}</span>}
          {g && form.diff && (
            <span className="muted">
              left {fmtValue(g.left_total ?? 0, g.unit)} · right {fmtValue(g.right_total ?? 0, g.unit)} · <span className="diff-key grew">■ grew</span> <span className="diff-key shrank">■ shrank</span>
            </span>
          )}
        </div>
      )}
      {form.diff && <DiffForm form={draft} onChange={(f) => submit({ ...f, zoom: [], fn: '' })} />}
      {flame.error && <ErrorBox error={flame.error} />}
      {flame.loading && !g && <Spinner label="Merging profiles…" />}
      {ctx && g && (
        <>
          {(form.zoom.length > 0 || form.fn === '') && (
            <div className="toolbar small">
              {form.zoom.length > 0 ? (
                <>
                  <span className="muted">Zoomed in on</span> <b className="mono">{form.zoom[form.zoom.length - 1]}</b>
                  <button className="btn small" type="button" data-testid="flame-reset" onClick={() => view({ zoom: [] })}>
                    Reset zoom
                  </button>
                  <button className="btn small" type="button" data-testid="flame-sandwich" onClick={() => view({ fn: form.zoom[form.zoom.length - 1] })}>
                    Sandwich view
                  </button>
                </>
              ) : (
                <span className="muted">Click a frame to zoom in; click a function in the table for its callers and callees.</span>
              )}
            </div>
          )}
          {g.total === 0 && !form.diff ? (
            <div className="empty-state" data-testid="flame-empty">
              <h3>No samples match</h3>
              <p>No profile of this type matches the selection in this range{form.spanIds.length ? ' for this span' : ''}. Widen the range or loosen the selector.</p>
            </div>
          ) : (
            <Flame ctx={ctx} root={g.root} focus={form.zoom} onFocus={(zoom) => view({ zoom })} match={match} />
          )}
          {form.fn && <Sandwich ctx={ctx} fn={form.fn} sel={form.diff ? undefined : sel} onClose={() => view({ fn: '' })} />}
          <h4>Top functions</h4>
          <TopTable
            ctx={ctx}
            rows={g.top}
            sort={form.sort}
            dir={form.dir}
            match={match}
            onSort={(sort) => view({ sort, dir: form.sort === sort && form.dir === 'desc' ? 'asc' : 'desc' })}
            onPick={(fn) => view({ fn })}
          />
        </>
      )}
    </div>
  );
}

/** DiffForm edits the two selections of a diff: the baseline (left) and the comparison (right). */
function DiffForm({ form, onChange }: { form: Form; onChange: (f: Form) => void }) {
  const [l, setL] = useState(form.left.query);
  const [r, setR] = useState(form.right.query);
  useEffect(() => setL(form.left.query), [form.left.query]);
  useEffect(() => setR(form.right.query), [form.right.query]);
  const side = (name: 'left' | 'right', q: string, setQ: (s: string) => void, title: string) => (
    <form className="toolbar small diff-side" data-testid={`diff-${name}`} onSubmit={(e) => (e.preventDefault(), onChange({ ...form, [name]: { ...form[name], query: q } }))}>
      <b className={`diff-label ${name}`}>{title}</b>
      <input className="grow" data-testid={`diff-${name}-query`} placeholder="{} (all)" value={q} spellCheck={false} onChange={(e) => setQ(e.target.value)} />
      <TimeRangePicker range={form[name].range} onChange={(range) => onChange({ ...form, [name]: { query: q, range } })} />
    </form>
  );
  return (
    <div className="diff-form">
      {side('left', l, setL, 'Baseline (left)')}
      {side('right', r, setR, 'Comparison (right)')}
    </div>
  );
}

/** SeriesStrip plots the selection's samples over time; dragging across it picks a range. */
function SeriesStrip({ sel, unit, gen, onRange }: { sel: Record<string, string>; unit: string; gen: number; onRange: (r: Range) => void }) {
  const p = api({ ...sel, step: '' });
  const key = `series?${p}#${gen}`;
  // The x axis is the range asked for, so one profile is a point in it, not the whole axis.
  const x = useMemo(() => resolveRange({ from: sel.start, to: sel.end }), [sel.start, sel.end, gen]);
  const [xs, xe] = x ? [x.start / 1000, x.end / 1000] : [0, 0];
  const res = useAsync(key, async (s) => {
    // About 120 points over the range, at least 10 s apart.
    const q = new URLSearchParams(p);
    const r = resolveRange({ from: sel.start, to: sel.end });
    q.set('step', String(Math.max(10, Math.round((r ? r.end - r.start : 3_600_000) / 1000 / 120))));
    return profileGet<{ series: ProfileSeries[] }>('series', q, s);
  });
  const onRangeRef = useRef(onRange);
  onRangeRef.current = onRange;
  const series = res.data?.series ?? [];
  const data = useMemo(() => alignSeries(series) as uPlot.AlignedData, [series]);
  const opts = useMemo((): Omit<uPlot.Options, 'width' | 'height'> => ({
    legend: { show: false },
    scales: { x: { time: true, range: (_u, min, max) => (xe ? [xs, xe] : [min, max]) }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    axes: themedAxes((v) => fmtValue(v, unit)).map((a, i) => (i ? { ...a, size: 76 } : a)), // room for "41m40s"
    cursor: { drag: { x: true, y: false } },
    series: [{}, ...series.map((_, i) => ({ stroke: ['#f28b3c', '#4f8cff', '#3fb27f', '#c678dd'][i % 4], width: 1.5, fill: i === 0 ? '#f28b3c22' : undefined }))],
    plugins: [
      tooltipPlugin((u, idx) => series.map((s, i) => `<div>${Object.values(s.labels).join(' ') || 'all'}: ${fmtValue((u.data[i + 1][idx] as number) ?? 0, unit)}</div>`).join('') || null),
      {
        hooks: {
          setSelect: (u) => {
            if (u.select.width < 5) return;
            const a = u.posToVal(u.select.left, 'x');
            const b = u.posToVal(u.select.left + u.select.width, 'x');
            onRangeRef.current({ from: isoSeconds(a * 1000), to: isoSeconds(b * 1000) });
          },
        },
      },
    ],
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }), [series.length, unit, xs, xe]);
  if (res.error) return <ErrorBox error={res.error} title="The series query failed" />;
  if (!series.length) return null;
  return (
    <div className="profile-series" data-testid="profile-series">
      <div className="small muted">Samples over time · drag to pick a range</div>
      <Chart options={opts} data={data} height={110} optionsKey={`${series.length}-${unit}-${xs}-${xe}`} />
    </div>
  );
}

/** NoProfiles tells a newcomer how to send profiles. */
function NoProfiles() {
  const { http } = useListen();
  return (
    <div className="empty-state" data-testid="profiles-empty">
      <h3>No profiles in this range yet</h3>
      <p>
        Loupe takes Pyroscope's push API on <code>http://{http}/ingest</code>: point a Pyroscope SDK (pyroscope-go's <code>ServerAddress</code>) at{' '}
        <code>http://{http}</code>, or send collapsed stacks by hand:
      </p>
      <pre className="code">{`curl -X POST 'http://${http}/ingest?name=myapp.cpu{env="dev"}&from='$(($(date +%s)-10))'&until='$(date +%s)'&format=folded&sampleRate=100' \\
  --data-binary $'main;work;compute 90\\nmain;idle 10'`}</pre>
      <p className="muted">If you have sent profiles already, try a wider time range.</p>
    </div>
  );
}
