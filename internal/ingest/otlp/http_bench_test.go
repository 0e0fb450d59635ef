package otlp

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// Benchmarks of decode + limits + queue + (no-op) write through the HTTP handler, with
// realistic items: 1000 per request, 10 attributes each.

const benchItems = 1000

func benchTraces() []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr("host.name", "node-17")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := range benchItems {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, byte(i >> 8), byte(i)})
		s.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, byte(i >> 8), byte(i)})
		s.SetName("GET /api/cart")
		s.SetKind(ptrace.SpanKindServer)
		s.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + i))
		s.SetEndTimestamp(pcommon.Timestamp(1_700_000_000_050_000_000 + i))
		putAttrs(s.Attributes(), i)
	}
	b, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	return b
}

func benchLogs() []byte {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range benchItems {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + i))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.Body().SetStr(fmt.Sprintf("user %d added item %d to cart in 12ms", i%97, i))
		putAttrs(lr.Attributes(), i)
	}
	b, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	return b
}

func benchMetrics() []byte {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http.server.requests")
	sum := m.SetEmptySum()
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	sum.SetIsMonotonic(true)
	for i := range benchItems {
		dp := sum.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(1_700_000_000_000_000_000)
		dp.SetTimestamp(pcommon.Timestamp(1_700_000_060_000_000_000 + i))
		dp.SetIntValue(int64(i))
		putAttrs(dp.Attributes(), i)
	}
	b, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	return b
}

func putAttrs(m pcommon.Map, i int) {
	m.PutStr("http.route", "/api/cart")
	m.PutStr("http.method", "GET")
	m.PutInt("http.status_code", 200)
	m.PutStr("user.id", fmt.Sprintf("u-%d", i%97))
	m.PutStr("cart.id", fmt.Sprintf("c-%d", i))
	m.PutBool("cache.hit", i%2 == 0)
	m.PutDouble("duration_ms", 12.5)
	m.PutStr("region", "eu-west-1")
	m.PutStr("version", "1.4.2")
	m.PutInt("items", int64(i%7))
}

func benchHTTP(b *testing.B, path string, body []byte) {
	h := nopHandler(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			require.Equal(b, http.StatusOK, rec.Code, rec.Body.String())
		}
	}
	runtime.ReadMemStats(&after)
	items := float64(b.N) * benchItems
	b.ReportMetric(items/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/items, "allocs/item")
}

func BenchmarkHTTPProtoTraces(b *testing.B)  { benchHTTP(b, "/v1/traces", benchTraces()) }
func BenchmarkHTTPProtoLogs(b *testing.B)    { benchHTTP(b, "/v1/logs", benchLogs()) }
func BenchmarkHTTPProtoMetrics(b *testing.B) { benchHTTP(b, "/v1/metrics", benchMetrics()) }

// BenchmarkProtoTooDeep is the cost of the nesting check that runs before every protobuf
// decode.
func BenchmarkProtoTooDeep(b *testing.B) {
	body := benchLogs()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if protoTooDeep(body, maxNesting) {
			b.Fatal("too deep")
		}
	}
}
