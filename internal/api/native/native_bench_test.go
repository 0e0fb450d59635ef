package native

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// benchRecords returns n records shaped like real ones: ten attributes, a resource of
// three, a trace id on every third.
func benchRecords(n int) []store.LogRecord {
	out := make([]store.LogRecord, n)
	for i := range out {
		attrs := map[string]any{}
		for k := range 10 {
			attrs[fmt.Sprintf("attr.%d", k)] = fmt.Sprintf("value-%d-%d", k, i%50)
		}
		attrs["http.status_code"] = int64(200)
		r := store.LogRecord{
			Timestamp:         testNow.Add(-time.Duration(i) * time.Millisecond),
			ObservedTimestamp: testNow.Add(-time.Duration(i) * time.Millisecond),
			Service:           "checkout",
			SeverityNumber:    9,
			SeverityText:      "INFO",
			Body:              fmt.Sprintf("GET /api/orders/%d 200 in %dms", i, i%300),
			Attributes:        attrs,
			Resource:          map[string]any{"service.name": "checkout", "host.name": "node-1", "service.version": "1.4.2"},
			ScopeName:         "app",
		}
		if i%3 == 0 {
			r.TraceID = pcommon.TraceID{1, 2, 3, byte(i)}
			r.SpanID = pcommon.SpanID{4, 5, byte(i)}
		}
		out[i] = r
	}
	return out
}

// BenchmarkLogsPage measures the handler and JSON encoding of one full page, over a fake
// store so that only this package's cost is measured.
func BenchmarkLogsPage(b *testing.B) {
	for _, limit := range []int{100, 10000} {
		b.Run(fmt.Sprint(limit), func(b *testing.B) {
			a := newTestAPI(&fakeStore{records: benchRecords(limit)}, nil)
			req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/api/loupe/v1/logs?limit=%d", limit), nil)
			b.ReportAllocs()
			var bytes int64
			for b.Loop() {
				w := &countingWriter{header: http.Header{}}
				a.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
				bytes += w.n
			}
			b.ReportMetric(float64(limit)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(bytes)/float64(b.N)/float64(limit), "B/record")
		})
	}
}

// BenchmarkTraceJSON measures the conversion and encoding of a trace of 1,000 spans.
func BenchmarkTraceJSON(b *testing.B) {
	const spans = 1000
	td := ptrace.NewTraces()
	tid := pcommon.TraceID{9, 9, 9}
	for r := range 10 {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		ss := rs.ScopeSpans().AppendEmpty()
		for i := range spans / 10 {
			s := ss.Spans().AppendEmpty()
			s.SetTraceID(tid)
			s.SetSpanID(pcommon.SpanID{byte(r), byte(i), 1})
			s.SetParentSpanID(pcommon.SpanID{byte(r), 0, 1})
			s.SetName(fmt.Sprintf("op-%d", i%20))
			start := pcommon.NewTimestampFromTime(testNow.Add(time.Duration((spans-i)*r) * time.Microsecond))
			s.SetStartTimestamp(start)
			s.SetEndTimestamp(start + 1e6)
			for k := range 8 {
				s.Attributes().PutStr(fmt.Sprintf("attr.%d", k), "some value")
			}
		}
	}
	a := newTestAPI(&fakeStore{traces: map[pcommon.TraceID]ptrace.Traces{tid: td}}, nil)
	req := httptest.NewRequest(http.MethodGet, "/api/loupe/v1/traces/"+tid.String(), nil)
	b.ReportAllocs()
	for b.Loop() {
		w := &countingWriter{header: http.Header{}}
		a.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
	b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkDuckLogsPage is a page of 100 records end to end over the real store holding
// 100,000 records, newest first and with a filter.
func BenchmarkDuckLogsPage(b *testing.B) {
	st, err := duck.Open(filepath.Join(b.TempDir(), "bench.duckdb"), duck.DefaultOptions(),
		slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, st.Close()) })
	logs := make([]duckLog, 0, 100000)
	for i := range cap(logs) {
		logs = append(logs, duckLog{
			id: i, ts: testNow.Add(-time.Duration(i) * 30 * time.Millisecond), service: []string{"api", "db"}[i%2],
			severity: 9, sevText: "INFO", body: fmt.Sprintf("request %d done", i), route: "/users",
		})
	}
	require.NoError(b, st.WriteLogs(context.Background(), toPlog(logs)))
	a := New(st, st, slog.New(slog.DiscardHandler))
	a.now = func() time.Time { return testNow }
	for _, q := range []string{"", "service=db", "q=request+4242", "attr=id%3D99"} {
		b.Run(q, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/api/loupe/v1/logs?limit=100&"+q, nil)
			b.ReportAllocs()
			for b.Loop() {
				w := &countingWriter{header: http.Header{}}
				a.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
		})
	}
}

// countingWriter is a ResponseWriter that keeps only the status and the byte count.
type countingWriter struct {
	header http.Header
	code   int
	n      int64
}

func (w *countingWriter) Header() http.Header { return w.header }
func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *countingWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := io.Discard.Write(p)
	w.n += int64(n)
	return n, err
}
