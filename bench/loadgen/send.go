package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Protocols a Sender speaks.
const (
	OTLPHTTP    = "otlp-http"    // OTLP/HTTP protobuf, POST <endpoint>/v1/{logs,traces,metrics}
	OTLPGRPC    = "otlp-grpc"    // OTLP/gRPC to host:port
	RemoteWrite = "remote-write" // Prometheus remote write 1.0, POST <endpoint>/api/v1/write
	// RemoteWrite2 is Prometheus remote write 2.0 to the same path.
	RemoteWrite2 = "remote-write-2"
	LokiPush     = "loki" // Loki push protobuf+snappy, POST <endpoint>/loki/api/v1/push
	// SentryEnvelope (errors.go) posts Sentry envelopes to the DSN given as endpoint.
	// PyroscopeIngest (profiles.go) posts pyroscope-go's multipart pprof uploads to
	// <endpoint>/ingest.
)

// Signals a generator produces.
const (
	Logs    = "logs"
	Traces  = "traces"
	Metrics = "metrics"
)

// A Sender delivers encoded batches to one endpoint. Send returns how many of the batch's
// items the server rejected while accepting the request (OTLP partial success), or an error
// when the request failed as a whole; a *RetryableError means the server asked to retry.
// Senders are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, b Batch) (rejected int, err error)
	Close() error
}

// RetryableError is a refusal the server asked us to retry (HTTP 429/502/503/504, gRPC
// Unavailable or ResourceExhausted), after After when the server said so.
type RetryableError struct {
	Err   error
	After time.Duration
}

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// NewSender returns a Sender of signal over protocol to endpoint: a base URL
// (http://host:port) for the HTTP protocols, host:port for gRPC.
func NewSender(protocol, signal, endpoint string, concurrency int) (Sender, error) {
	switch protocol {
	case OTLPHTTP:
		path := map[string]string{Logs: "/v1/logs", Traces: "/v1/traces", Metrics: "/v1/metrics"}[signal]
		if path == "" {
			return nil, fmt.Errorf("otlp-http cannot send signal %q", signal)
		}
		return newHTTPSender(strings.TrimRight(endpoint, "/")+path, signal, "", concurrency), nil
	case RemoteWrite, RemoteWrite2:
		if signal != Metrics {
			return nil, fmt.Errorf("%s sends metrics, not %q", protocol, signal)
		}
		s := newHTTPSender(strings.TrimRight(endpoint, "/")+"/api/v1/write", signal, "snappy", concurrency)
		s.contentType, s.rwVersion = "application/x-protobuf", "0.1.0"
		if protocol == RemoteWrite2 {
			s.contentType, s.rwVersion = "application/x-protobuf;proto=io.prometheus.write.v2.Request", "2.0.0"
		}
		return s, nil
	case LokiPush:
		if signal != Logs {
			return nil, fmt.Errorf("loki push sends logs, not %q", signal)
		}
		return newHTTPSender(strings.TrimRight(endpoint, "/")+"/loki/api/v1/push", signal, "snappy", concurrency), nil
	case SentryEnvelope:
		if signal != Errors {
			return nil, fmt.Errorf("sentry-envelope sends errors, not %q", signal)
		}
		url, auth, err := sentryTarget(endpoint)
		if err != nil {
			return nil, err
		}
		s := newHTTPSender(url, signal, "gzip", concurrency)
		s.contentType, s.sentryAuth = "application/x-sentry-envelope", auth
		return s, nil
	case PyroscopeIngest:
		if signal != Profiles {
			return nil, fmt.Errorf("%s sends profiles, not %q", protocol, signal)
		}
		return newHTTPSender(strings.TrimRight(endpoint, "/")+"/ingest", signal, "", concurrency), nil
	case OTLPGRPC:
		return newGRPCSender(signal, endpoint)
	default:
		return nil, fmt.Errorf("unknown protocol %q (want %s, %s, %s, %s, %s, %s or %s)", protocol, OTLPHTTP, OTLPGRPC, RemoteWrite, RemoteWrite2, LokiPush, SentryEnvelope, PyroscopeIngest)
	}
}

