package native

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store/duck"
)

// duckLog is one generated record, with the fields the expectations are computed from.
type duckLog struct {
	id       int
	ts       time.Time
	service  string
	severity plog.SeverityNumber
	sevText  string
	body     string
	route    string
	traceID  pcommon.TraceID
}

const duckLogCount = 300

// makeDuckLogs generates records over the three hours before testNow, one every 36s, plus
// two records of the test trace two days earlier (in another day partition).
func makeDuckLogs(t testing.TB) []duckLog {
	sevs := []struct {
		n    plog.SeverityNumber
		text string
	}{
		{plog.SeverityNumberInfo, "INFO"}, {plog.SeverityNumberWarn, "WARN"},
		{plog.SeverityNumberError, "ERROR"}, {plog.SeverityNumberDebug, "DEBUG"}, {plog.SeverityNumberInfo, "INFO"},
	}
	services := []string{"api", "worker", "db"}
	var out []duckLog
	for i := range duckLogCount {
		s := sevs[i%len(sevs)]
		l := duckLog{
			id:       i,
			ts:       testNow.Add(-time.Duration(i+1) * 36 * time.Second),
			service:  services[i%len(services)],
			severity: s.n,
			sevText:  s.text,
			body:     fmt.Sprintf("request %d done", i),
			route:    []string{"/users", "/orders"}[i%2],
		}
		if i%7 == 0 {
			l.body = fmt.Sprintf("request %d: upstream Timeout after 5s", i)
		}
		out = append(out, l)
	}
	for i := range 2 {
		out = append(out, duckLog{
			id: duckLogCount + i, ts: testNow.Add(-48*time.Hour + time.Duration(i)*time.Second),
			service: "api", severity: plog.SeverityNumberError, sevText: "ERROR",
			body: "handling the traced request", route: "/users", traceID: mustTraceID(t, traceHex),
		})
	}
	return out
}

func toPlog(logs []duckLog) plog.Logs {
	ld := plog.NewLogs()
	for _, l := range logs {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", l.service)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("test")
		r := sl.LogRecords().AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(l.ts))
		r.SetObservedTimestamp(pcommon.NewTimestampFromTime(l.ts.Add(time.Millisecond)))
		r.SetSeverityNumber(l.severity)
		r.SetSeverityText(l.sevText)
		r.Body().SetStr(l.body)
		r.Attributes().PutStr("id", fmt.Sprint(l.id))
		r.Attributes().PutStr("http.route", l.route)
		r.SetTraceID(l.traceID)
	}
	return ld
}

// newDuckAPI returns an API over a real DuckDB store holding makeDuckLogs and testTrace.
func newDuckAPI(t *testing.T) (*API, []duckLog) {
	t.Helper()
	st, err := duck.Open(filepath.Join(t.TempDir(), "x.duckdb"), duck.DefaultOptions(),
		slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	logs := makeDuckLogs(t)
	require.NoError(t, st.WriteLogs(context.Background(), toPlog(logs)))
	require.NoError(t, st.WriteTraces(context.Background(), testTrace(t)))
	a := New(st, st, slog.New(slog.DiscardHandler))
	a.now = func() time.Time { return testNow }
	return a, logs
}

// pageAll follows next_cursor and returns the ids of every record, in order.
func pageAll(t *testing.T, a *API, query string, limit int) []int {
	t.Helper()
	ids := []int{}
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 1000, "paging does not end")
		resp := get(t, a, fmt.Sprintf("/api/loupe/v1/logs?%s&limit=%d&cursor=%s", query, limit, url.QueryEscape(cursor)), http.StatusOK)
		var data struct {
			Records []struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"records"`
			NextCursor string `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(resp.Data, &data))
		require.LessOrEqual(t, len(data.Records), limit)
		for _, r := range data.Records {
			var id int
			_, err := fmt.Sscan(r.Attributes["id"].(string), &id)
			require.NoError(t, err)
			ids = append(ids, id)
		}
		if data.NextCursor == "" {
			return ids
		}
		cursor = data.NextCursor
	}
}

// wantIDs returns the ids of the records keep selects, newest first.
func wantIDs(logs []duckLog, keep func(duckLog) bool) []int {
	var sel []duckLog
	for _, l := range logs {
		if keep(l) {
			sel = append(sel, l)
		}
	}
	slices.SortFunc(sel, func(x, y duckLog) int { return y.ts.Compare(x.ts) })
	ids := []int{}
	for _, l := range sel {
		ids = append(ids, l.id)
	}
	return ids
}

