// The services overview: rate, errors and duration (RED) of every service, with sparklines.
import { getJSON, type REDData, type REDGroup } from '../api';
import { href, onLinkClick, submit, useRefresh } from '../router';
import { fmtDuration, fmtNumber, fmtPercent, rangeFromParams, resolveRange, serviceColor, type Range } from '../util';
import { TimeRangePicker } from '../components/TimeRange';
import { ErrorBox, SendData, Spinner } from '../components/States';
import { useAsync } from '../components/hooks';
import { useFirstRender } from '../components/perf';

/** redParams asks for about 60 buckets over the range. */
export function redParams(range: Range, service?: string): URLSearchParams {
  const p = new URLSearchParams({ start: range.from, end: range.to });
  const r = resolveRange(range);
  if (r) p.set('step', `${Math.max(1, Math.round((r.end - r.start) / 1000 / 60))}s`);
  if (service) p.set('service', service);
  return p;
}

export function rangeLink(range: Range) {
  return { from: range.from === 'now-1h' ? '' : range.from, to: range.to === 'now' ? '' : range.to };
}

export function ServicesPage({ params }: { params: URLSearchParams }) {
  const range = rangeFromParams(params);
  const key = redParams(range).toString();
  const gen = useRefresh();
  const red = useAsync(`${key}#${gen}`, (signal) => getJSON<REDData>('/api/loupe/v1/services/red', new URLSearchParams(key), signal));
  useFirstRender('services', !red.loading);
  return (
    <div className="page services-page">
      <div className="toolbar">
        <h2 className="grow">Services</h2>
        <TimeRangePicker range={range} onChange={(r) => submit(href('/services', rangeLink(r)))} />
      </div>
      <p className="small muted">
        Requests are entry spans (kind server or consumer, or spans without a parent); a service with none, such as a database seen only by its clients, is counted by all its spans. Rate is per second over the range; duration quantiles are over every request in it.
      </p>
      {red.error && <ErrorBox error={red.error} />}
      {red.loading && !red.data && <Spinner label="Computing rate, errors and duration…" />}
      {red.data && red.data.groups.length === 0 && <SendData what="traces" />}
      {red.data && red.data.groups.length > 0 && <REDTable data={red.data} link={(g) => href(`/services/${encodeURIComponent(g.name)}`, rangeLink(range))} testId="services-table" />}
    </div>
  );
}

export function REDTable({ data, link, testId, extra }: { data: REDData; link: (g: REDGroup) => string; testId: string; extra?: (g: REDGroup) => React.ReactNode }) {
  const maxRate = Math.max(...data.groups.flatMap((g) => g.series.map((p) => p.count)), 1);
  return (
    <table className="table red-table" data-testid={testId}>
      <thead>
        <tr>
          <th>{data.service ? 'Span name' : 'Service'}</th>
          <th className="num">Requests</th>
          <th className="num">Rate</th>
          <th></th>
          <th className="num">Errors</th>
          <th></th>
          <th className="num">p50</th>
          <th className="num">p95</th>
          <th className="num">p99</th>
          <th>p95 over time</th>
          {extra && <th></th>}
        </tr>
      </thead>
      <tbody>
        {data.groups.map((g) => (
          <tr key={g.name} data-testid="red-row" data-name={g.name}>
            <td>
              {!data.service && <span className="svc-dot" data-svc={g.name} style={{ background: serviceColor(g.name) }} />}
              <a href={link(g)} onClick={onLinkClick}>
                {g.name}
              </a>
            </td>
            <td className="num" data-testid="red-count">{g.count.toLocaleString()}</td>
            <td className="num" data-testid="red-rate">{fmtNumber(g.rate)}/s</td>
            <td>
              <Sparkline values={g.series.map((p) => p.count)} max={maxRate} color="#4f8cff" />
            </td>
            <td className={`num ${g.error_count ? 'error-text' : ''}`} data-testid="red-errors">
              {fmtPercent(g.error_rate)} <span className="tiny muted">({g.error_count})</span>
            </td>
            <td>
              <Sparkline values={g.series.map((p) => (p.count ? p.error_count / p.count : 0))} max={1} color="#e5484d" />
            </td>
            <td className="num" data-testid="red-p50">{fmtDuration(g.p50_ns)}</td>
            <td className="num" data-testid="red-p95">{fmtDuration(g.p95_ns)}</td>
            <td className="num" data-testid="red-p99">{fmtDuration(g.p99_ns)}</td>
            <td>
              <Sparkline values={g.series.map((p) => p.p95_ns)} color="#a371f7" />
            </td>
            {extra && <td className="nowrap small">{extra(g)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Sparkline is a small SVG line; cheaper than a chart per table cell. */
export function Sparkline({ values, max, color, width = 110, height = 24 }: { values: number[]; max?: number; color: string; width?: number; height?: number }) {
  if (values.length === 0) return <svg width={width} height={height} />;
  const hi = max ?? Math.max(...values, 1e-9);
  const dx = values.length > 1 ? width / (values.length - 1) : 0;
  const pts = values.map((v, i) => `${(i * dx).toFixed(1)},${(height - 1 - (Math.min(v, hi) / (hi || 1)) * (height - 2)).toFixed(1)}`).join(' ');
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none">
      <polyline points={pts} fill="none" stroke={color} strokeWidth="1.5" />
    </svg>
  );
}
