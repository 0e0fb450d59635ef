package otlp

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

// nopStore accepts every write and keeps nothing.
type nopStore struct{}

func (nopStore) WriteLogs(context.Context, plog.Logs) error          { return nil }
func (nopStore) WriteTraces(context.Context, ptrace.Traces) error    { return nil }
func (nopStore) WriteMetrics(context.Context, pmetric.Metrics) error { return nil }

// nopHandler is the OTLP/HTTP handler over a real pipeline that discards what it writes.
func nopHandler(t testing.TB) http.Handler {
	t.Helper()
	p := pipeline.New(pipeline.DefaultConfig(), pipeline.Writers{Logs: nopStore{}, Spans: nopStore{}, Metrics: nopStore{}}, nil, nil)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return New(DefaultConfig(), p, nil, nil).Handler()
}

func fuzzHandler(f *testing.F, path string, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
		if len(s) > 3 {
			f.Add(s[:len(s)-3])
		}
	}
	f.Add([]byte{})
	f.Add([]byte("{}"))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"zz"}]}]}]}`))
	h := nopHandler(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ct := range []string{"application/x-protobuf", "application/json"} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
				t.Fatalf("%s %s: status %d: %q", ct, path, rec.Code, rec.Body.Bytes())
			}
		}
	})
}

func FuzzHTTPTraces(f *testing.F) {
	req := traceRequest(3)
	pb, err := req.MarshalProto()
	require.NoError(f, err)
	js, err := req.MarshalJSON()
	require.NoError(f, err)
	fuzzHandler(f, "/v1/traces", pb, js)
}

func FuzzHTTPLogs(f *testing.F) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("hello")
	lr.Attributes().PutEmptyMap("m").PutEmptySlice("s").AppendEmpty().SetInt(1)
	req := plogotlp.NewExportRequestFromLogs(ld)
	pb, err := req.MarshalProto()
	require.NoError(f, err)
	js, err := req.MarshalJSON()
	require.NoError(f, err)
	fuzzHandler(f, "/v1/logs", pb, js)
}

func FuzzHTTPMetrics(f *testing.F) {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty()
	g.SetName("up")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(1)
	h := ms.AppendEmpty()
	h.SetName("latency")
	dp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
	dp.ExplicitBounds().FromRaw([]float64{1})
	dp.BucketCounts().FromRaw([]uint64{1, 2})
	req := pmetricotlp.NewExportRequestFromMetrics(md)
	pb, err := req.MarshalProto()
	require.NoError(f, err)
	js, err := req.MarshalJSON()
	require.NoError(f, err)
	fuzzHandler(f, "/v1/metrics", pb, js)
}