func TestDuckLogs(t *testing.T) {
	a, logs := newDuckAPI(t)
	inLastHour := func(l duckLog) bool { return !l.ts.Before(testNow.Add(-time.Hour)) && l.ts.Before(testNow) }
	tests := []struct {
		query string
		keep  func(duckLog) bool
	}{
		{"", inLastHour},
		{"start=now-3h", func(l duckLog) bool { return !l.ts.Before(testNow.Add(-3 * time.Hour)) }},
		{"start=now-90m&end=now-30m", func(l duckLog) bool {
			return !l.ts.Before(testNow.Add(-90*time.Minute)) && l.ts.Before(testNow.Add(-30*time.Minute))
		}},
		{"service=api&service=db", func(l duckLog) bool { return inLastHour(l) && l.service != "worker" }},
		{"severity=warn", func(l duckLog) bool { return inLastHour(l) && l.severity >= plog.SeverityNumberWarn }},
		{"severity=17", func(l duckLog) bool { return inLastHour(l) && l.severity >= plog.SeverityNumberError }},
		{"q=timeout", func(l duckLog) bool { return inLastHour(l) && strings.Contains(l.body, "Timeout") }},
		{"attr=http.route%3D/orders", func(l duckLog) bool { return inLastHour(l) && l.route == "/orders" }},
		{"attr=http.route!%3D/orders", func(l duckLog) bool { return inLastHour(l) && l.route != "/orders" }},
		{"attr=id%3D~1.", func(l duckLog) bool { return inLastHour(l) && l.id >= 10 && l.id < 20 }},
		{"attr=id!~.*[02468]", func(l duckLog) bool { return inLastHour(l) && l.id%2 == 1 }},
		{"attr=service.name%3Dworker", func(l duckLog) bool { return inLastHour(l) && l.service == "worker" }},
		{"service=api&severity=error&q=request", func(l duckLog) bool {
			return inLastHour(l) && l.service == "api" && l.severity >= plog.SeverityNumberError
		}},
		// The link from a trace: its logs are two days old and still found.
		{"trace_id=" + traceHex, func(l duckLog) bool { return l.traceID == mustTraceID(t, traceHex) }},
		{"trace_id=" + traceHex + "&start=now-1d", func(duckLog) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			want := wantIDs(logs, tt.keep)
			require.Equal(t, want, pageAll(t, a, tt.query, 1000))
			require.Equal(t, want, pageAll(t, a, tt.query, 7), "paging with a small limit")
		})
	}
}

