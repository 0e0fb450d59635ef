//go:build chdb

package chlogs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/ingest/loki"
	"github.com/loupe-dev/loupe/internal/query/logql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// The LogQL engine's cases (internal/query/logql/testdata/queries.test) run over this
// store filled with the same data set as the engine's own tests (newLogQLStore, a copy of
// logql's newTestStore). Their expected results are the embedded backend's answers: the
// logql package's TestCases checks them against DuckDB, so agreeing with the file is
// agreeing with DuckDB, without linking DuckDB into this package's tests.

const casesPath = "../../../query/logql/testdata/queries.test"

// t0 is the start of the data set (logql's T0).
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// logsFunc is a pipeline consumer of logs.
type logsFunc func(context.Context, plog.Logs) error

func (f logsFunc) ConsumeLogs(ctx context.Context, ld plog.Logs) error { return f(ctx, ld) }
func (logsFunc) ConsumeTraces(context.Context, ptrace.Traces) error    { return nil }
func (logsFunc) ConsumeMetrics(context.Context, pmetric.Metrics) error { return nil }

// newLogQLStore opens a store filled with logql's test data set (see logql's data_test.go
// for what it holds).
func newLogQLStore(t *testing.T) *Store {
	t.Helper()
	st := newStore(t, chsqltest.Open(t), Options{})
	WriteLogQLData(t, st.WriteLogs)
	return st
}

// WriteLogQLData writes logql's test data set with write, as OTLP and through the Loki
// push handler. Exported for the external test package (logql_duck_test.go).
func WriteLogQLData(t testing.TB, write func(context.Context, plog.Logs) error) {
	t.Helper()
	ctx := context.Background()

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	rl.Resource().Attributes().PutStr("deployment.environment", "prod")
	rl.Resource().Attributes().PutStr("host.name", "h1")
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range 12 {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(i) * 10 * time.Second)))
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
		lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(5*time.Second + time.Duration(i)*15*time.Second)))
		lr.Body().SetStr(fmt.Sprintf(`level=info job=resize took=%dms size=%d msg="resized image %d"`, 100*(i+1), 1024*(i+1), i))
	}
	rl = ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "old")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(-time.Hour)))
	lr.Body().SetStr("from yesterday")
	require.NoError(t, write(ctx, ld))

	var b bytes.Buffer
	b.WriteString(`{"streams":[{"stream":{"job":"nginx","env":"prod"},"values":[`)
	paths := []string{"/", "/index.html", "/login", "/index.html", "/missing", "/"}
	codes := []int{200, 200, 302, 200, 404, 200}
	for i := range 6 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `["%d","10.0.0.%d - - \"GET %s HTTP/1.1\" %d %d"]`,
			t0.Add(time.Duration(i)*20*time.Second).UnixNano(), i+1, paths[i], codes[i], 100*(i+1))
	}
	b.WriteString(`]},{"stream":{"job":"nginx","env":"dev"},"values":[`)
	fmt.Fprintf(&b, `["%d","10.1.0.1 - - \"GET /debug HTTP/1.1\" 500 7",{"trace_id":"0af7651916cd43dd8448eb211c80319c","user":"ann"}],`, t0.Add(30*time.Second).UnixNano())
	fmt.Fprintf(&b, `["%d","10.1.0.2 - - \"POST /debug HTTP/1.1\" 201 9",{"user":"bob"}]`, t0.Add(90*time.Second).UnixNano())
	b.WriteString(`]}]}`)
	srv := httptest.NewServer(loki.NewPushHandler(logsFunc(write), loki.DefaultOptions(), nil, nil))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", &b)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

// LogQLCase is one case of queries.test; the format is described in logql's cases_test.go.
type LogQLCase struct {
	Line    int
	Query   string
	Params  logql.Params
	Want    []string
	WantErr string
}

func ReadLogQLCases(t *testing.T) []LogQLCase {
	f, err := os.Open(casesPath)
	require.NoError(t, err)
	defer f.Close()
	offset := func(s string) time.Time {
		d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
		require.NoError(t, err, "offset %q", s)
		return t0.Add(d)
	}
	var cases []LogQLCase
	inWant := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if inWant {
			if strings.TrimSpace(line) == "" {
				inWant = false
			} else {
				cases[len(cases)-1].Want = append(cases[len(cases)-1].Want, line)
			}
			continue
		}
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		require.True(t, ok, "line %d", n)
		val = strings.TrimSpace(val)
		if key == "query" {
			cases = append(cases, LogQLCase{Line: n, Query: val, Params: logql.Params{Limit: 100}})
			continue
		}
		require.NotEmpty(t, cases, "line %d", n)
		c := &cases[len(cases)-1]
		switch key {
		case "range":
			f := strings.Fields(val)
			require.Len(t, f, 3, "line %d", n)
			step, err := time.ParseDuration(f[2])
			require.NoError(t, err)
			c.Params.Start, c.Params.End, c.Params.Step = offset(f[0]), offset(f[1]), step
		case "instant":
			c.Params.Start = offset(val)
			c.Params.End = c.Params.Start
		case "limit":
			c.Params.Limit, err = strconv.Atoi(val)
			require.NoError(t, err)
		case "direction":
			c.Params.Forward = val == "forward"
		case "want":
			inWant = true
		case "error":
			c.WantErr = val
		default:
			t.Fatalf("line %d: unknown key %q", n, key)
		}
	}
	require.NoError(t, sc.Err())
	return cases
}

// RenderResult is logql's render (cases_test.go): the result as the file's lines.
func RenderResult(res *logql.Result) []string {
	offset := func(ns int64) string {
		d := time.Unix(0, ns).Sub(t0)
		if d < 0 {
			return d.String()
		}
		return "+" + d.String()
	}
	value := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	var out []string
	switch res.Type {
	case "streams":
		for _, s := range res.Streams {
			for _, e := range s.Entries {
				out = append(out, fmt.Sprintf("%s %s %s", logql.LabelsString(s.Labels), offset(e.Timestamp), e.Line))
			}
		}
	case "matrix":
		for _, s := range res.Series {
			parts := []string{logql.LabelsString(s.Labels)}
			for _, p := range s.Points {
				parts = append(parts, offset(p.T)+"="+value(p.V))
			}
			out = append(out, strings.Join(parts, " "))
		}
	case "vector":
		for _, s := range res.Series {
			out = append(out, logql.LabelsString(s.Labels)+" "+value(s.Points[0].V))
		}
	case "scalar":
		out = append(out, "scalar "+value(res.Scalar.V))
	}
	return out
}

// TestLogQLCases runs every case of the engine's case file over this store.
func TestLogQLCases(t *testing.T) {
	st := newLogQLStore(t)
	eng := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	cases := ReadLogQLCases(t)
	require.NotEmpty(t, cases)
	for _, c := range cases {
		t.Run(fmt.Sprintf("line%d", c.Line), func(t *testing.T) {
			res, err := eng.Query(context.Background(), c.Query, c.Params)
			if c.WantErr != "" {
				require.ErrorContains(t, err, c.WantErr, "query %s", c.Query)
				return
			}
			require.NoError(t, err, "query %s", c.Query)
			require.Equal(t, strings.Join(c.Want, "\n"), strings.Join(RenderResult(res), "\n"), "query %s", c.Query)
		})
	}
}
