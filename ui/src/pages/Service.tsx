// One service: RED over time and broken down by span name, with links to its slowest and
// failed traces and to its logs.
import { useMemo } from 'react';
import type uPlot from 'uplot';
import { getJSON, type REDData, type REDGroup } from '../api';
import { href, onLinkClick, submit, useRefresh } from '../router';
import { fmtDuration, fmtNumber, fmtPercent, nsToMs, rangeFromParams, serviceColor } from '../util';
import { TimeRangePicker } from '../components/TimeRange';
import { Chart, themedAxes } from '../components/Chart';
import { ErrorBox, Spinner } from '../components/States';
import { useAsync } from '../components/hooks';
import { useFirstRender } from '../components/perf';
import { REDTable, rangeLink, redParams } from './Services';

export function ServicePage({ service, params }: { service: string; params: URLSearchParams }) {
  const range = rangeFromParams(params);
  const key = redParams(range, service).toString();
  const gen = useRefresh();
  const red = useAsync(`${key}#${gen}`, (signal) => getJSON<REDData & { total?: REDGroup }>('/api/loupe/v1/services/red', new URLSearchParams(key), signal));
  useFirstRender('service', !red.loading);
  const rl = rangeLink(range);
  const total = red.data?.total;
  const slowest = (g?: REDGroup, name?: string) =>
    href('/traces', { service, span_name: name, min: g && g.p95_ns > 0 ? `${Math.floor(g.p95_ns / 1000)}us` : '', ...rl });
  return (
    <div className="page service-page">
      <div className="toolbar">
        <a href={href('/services', rl)} onClick={onLinkClick} className="small">
          ← Services
        </a>
        <h2 className="grow">
          <span className="svc-dot" data-svc={service} style={{ background: serviceColor(service) }} />
          {service}
        </h2>
        <TimeRangePicker range={range} onChange={(r) => submit(href(`/services/${encodeURIComponent(service)}`, rangeLink(r)))} />
      </div>
      <div className="links">
        <a href={slowest(total)} onClick={onLinkClick} data-testid="slowest-traces">
          Slowest traces (≥ p95)
        </a>
        <a href={href('/traces', { service, errors: '1', ...rl })} onClick={onLinkClick} data-testid="failed-traces">
          Failed traces
        </a>
        <a href={href('/logs', { service, ...rl })} onClick={onLinkClick} data-testid="service-logs">
          Logs of {service}
        </a>
      </div>
      {red.error && <ErrorBox error={red.error} />}
      {red.loading && !red.data && <Spinner label="Computing…" />}
      {total && (
        <>
          <div className="stat-row">
            <Stat label="Spans/s" value={fmtNumber(total.rate)} />
            <Stat label="Error rate" value={fmtPercent(total.error_rate)} bad={total.error_count > 0} />
            <Stat label="p50" value={fmtDuration(total.p50_ns)} />
            <Stat label="p95" value={fmtDuration(total.p95_ns)} />
            <Stat label="p99" value={fmtDuration(total.p99_ns)} />
          </div>
          <div className="chart-grid">
            <SeriesChart title="Spans per second" g={total} step={red.data!.step_seconds} pick={(p, step) => p.count / step} fmt={fmtNumber} color="#4f8cff" />
            <SeriesChart title="Error rate" g={total} step={red.data!.step_seconds} pick={(p) => (p.count ? p.error_count / p.count : 0)} fmt={fmtPercent} color="#e5484d" />
            <SeriesChart title="p95 duration" g={total} step={red.data!.step_seconds} pick={(p) => p.p95_ns} fmt={fmtDuration} color="#a371f7" />
          </div>
        </>
      )}
      {red.data && red.data.groups.length === 0 && <div className="empty-state"><h3>No spans from {service} in this range</h3></div>}
      {red.data && red.data.groups.length > 0 && (
        <>
          <h3>By span name</h3>
          <REDTable
            data={red.data}
            testId="span-names-table"
            link={(g) => href('/traces', { service, span_name: g.name, ...rl })}
            extra={(g) => (
              <>
                <a href={slowest(g, g.name)} onClick={onLinkClick}>slowest</a>
                {g.error_count > 0 && (
                  <>
                    {' · '}
                    <a href={href('/traces', { service, span_name: g.name, errors: '1', ...rl })} onClick={onLinkClick}>failed</a>
                  </>
                )}
              </>
            )}
          />
        </>
      )}
    </div>
  );
}

function Stat({ label, value, bad }: { label: string; value: string; bad?: boolean }) {
  return (
    <div className="stat">
      <div className="tiny muted">{label}</div>
      <div className={`stat-value ${bad ? 'error-text' : ''}`}>{value}</div>
    </div>
  );
}

function SeriesChart({ title, g, step, pick, fmt, color }: { title: string; g: REDGroup; step: number; pick: (p: REDGroup['series'][number], step: number) => number; fmt: (v: number) => string; color: string }) {
  const data = useMemo((): uPlot.AlignedData => [g.series.map((p) => nsToMs(p.time_unix_nano) / 1000), g.series.map((p) => pick(p, step))], [g, step, pick]);
  const opts = useMemo(
    (): Omit<uPlot.Options, 'width' | 'height'> => ({
      legend: { show: false },
      axes: themedAxes(fmt),
      series: [{}, { label: title, stroke: color, fill: color + '22', width: 1.5, value: (_u, v) => (v == null ? '–' : fmt(v)) }],
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [title],
  );
  return (
    <div className="mini-chart">
      <div className="small muted">{title}</div>
      <Chart options={opts} data={data} height={140} optionsKey={title} />
    </div>
  );
}
