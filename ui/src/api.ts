// Calls to Loupe's HTTP APIs. Every answer is {"status": "success", "data": ...} or
// {"status": "error", "error": "..."}; errors become an ApiError carrying the server's
// message so pages can show it as it is.

export class ApiError extends Error {
  constructor(message: string, public status: number, public type?: string) {
    super(message);
  }
}

export async function getJSON<T>(path: string, params?: URLSearchParams, signal?: AbortSignal): Promise<T> {
  const url = params && [...params.keys()].length ? `${path}?${params}` : path;
  return request<T>(url, { signal, headers: { Accept: 'application/json' } });
}

/** sendJSON sends body as JSON with method (PUT, POST) and answers the data of the reply. */
export async function sendJSON<T>(method: string, path: string, body: unknown): Promise<T> {
  return request<T>(path, { method, headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

async function request<T>(url: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`cannot reach the Loupe server (${(e as Error).message})`, 0);
  }
  let body: any;
  const text = await res.text();
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(`${res.status} ${res.statusText}: ${text.slice(0, 300) || 'empty answer'}`, res.status);
  }
  if (!res.ok || body.status === 'error') {
    throw new ApiError(body.error ?? `${res.status} ${res.statusText}`, res.status, body.errorType);
  }
  return body.data as T;
}

export type Attrs = Record<string, unknown>;

export interface LogRecord {
  time: string;
  time_unix_nano: string;
  observed_time?: string;
  service: string;
  severity_number: number;
  severity_text: string;
  body: string;
  trace_id?: string;
  span_id?: string;
  flags?: number;
  attributes: Attrs;
  resource: Attrs;
  scope: { name?: string; version?: string };
}

export interface LogsPage {
  start?: string;
  end?: string;
  records: LogRecord[];
  next_cursor: string;
}

export interface LogCounts {
  start: string;
  end: string;
  step_seconds: number;
  buckets: { time: string; time_unix_nano: string; total: number; counts: Record<string, number> }[];
}

export interface TraceSummary {
  trace_id: string;
  root_service: string;
  root_span_name: string;
  start: string;
  start_unix_nano: string;
  duration_ns: number;
  span_count: number;
  error_count: number;
  services: string[];
}

export interface Span {
  span_id: string;
  parent_span_id?: string;
  name: string;
  kind: string;
  service: string;
  start_unix_nano: string;
  end_unix_nano: string;
  duration_ns: number;
  status: { code: string; message?: string };
  attributes: Attrs;
  resource: Attrs;
  scope: { name?: string; version?: string };
  events: { time: string; time_unix_nano: string; name: string; attributes: Attrs }[];
  links: { trace_id: string; span_id: string; trace_state?: string; attributes: Attrs }[];
}

export interface Trace {
  trace_id: string;
  spans: Span[];
  services: string[];
  start: string;
  start_unix_nano: string;
  duration_ns: number;
}

export interface REDPoint {
  time_unix_nano: string;
  count: number;
  error_count: number;
  p50_ns: number;
  p95_ns: number;
  p99_ns: number;
}

export interface REDGroup {
  name: string;
  count: number;
  error_count: number;
  rate: number;
  error_rate: number;
  p50_ns: number;
  p95_ns: number;
  p99_ns: number;
  series: REDPoint[];
}

export interface REDData {
  start: string;
  end: string;
  step_seconds: number;
  service?: string;
  groups: REDGroup[];
}

// Prometheus API results.
export interface PromMatrix {
  resultType: 'matrix';
  result: { metric: Record<string, string>; values: [number, string][] }[];
}
export interface PromVector {
  resultType: 'vector';
  result: { metric: Record<string, string>; value: [number, string] }[];
}
export interface PromScalar {
  resultType: 'scalar' | 'string';
  result: [number, string];
}
export type PromResult = PromMatrix | PromVector | PromScalar;

/**
 * The embedded Alertmanager's API v2 (/alertmanager/api/v2/...), which answers bare JSON
 * (no envelope) and errors as a JSON string or text. Without alerting.alertmanager_config
 * nothing serves that path: the UI's own index.html (or a 404) comes back instead, reported
 * as an ApiError of type "not_configured".
 */
export const alertmanagerAPI = '/alertmanager/api/v2';

export async function amRequest<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, signal, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(alertmanagerAPI + path, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`cannot reach the Loupe server (${(e as Error).message})`, 0);
  }
  const text = await res.text();
  if ((res.headers.get('Content-Type') ?? '').includes('text/html') || (res.status === 404 && !text.trim().startsWith('"'))) {
    throw new ApiError('no embedded Alertmanager: alerting.alertmanager_config is not set', res.status, 'not_configured');
  }
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = text;
  }
  if (!res.ok) {
    const msg = typeof data === 'string' ? data : (data as { message?: string })?.message ?? text;
    throw new ApiError(`${res.status} ${res.statusText}: ${String(msg).trim().slice(0, 500)}`, res.status);
  }
  return data as T;
}