type httpSender struct {
	url         string
	contentType string // "" means application/x-protobuf
	rwVersion   string // X-Prometheus-Remote-Write-Version, "" for none
	sentryAuth  string // X-Sentry-Auth, "" for none
	signal      string
	encoding    string // Content-Encoding, "" for none
	client      *http.Client
}

func newHTTPSender(url, signal, encoding string, concurrency int) *httpSender {
	tr := &http.Transport{MaxIdleConns: concurrency * 2, MaxIdleConnsPerHost: concurrency * 2, IdleConnTimeout: time.Minute}
	return &httpSender{url: url, signal: signal, encoding: encoding,
		client: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

func (s *httpSender) Send(ctx context.Context, b Batch) (int, error) {
	url := s.url
	if b.Query != "" {
		url += "?" + b.Query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b.Body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	ct := s.contentType
	if b.ContentType != "" {
		ct = b.ContentType
	}
	if ct == "" {
		ct = "application/x-protobuf"
	}
	req.Header.Set("Content-Type", ct)
	if s.encoding != "" {
		req.Header.Set("Content-Encoding", s.encoding)
	}
	if s.rwVersion != "" {
		req.Header.Set("X-Prometheus-Remote-Write-Version", s.rwVersion)
	}
	if s.sentryAuth != "" {
		req.Header.Set("X-Sentry-Auth", s.sentryAuth)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("read response: %w", err)
	}
	switch {
	case resp.StatusCode/100 == 2:
		if strings.Contains(s.url, "/v1/") && !strings.Contains(s.url, "/api/v1/") && len(body) > 0 {
			return otlpRejected(s.signal, body)
		}
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
		after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return 0, &RetryableError{Err: fmt.Errorf("status %d: %s", resp.StatusCode, short(body)), After: time.Duration(after) * time.Second}
	default:
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, short(body))
	}
}

func (s *httpSender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// otlpRejected reads the rejected count of an OTLP partial-success response.
func otlpRejected(signal string, body []byte) (int, error) {
	switch signal {
	case Logs:
		r := plogotlp.NewExportResponse()
		if err := r.UnmarshalProto(body); err != nil {
			return 0, fmt.Errorf("decode logs response: %w", err)
		}
		return int(r.PartialSuccess().RejectedLogRecords()), nil
	case Traces:
		r := ptraceotlp.NewExportResponse()
		if err := r.UnmarshalProto(body); err != nil {
			return 0, fmt.Errorf("decode traces response: %w", err)
		}
		return int(r.PartialSuccess().RejectedSpans()), nil
	default:
		r := pmetricotlp.NewExportResponse()
		if err := r.UnmarshalProto(body); err != nil {
			return 0, fmt.Errorf("decode metrics response: %w", err)
		}
		return int(r.PartialSuccess().RejectedDataPoints()), nil
	}
}

func short(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// grpcSender sends pre-encoded OTLP requests with a pass-through codec, so the client does
// not decode and re-encode what the generator already encoded.
type grpcSender struct {
	conn   *grpc.ClientConn
	method string
	signal string
}

func newGRPCSender(signal, endpoint string) (*grpcSender, error) {
	method := map[string]string{
		Logs:    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
		Traces:  "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
		Metrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
	}[signal]
	if method == "" {
		return nil, fmt.Errorf("otlp-grpc cannot send signal %q", signal)
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20), grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", endpoint, err)
	}
	return &grpcSender{conn: conn, method: method, signal: signal}, nil
}

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

func (s *grpcSender) Send(ctx context.Context, b Batch) (int, error) {
	in, out := b.Body, []byte(nil)
	err := s.conn.Invoke(ctx, s.method, &in, &out, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		st, _ := status.FromError(err)
		if st.Code() == codes.Unavailable || st.Code() == codes.ResourceExhausted {
			return 0, &RetryableError{Err: err}
		}
		return 0, err
	}
	return otlpRejected(s.signal, out)
}

func (s *grpcSender) Close() error { return s.conn.Close() }

// IsRetryable reports whether err asks for a retry.
func IsRetryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}
