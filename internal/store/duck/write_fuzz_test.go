package duck_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

type noMetricWrites struct{}

func (noMetricWrites) WriteMetrics(context.Context, pmetric.Metrics) error { return nil }

// FuzzDuckWrite decodes the fuzz bytes as an OTLP logs request and as an OTLP traces
// request, writes them into a DuckDB store through the pipeline with the server's time
// window (as the receivers do), and reads them back: every record and span the write
// accepted must be found, with nothing else under the batch's service name. The store is
// in memory (DuckDB's :memory:), so that no file is left behind.
func FuzzDuckWrite(f *testing.F) {
	now := time.Now()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.name", "h1")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("lib")
	for i, body := range []string{"hello", "", "ünïcode ✓", `{"json":1}`} {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Duration(i) * time.Minute)))
		lr.Body().SetStr(body)
		lr.SetSeverityNumber(plog.SeverityNumber(i * 5))
		lr.Attributes().PutInt("n", int64(i))
		lr.Attributes().PutEmptyMap("m").PutEmptySlice("s").AppendEmpty().SetBool(true)
		lr.SetTraceID(pcommon.TraceID{1, 2, 3, byte(i)})
	}
	lb, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(f, err)
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := range 3 {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{9, byte(i % 2)})
		sp.SetSpanID(pcommon.SpanID{1, byte(i)})
		sp.SetName(fmt.Sprint("op", i))
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
		sp.Attributes().PutDouble("d", 1.5)
		sp.Events().AppendEmpty().SetName("ev")
	}
	tb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(f, err)
	for _, s := range [][]byte{{}, lb, tb, lb[:len(lb)/2], tb[:len(tb)/2]} {
		f.Add(s)
	}

	// In memory: fuzz workers are stopped without running cleanups, so a file would leak.
	st, err := duck.Open(":memory:", duck.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(f, err)
	f.Cleanup(func() { _ = st.Close() })
	cfg := pipeline.DefaultConfig()
	cfg.Limits.MaxFuture = 10 * time.Minute // the server's defaults (limits.max_future, retention)
	cfg.Limits.MaxLogAge, cfg.Limits.MaxSpanAge = 7*24*time.Hour, 7*24*time.Hour
	p := pipeline.New(cfg, pipeline.Writers{Logs: st, Spans: st, Metrics: noMetricWrites{}}, nil, nil)
	require.NoError(f, p.Start(context.Background()))
	f.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	ctx := context.Background()
	batch := 0

	f.Fuzz(func(t *testing.T, body []byte) {
		batch++
		// Each batch gets its own service name, so that reads find exactly its items.
		svc := fmt.Sprintf("fuzz-%d-%d", time.Now().UnixNano(), batch)

		lreq := plogotlp.NewExportRequest()
		if lreq.UnmarshalProto(body) == nil {
			logs := lreq.Logs()
			for _, rl := range logs.ResourceLogs().All() {
				rl.Resource().Attributes().PutStr("service.name", svc)
			}
			total := logs.LogRecordCount()
			accepted := acceptedCount(t, total, p.ConsumeLogs(ctx, logs))
			got := 0
			for r, err := range st.QueryLogs(ctx, store.LogQuery{LogFilter: store.LogFilter{Services: []string{svc}}, Limit: 10000}) {
				require.NoError(t, err)
				require.Equal(t, svc, r.Service)
				got++
			}
			require.Equal(t, accepted, got, "log records read back")
		}

		treq := ptraceotlp.NewExportRequest()
		if treq.UnmarshalProto(body) == nil {
			traces := treq.Traces()
			ids := map[pcommon.TraceID]bool{}
			for _, rs := range traces.ResourceSpans().All() {
				rs.Resource().Attributes().PutStr("service.name", svc)
				for _, ss := range rs.ScopeSpans().All() {
					for _, sp := range ss.Spans().All() {
						ids[sp.TraceID()] = true
					}
				}
			}
			accepted := acceptedCount(t, traces.SpanCount(), p.ConsumeTraces(ctx, traces))
			got := 0
			for id := range ids {
				if id.IsEmpty() { // refused by the pipeline (zero trace id); not a trace to get
					continue
				}
				tr, err := st.GetTrace(ctx, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				require.NoError(t, err)
				for _, rs := range tr.ResourceSpans().All() {
					if s, _ := rs.Resource().Attributes().Get("service.name"); s.Str() == svc {
						for _, ss := range rs.ScopeSpans().All() {
							got += ss.Spans().Len()
						}
					}
				}
			}
			require.Equal(t, accepted, got, "spans read back")
		}
	})
}

// acceptedCount is how many of total items a write stored: all on success, all but the
// rejected on a partial success. Any other error fails the test.
func acceptedCount(t *testing.T, total int, err error) int {
	t.Helper()
	if err == nil {
		return total
	}
	var pe *store.PartialError
	require.True(t, errors.As(err, &pe), "write failed: %v", err)
	return total - int(pe.Rejected)
}
