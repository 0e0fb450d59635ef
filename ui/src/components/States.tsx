// Loading, error and empty states shared by every page.
import { getJSON } from '../api';
import { useAsync } from './hooks';

export function Spinner({ label }: { label?: string }) {
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {label ?? 'Loading…'}
    </div>
  );
}

export function ErrorBox({ error, title }: { error: Error; title?: string }) {
  return (
    <div className="error-box" role="alert">
      <strong>{title ?? 'The query failed'}</strong>
      <pre>{error.message}</pre>
    </div>
  );
}

/** The server's listen addresses (GET /api/loupe/v1/status), as host:port. */
export interface Listen {
  http: string;
  otlp_grpc: string;
  otlp_http: string;
  statsd_udp?: string;
}

let status: Promise<{ listen: Listen }> | null = null;

/** reachable replaces a wildcard host (0.0.0.0, [::]) with the host the browser used. */
function reachable(addr: string | undefined, fallbackPort: number): string {
  const host = window.location.hostname || 'localhost';
  const h = host.includes(':') ? `[${host}]` : host;
  if (!addr) return `${h}:${fallbackPort}`;
  const m = /^(.*):(\d+)$/.exec(addr);
  if (!m) return addr;
  const wild = m[1] === '' || m[1] === '0.0.0.0' || m[1] === '[::]' || m[1] === '::';
  return wild ? `${h}:${m[2]}` : addr;
}

/**
 * useListen returns the addresses to send data to: what the server reports it listens on,
 * or the default ports on the browser's host until it answers (or when it cannot say).
 */
export function useListen(): { http: string; grpc: string; otlp: string; known: boolean } {
  const res = useAsync('status', () => (status ??= getJSON<{ listen: Listen }>('/api/loupe/v1/status')));
  const l = res.data?.listen;
  return {
    http: reachable(l?.http, 7070),
    grpc: reachable(l?.otlp_grpc, 4317),
    otlp: reachable(l?.otlp_http, 4318),
    known: !!l?.otlp_http,
  };
}

/** SendData tells a newcomer how to get data of one kind into Loupe. */
export function SendData({ what }: { what: 'logs' | 'traces' | 'metrics' }) {
  const listen = useListen();
  const otlp = listen.otlp;
  const path = { logs: 'logs', traces: 'traces', metrics: 'metrics' }[what];
  const example = {
    logs: `curl -X POST http://${otlp}/v1/logs -H 'Content-Type: application/json' -d '{
  "resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "demo"}}]},
    "scopeLogs": [{"logRecords": [{
      "timeUnixNano": "'$(date +%s%N)'",
      "severityText": "INFO", "severityNumber": 9,
      "body": {"stringValue": "hello from curl"}
    }]}]
  }]
}'`,
    traces: `curl -X POST http://${otlp}/v1/traces -H 'Content-Type: application/json' -d '{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "demo"}}]},
    "scopeSpans": [{"spans": [{
      "traceId": "'$(openssl rand -hex 16)'", "spanId": "'$(openssl rand -hex 8)'",
      "name": "GET /hello", "kind": 2,
      "startTimeUnixNano": "'$(date +%s%N)'", "endTimeUnixNano": "'$(($(date +%s%N)+25000000))'"
    }]}]
  }]
}'`,
    metrics: `curl -X POST http://${otlp}/v1/metrics -H 'Content-Type: application/json' -d '{
  "resourceMetrics": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "demo"}}]},
    "scopeMetrics": [{"metrics": [{"name": "demo_temperature", "gauge": {"dataPoints": [
      {"timeUnixNano": "'$(date +%s%N)'", "asDouble": 21.5}
    ]}}]}]
  }]
}'`,
  }[what];
  return (
    <div className="empty-state">
      <h3>No {what} in this range yet</h3>
      <p>
        Point any OpenTelemetry SDK or collector at Loupe: OTLP/gRPC on <code data-testid="listen-otlp-grpc">{listen.grpc}</code>, OTLP/HTTP on{' '}
        <code data-testid="listen-otlp-http">http://{otlp}</code> (<code>/v1/{path}</code>){listen.known ? '' : ' (the default ports: this server does not report its listeners)'}. For example:
      </p>
      <pre className="code">{`export OTEL_EXPORTER_OTLP_ENDPOINT=http://${otlp}
export OTEL_SERVICE_NAME=my-service`}</pre>
      <p>or send one by hand:</p>
      <pre className="code">{example}</pre>
      {what === 'metrics' && (
        <p>
          Prometheus can also <code>remote_write</code> to <code>http://{listen.http}/api/v1/write</code>.
        </p>
      )}
      <p className="muted">If you have sent data already, try a wider time range.</p>
    </div>
  );
}
