// Loading, error and empty states shared by every page.

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

const otlpHost = () => window.location.hostname || 'localhost';

/** SendData tells a newcomer how to get data of one kind into Loupe. */
export function SendData({ what }: { what: 'logs' | 'traces' | 'metrics' }) {
  const host = otlpHost();
  const path = { logs: 'logs', traces: 'traces', metrics: 'metrics' }[what];
  const example = {
    logs: `curl -X POST http://${host}:4318/v1/logs -H 'Content-Type: application/json' -d '{
  "resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "demo"}}]},
    "scopeLogs": [{"logRecords": [{
      "timeUnixNano": "'$(date +%s%N)'",
      "severityText": "INFO", "severityNumber": 9,
      "body": {"stringValue": "hello from curl"}
    }]}]
  }]
}'`,
    traces: `curl -X POST http://${host}:4318/v1/traces -H 'Content-Type: application/json' -d '{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "demo"}}]},
    "scopeSpans": [{"spans": [{
      "traceId": "'$(openssl rand -hex 16)'", "spanId": "'$(openssl rand -hex 8)'",
      "name": "GET /hello", "kind": 2,
      "startTimeUnixNano": "'$(date +%s%N)'", "endTimeUnixNano": "'$(($(date +%s%N)+25000000))'"
    }]}]
  }]
}'`,
    metrics: `curl -X POST http://${host}:4318/v1/metrics -H 'Content-Type: application/json' -d '{
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
        Point any OpenTelemetry SDK or collector at Loupe: OTLP/gRPC on <code>{host}:4317</code>, OTLP/HTTP on{' '}
        <code>http://{host}:4318</code> (<code>/v1/{path}</code>). For example:
      </p>
      <pre className="code">{`export OTEL_EXPORTER_OTLP_ENDPOINT=http://${host}:4318
export OTEL_SERVICE_NAME=my-service`}</pre>
      <p>or send one by hand:</p>
      <pre className="code">{example}</pre>
      {what === 'metrics' && (
        <p>
          Prometheus can also <code>remote_write</code> to <code>http://{host}:7070/api/v1/write</code>.
        </p>
      )}
      <p className="muted">If you have sent data already, try a wider time range.</p>
    </div>
  );
}
