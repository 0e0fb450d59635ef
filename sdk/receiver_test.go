package sdk

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// receiver is a minimal OTLP/HTTP protobuf receiver that keeps what it was sent, decoded
// with the Collector's pdata, so the tests check the wire format and not the SDK's memory.
type receiver struct {
	URL string

	mu      sync.Mutex
	traces  []ptrace.Traces
	metrics []pmetric.Metrics
	logs    []plog.Logs
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch req.URL.Path {
	case "/v1/traces":
		m := ptraceotlp.NewExportRequest()
		err = m.UnmarshalProto(data)
		r.traces = append(r.traces, m.Traces())
	case "/v1/metrics":
		m := pmetricotlp.NewExportRequest()
		err = m.UnmarshalProto(data)
		r.metrics = append(r.metrics, m.Metrics())
	case "/v1/logs":
		m := plogotlp.NewExportRequest()
		err = m.UnmarshalProto(data)
		r.logs = append(r.logs, m.Logs())
	default:
		http.NotFound(w, req)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}

// spans returns every span received, by name.
func (r *receiver) spans() map[string]ptrace.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]ptrace.Span{}
	for _, td := range r.traces {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					out[sp.Name()] = sp
				}
			}
		}
	}
	return out
}

// spanResource returns the resource attributes of the first span batch.
func (r *receiver) spanResource(t *testing.T) map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.traces)
	return r.traces[0].ResourceSpans().At(0).Resource().Attributes().AsRaw()
}

func (r *receiver) logRecords() []plog.LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []plog.LogRecord
	for _, ld := range r.logs {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, lr)
				}
			}
		}
	}
	return out
}

// metricNames returns the names of every metric received.
func (r *receiver) metricNames() map[string]pmetric.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]pmetric.Metric{}
	for _, md := range r.metrics {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					out[m.Name()] = m
				}
			}
		}
	}
	return out
}
