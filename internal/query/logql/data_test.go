package logql_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/ingest/loki"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// T0 is the start of the test data set; test files write times as offsets from it.
var T0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// storeConsumer writes logs straight into a store, standing in for the ingest pipeline.
type storeConsumer struct{ st *duck.Store }

func (c storeConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	return c.st.WriteLogs(ctx, ld)
}
func (storeConsumer) ConsumeTraces(context.Context, ptrace.Traces) error    { return nil }
func (storeConsumer) ConsumeMetrics(context.Context, pmetric.Metrics) error { return nil }

// newTestStore opens a DuckDB store filled with the test data set:
//
//   - service "api" (OTLP; resource deployment.environment=prod, host.name=h1): 12 JSON
//     lines, one every 10s from T0; every third (i%3==2) is an error with status 500.
//     Record attributes http.route=/users and user.id=<i>; records 0..5 carry a trace id.
//   - service "worker" (OTLP; host.name=h2): 8 logfmt lines, one every 15s from T0+5s.
//   - Loki push {job="nginx", env="prod"}: 6 access log lines, one every 20s from T0.
//   - Loki push {job="nginx", env="dev"}: 2 lines at T0+30s and T0+90s with structured
//     metadata trace_id and user=<name>.
//   - service "old" (OTLP): one line on the previous UTC day, T0-1h.
func newTestStore(t testing.TB) *duck.Store {
	t.Helper()
	st, err := duck.Open(filepath.Join(t.TempDir(), "t.duckdb"), duck.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	rl.Resource().Attributes().PutStr("deployment.environment", "prod")
	rl.Resource().Attributes().PutStr("host.name", "h1")
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range 12 {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(T0.Add(time.Duration(i) * 10 * time.Second)))
		status, level := 200, "info"
		if i%3 == 2 {
			status, level = 500, "error"
			lr.SetSeverityNumber(plog.SeverityNumberError)
			lr.SetSeverityText("ERROR")
		} else {
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
		}
		lr.Body().SetStr(fmt.Sprintf(`{"level":%q,"msg":"GET /users/%d","status":%d,"duration":"%dms","size":"%dKB","req":{"method":"GET","id":%d},"tags":["a"]}`,
			level, i, status, 10*(i+1), i+1, i))
		lr.Attributes().PutStr("http.route", "/users")
		lr.Attributes().PutInt("user.id", int64(i))
		if i < 6 {
			var tid pcommon.TraceID
			tid[15] = byte(i + 1)
			lr.SetTraceID(tid)
		}
	}
	rl = ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "worker")
	rl.Resource().Attributes().PutStr("host.name", "h2")
	sl = rl.ScopeLogs().AppendEmpty()
	for i := range 8 {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(T0.Add(5*time.Second + time.Duration(i)*15*time.Second)))
		lr.Body().SetStr(fmt.Sprintf(`level=info job=resize took=%dms size=%d msg="resized image %d"`, 100*(i+1), 1024*(i+1), i))
	}
	rl = ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "old")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(T0.Add(-time.Hour)))
	lr.Body().SetStr("from yesterday")
	require.NoError(t, st.WriteLogs(ctx, ld))

	var b bytes.Buffer
	b.WriteString(`{"streams":[{"stream":{"job":"nginx","env":"prod"},"values":[`)
	paths := []string{"/", "/index.html", "/login", "/index.html", "/missing", "/"}
	codes := []int{200, 200, 302, 200, 404, 200}
	for i := range 6 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `["%d","10.0.0.%d - - \"GET %s HTTP/1.1\" %d %d"]`,
			T0.Add(time.Duration(i)*20*time.Second).UnixNano(), i+1, paths[i], codes[i], 100*(i+1))
	}
	b.WriteString(`]},{"stream":{"job":"nginx","env":"dev"},"values":[`)
	fmt.Fprintf(&b, `["%d","10.1.0.1 - - \"GET /debug HTTP/1.1\" 500 7",{"trace_id":"0af7651916cd43dd8448eb211c80319c","user":"ann"}],`, T0.Add(30*time.Second).UnixNano())
	fmt.Fprintf(&b, `["%d","10.1.0.2 - - \"POST /debug HTTP/1.1\" 201 9",{"user":"bob"}]`, T0.Add(90*time.Second).UnixNano())
	b.WriteString(`]}]}`)
	h := loki.NewPushHandler(storeConsumer{st}, loki.DefaultOptions(), nil, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", &b)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	return st
}
