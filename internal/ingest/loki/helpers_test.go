package loki

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// recorder is a pipeline.Consumer that keeps a copy of the logs it is given and answers
// err.
type recorder struct {
	mu   sync.Mutex
	logs plog.Logs
	err  error
	n    int // calls
}

func newRecorder() *recorder { return &recorder{logs: plog.NewLogs()} }

func (r *recorder) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.err != nil {
		return r.err
	}
	ld.ResourceLogs().MoveAndAppendTo(r.logs.ResourceLogs())
	return nil
}

func (r *recorder) ConsumeTraces(context.Context, ptrace.Traces) error    { return nil }
func (r *recorder) ConsumeMetrics(context.Context, pmetric.Metrics) error { return nil }

// post sends body to h and returns the status, headers and body of the answer.
func post(t testing.TB, h http.Handler, body []byte, header ...string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, rec.Header(), string(b)
}

// protoBody encodes streams the way promtail does: logproto.PushRequest, snappy block.
func protoBody(t testing.TB, streams ...push.Stream) []byte {
	t.Helper()
	req := push.PushRequest{Streams: streams}
	raw, err := req.Marshal()
	require.NoError(t, err)
	return snappy.Encode(nil, raw)
}

func newTestHandler(t testing.TB, c *recorder) (*pushHandler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := NewPushHandler(c, DefaultOptions(), nil, reg).(*pushHandler)
	h.now = func() time.Time { return time.Unix(1700000100, 0) }
	return h, reg
}

func snappyEncode(raw []byte) []byte { return snappy.Encode(nil, raw) }

func postMethod(t testing.TB, h http.Handler, method string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(method, Path, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.String()
}