func TestDuckLogRecord(t *testing.T) {
	a, _ := newDuckAPI(t)
	resp := get(t, a, "/api/loupe/v1/logs?trace_id="+traceHex+"&limit=1", http.StatusOK)
	var data struct {
		Records    []map[string]any `json:"records"`
		NextCursor string           `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.Len(t, data.Records, 1)
	require.NotEmpty(t, data.NextCursor)
	r := data.Records[0]
	ts := testNow.Add(-48*time.Hour + time.Second)
	require.Equal(t, ts.Format(time.RFC3339Nano), r["time"])
	require.Equal(t, fmt.Sprint(ts.UnixNano()), r["time_unix_nano"])
	require.Equal(t, ts.Add(time.Millisecond).Format(time.RFC3339Nano), r["observed_time"])
	require.Equal(t, "api", r["service"])
	require.EqualValues(t, 17, r["severity_number"])
	require.Equal(t, "ERROR", r["severity_text"])
	require.Equal(t, "handling the traced request", r["body"])
	require.Equal(t, traceHex, r["trace_id"])
	require.NotContains(t, r, "span_id", "empty ids are omitted")
	require.Equal(t, map[string]any{"id": "301", "http.route": "/users"}, r["attributes"])
	require.Equal(t, "api", r["resource"].(map[string]any)["service.name"])
	require.Equal(t, "test", r["scope"].(map[string]any)["name"])
}

func TestDuckLogCounts(t *testing.T) {
	a, logs := newDuckAPI(t)
	resp := get(t, a, "/api/loupe/v1/logs/counts?start=now-3h&step=10m", http.StatusOK)
	var data struct {
		StepSeconds float64 `json:"step_seconds"`
		Buckets     []struct {
			Time   time.Time        `json:"time"`
			Total  int64            `json:"total"`
			Counts map[string]int64 `json:"counts"`
		} `json:"buckets"`
	}
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.Equal(t, 600.0, data.StepSeconds)
	require.Len(t, data.Buckets, 18)

	// Compute the same buckets from the generated records; buckets start at start.
	start := testNow.Add(-3 * time.Hour)
	want := map[time.Time]map[string]int64{}
	for _, l := range logs {
		if l.ts.Before(start) || !l.ts.Before(testNow) {
			continue
		}
		b := start.Add(l.ts.Sub(start) / (10 * time.Minute) * (10 * time.Minute))
		if want[b] == nil {
			want[b] = map[string]int64{}
		}
		want[b][l.sevText]++
	}
	got := map[time.Time]map[string]int64{}
	var total int64
	for i, b := range data.Buckets {
		if i > 0 {
			require.True(t, b.Time.After(data.Buckets[i-1].Time), "buckets in time order")
		}
		got[b.Time.UTC()] = b.Counts
		total += b.Total
	}
	require.Equal(t, want, got)
	require.EqualValues(t, duckLogCount, total)

	// Filters apply to counts too.
	resp = get(t, a, "/api/loupe/v1/logs/counts?start=now-3h&step=3h&severity=error", http.StatusOK)
	require.JSONEq(t, `{"start": "2026-11-22T09:00:00Z", "end": "2026-11-22T12:00:00Z", "step_seconds": 10800,
		"buckets": [{"time": "2026-11-22T09:00:00Z", "time_unix_nano": "1795338000000000000", "total": 60,
		"counts": {"ERROR": 60}}]}`, string(resp.Data))
}

func TestDuckTraces(t *testing.T) {
	a, _ := newDuckAPI(t)

	resp := get(t, a, "/api/loupe/v1/traces/"+traceHex, http.StatusOK)
	var tr traceJSON
	require.NoError(t, json.Unmarshal(resp.Data, &tr))
	require.Equal(t, traceHex, tr.TraceID)
	require.Equal(t, []string{"api", "db"}, tr.Services)
	require.EqualValues(t, 100e6, tr.DurationNanos)
	var names []string
	for _, s := range tr.Spans {
		names = append(names, s.Name)
	}
	require.Equal(t, []string{"GET /users", "handler", "SELECT"}, names)
	require.Equal(t, statusJSON{Code: "error", Message: "deadlock"}, tr.Spans[2].Status)
	require.Equal(t, "NaN", tr.Spans[2].Attributes["db.ratio"])
	require.Len(t, tr.Spans[2].Events, 1)
	require.Len(t, tr.Spans[1].Links, 1)

	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/loupe/v1/traces/"+traceHex+"?format=otlp", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(rec.Body.Bytes())
	require.NoError(t, err)
	require.Equal(t, 3, td.SpanCount())

	resp = get(t, a, "/api/loupe/v1/traces/"+strings.Repeat("ab", 16), http.StatusNotFound)
	require.Equal(t, "trace "+strings.Repeat("ab", 16)+" not found", resp.Error)

	search := func(query string) []string {
		t.Helper()
		resp := get(t, a, "/api/loupe/v1/traces?"+query, http.StatusOK)
		var data tracesData
		require.NoError(t, json.Unmarshal(resp.Data, &data))
		ids := []string{}
		for _, s := range data.Traces {
			ids = append(ids, s.TraceID)
		}
		return ids
	}
	found := []string{traceHex}
	require.Equal(t, found, search(""))
	require.Equal(t, found, search("service=db&errors=true"))
	require.Equal(t, found, search("span_name=handler"))
	require.Equal(t, found, search("min_duration=90ms"))
	require.Equal(t, found, search("max_duration=60ms&service=db"))
	require.Equal(t, found, search("attr=http.status_code%3D500"))
	require.Equal(t, []string{}, search("service=api&errors=true"))
	require.Equal(t, []string{}, search("min_duration=1s"))
	require.Equal(t, []string{}, search("start=now-30m"))

	resp = get(t, a, "/api/loupe/v1/traces?service=db", http.StatusOK)
	var data tracesData
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.Equal(t, traceSummaryJSON{
		TraceID: traceHex, RootService: "api", RootSpanName: "GET /users",
		Start: "2026-11-22T11:00:00Z", StartUnixNano: "1795345200000000000", DurationNanos: 100e6,
		SpanCount: 3, ErrorCount: 1, Services: []string{"api", "db"},
	}, data.Traces[0])

	resp = get(t, a, "/api/loupe/v1/services", http.StatusOK)
	require.JSONEq(t, `["api", "db"]`, string(resp.Data))
	resp = get(t, a, "/api/loupe/v1/services/api/span_names", http.StatusOK)
	require.JSONEq(t, `["GET /users", "handler"]`, string(resp.Data))
	resp = get(t, a, "/api/loupe/v1/services/nope/span_names", http.StatusOK)
	require.JSONEq(t, `[]`, string(resp.Data))
}

func TestDuckCancelledRequest(t *testing.T) {
	a, _ := newDuckAPI(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, path := range []string{"logs", "logs/counts", "traces", "traces/" + traceHex, "services"} {
		req := httptest.NewRequest(http.MethodGet, "/api/loupe/v1/"+path, nil).WithContext(ctx)
		resp := do(t, a, req, statusClientClosedRequest)
		require.Equal(t, "canceled", resp.ErrorType, path)
	}
}
