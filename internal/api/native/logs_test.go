package native

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/internal/store"
)

// testNow is the clock of every test API, so relative times and defaults are exact.
var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// newTestAPI returns an API over f with a fixed clock and a logger writing to logs.
func newTestAPI(f *fakeStore, logs *bytes.Buffer) *API {
	if logs == nil {
		logs = &bytes.Buffer{}
	}
	a := New(f, f, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	a.now = func() time.Time { return testNow }
	return a
}

// response is the envelope as a client decodes it.
type response struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

// get sends GET target to h and decodes the envelope, checking the status code.
func get(t *testing.T, h http.Handler, target string, wantCode int) response {
	t.Helper()
	return do(t, h, httptest.NewRequest(http.MethodGet, target, nil), wantCode)
}

func do(t *testing.T, h http.Handler, req *http.Request, wantCode int) response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, wantCode, rec.Code, "body: %s", rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var resp response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), "body: %s", rec.Body.String())
	if wantCode == http.StatusOK {
		require.Equal(t, "success", resp.Status)
	} else {
		require.Equal(t, "error", resp.Status)
		require.NotEmpty(t, resp.Error)
	}
	return resp
}

func mustTraceID(t testing.TB, s string) pcommon.TraceID {
	t.Helper()
	id, err := parseTraceID(s)
	require.NoError(t, err)
	return id
}

func mustSpanID(t testing.TB, s string) pcommon.SpanID {
	t.Helper()
	id, err := parseSpanID(s)
	require.NoError(t, err)
	return id
}

const (
	traceHex = "5b8efff798038103d269b633813fc60c"
	spanHex  = "eee19b7ec3c1b174"
)

// TestLogsParams checks how each parameter of logs and logs/counts reaches the store.
func TestLogsParams(t *testing.T) {
	hourAgo := testNow.Add(-time.Hour)
	tests := []struct {
		name  string
		query string
		want  func(f store.LogFilter) store.LogFilter // applied to the default filter
	}{
		{"defaults are the last hour", "", nil},
		{"start and end RFC3339", "start=2026-11-22T10:00:00Z&end=2026-11-22T11:00:00.5Z",
			func(f store.LogFilter) store.LogFilter {
				f.Start = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
				f.End = time.Date(2026, 11, 22, 11, 0, 0, 5e8, time.UTC)
				return f
			}},
		{"RFC3339 with offset", "start=2026-11-22T10:00:00%2B02:00",
			func(f store.LogFilter) store.LogFilter {
				f.Start = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
				return f
			}},
		{"unix seconds with fraction", "start=1795348800.123456789&end=1795352400",
			func(f store.LogFilter) store.LogFilter {
				f.Start = time.Unix(1795348800, 123456789).UTC()
				f.End = time.Unix(1795352400, 0).UTC()
				return f
			}},
		{"relative", "start=now-2h&end=now-30m",
			func(f store.LogFilter) store.LogFilter {
				f.Start = testNow.Add(-2 * time.Hour)
				f.End = testNow.Add(-30 * time.Minute)
				return f
			}},
		{"only end moves the default start", "end=now-1d",
			func(f store.LogFilter) store.LogFilter {
				f.End = testNow.Add(-24 * time.Hour)
				f.Start = f.End.Add(-time.Hour)
				return f
			}},
		{"service repeatable", "service=api&service=worker",
			func(f store.LogFilter) store.LogFilter { f.Services = []string{"api", "worker"}; return f }},
		{"empty value is no filter", "service=&q=&severity=&trace_id=",
			func(f store.LogFilter) store.LogFilter { return f }},
		{"severity name", "severity=warn",
			func(f store.LogFilter) store.LogFilter { f.MinSeverity = 13; return f }},
		{"severity name any case", "severity=ERROR",
			func(f store.LogFilter) store.LogFilter { f.MinSeverity = 17; return f }},
		{"severity number", "severity=21",
			func(f store.LogFilter) store.LogFilter { f.MinSeverity = 21; return f }},
		{"full text", "q=Connection+Refused",
			func(f store.LogFilter) store.LogFilter { f.Contains = "Connection Refused"; return f }},
		{"attr every operator", "attr=http.route%3D/api/x&attr=env!%3Dprod&attr=code%3D~5..&attr=user!~bot.*",
			func(f store.LogFilter) store.LogFilter {
				f.Attrs = []store.AttrFilter{
					{Key: "http.route", Op: store.MatchEqual, Value: "/api/x"},
					{Key: "env", Op: store.MatchNotEqual, Value: "prod"},
					{Key: "code", Op: store.MatchRegexp, Value: "5.."},
					{Key: "user", Op: store.MatchNotRegexp, Value: "bot.*"},
				}
				return f
			}},
		{"trace and span id", "trace_id=" + strings.ToUpper(traceHex) + "&span_id=" + spanHex + "&end=now",
			func(f store.LogFilter) store.LogFilter {
				f.TraceID = mustTraceID(t, traceHex)
				f.SpanID = mustSpanID(t, spanHex)
				return f
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := store.LogFilter{Start: hourAgo, End: testNow}
			if tt.want != nil {
				want = tt.want(want)
			}
			f := &fakeStore{}
			a := newTestAPI(f, nil)
			get(t, a, "/api/loupe/v1/logs?"+tt.query, http.StatusOK)
			require.Len(t, f.logQueries, 1)
			require.Equal(t, want, f.logQueries[0].LogFilter)

			get(t, a, "/api/loupe/v1/logs/counts?"+tt.query, http.StatusOK)
			require.Len(t, f.countQueries, 1)
			require.Equal(t, want, f.countQueries[0].LogFilter)
		})
	}
}

// TestLogsBadParams checks that every bad parameter is a 400 naming it and its value, for
// both logs routes, and that the store is not called.
func TestLogsBadParams(t *testing.T) {
	tests := []struct {
		query   string
		wantErr string
	}{
		{"start=yesterday", `parameter "start": cannot parse "yesterday" as a time`},
		{"end=2026-13-01T00:00:00Z", `parameter "end": cannot parse "2026-13-01T00:00:00Z"`},
		{"start=now-abc", `parameter "start": cannot parse "now-abc" as a time: time: invalid duration "abc"`},
		{"start=now*2", `parameter "start": cannot parse "now*2" as a time`},
		{"start=-5", `parameter "start": "-5" is out of range`},
		{"start=99999999999", `parameter "start": "99999999999" is out of range`},
		{"start=now&end=now-1h", `parameter "end": 2026-11-22T11:00:00Z is not after start 2026-11-22T12:00:00Z`},
		{"start=now&end=now", `parameter "end"`},
		{"start=now%2B1h", `parameter "start": 2026-11-22T13:00:00Z is not before end 2026-11-22T12:00:00Z (now)`},
		{"start=now-1h&start=now-2h", `parameter "start": given 2 times`},
		{"severity=loud", `parameter "severity": unknown severity "loud"`},
		{"severity=0", `parameter "severity": severity number 0 is out of range`},
		{"severity=25", `parameter "severity": severity number 25 is out of range`},
		{"attr=novalue", `parameter "attr": "novalue" has no operator`},
		{"attr=%3Dx", `parameter "attr": "=x" has an empty key`},
		{"attr=a%3D~(", `parameter "attr": "a=~(": invalid regular expression`},
		{"trace_id=abc", `parameter "trace_id": "abc" is not 32 hex digits`},
		{"trace_id=" + strings.Repeat("g", 32), `parameter "trace_id": "gggg`},
		{"trace_id=" + strings.Repeat("0", 32), `parameter "trace_id": trace id "000`},
		{"span_id=" + traceHex, `parameter "span_id": "` + traceHex + `" is not 16 hex digits`},
		{"span_id=0000000000000000", `parameter "span_id": span id "0000000000000000" is all zeros`},
		{"q=a&q=b", `parameter "q": given 2 times`},
		{"serivce=api", `unknown parameter "serivce"`},
		{"service=%zz", `malformed query string: invalid URL escape "%zz"`},
		{"service=a;service=b", `malformed query string: invalid semicolon separator in query`},
	}
	for _, tt := range tests {
		for _, route := range []string{"logs", "logs/counts"} {
			t.Run(route+"?"+tt.query, func(t *testing.T) {
				f := &fakeStore{}
				resp := get(t, newTestAPI(f, nil), "/api/loupe/v1/"+route+"?"+tt.query, http.StatusBadRequest)
				require.Equal(t, "bad_data", resp.ErrorType)
				require.Contains(t, resp.Error, tt.wantErr)
				require.Empty(t, f.logQueries)
				require.Empty(t, f.countQueries)
			})
		}
	}
}

// TestLogsByTraceIDSearchesAllTime: logs?trace_id=X without a range finds the logs of
// an old trace; with a range, the range applies; logs/counts keeps its default range.
func TestLogsByTraceIDSearchesAllTime(t *testing.T) {
	tests := []struct {
		query      string
		start, end time.Time
	}{
		{"trace_id=" + traceHex, time.Time{}, time.Time{}},
		{"span_id=" + spanHex, time.Time{}, time.Time{}},
		{"trace_id=" + traceHex + "&start=now-2h", testNow.Add(-2 * time.Hour), testNow},
		{"trace_id=" + traceHex + "&end=now-2h", testNow.Add(-3 * time.Hour), testNow.Add(-2 * time.Hour)},
		{"service=api", testNow.Add(-time.Hour), testNow},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			f := &fakeStore{}
			a := newTestAPI(f, nil)
			resp := get(t, a, "/api/loupe/v1/logs?"+tt.query, http.StatusOK)
			var data logsData
			require.NoError(t, json.Unmarshal(resp.Data, &data))
			require.Equal(t, tt.start.IsZero(), data.Start == "" && data.End == "", "range shown when used")
			require.Equal(t, tt.start, f.logQueries[0].Start)
			require.Equal(t, tt.end, f.logQueries[0].End)
			get(t, a, "/api/loupe/v1/logs/counts?"+tt.query, http.StatusOK)
			require.False(t, f.countQueries[0].Start.IsZero())
		})
	}
}

func TestLogsLimitAndCursor(t *testing.T) {
	tests := []struct {
		query     string
		wantCode  int
		wantLimit int // limit passed to the store (one more than the page)
		wantErr   string
	}{
		{"", http.StatusOK, 101, ""},
		{"limit=1", http.StatusOK, 2, ""},
		{"limit=10000", http.StatusOK, 10001, ""},
		{"limit=0", http.StatusBadRequest, 0, `parameter "limit": 0 is out of range, want 1 to 10000`},
		{"limit=10001", http.StatusBadRequest, 0, `parameter "limit": 10001 is out of range`},
		{"limit=ten", http.StatusBadRequest, 0, `parameter "limit": "ten" is not an integer`},
		{"cursor=garbage", http.StatusBadRequest, 0, `parameter "cursor": not a cursor returned by this API`},
		{"cursor=" + encodeCursor("7")[1:], http.StatusBadRequest, 0, `parameter "cursor"`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			f := &fakeStore{}
			resp := get(t, newTestAPI(f, nil), "/api/loupe/v1/logs?"+tt.query, tt.wantCode)
			if tt.wantErr != "" {
				require.Contains(t, resp.Error, tt.wantErr)
				require.Empty(t, f.logQueries)
				return
			}
			require.Equal(t, tt.wantLimit, f.logQueries[0].Limit)
		})
	}
}

// TestLogsPaging follows next_cursor through every page and checks that each record comes
// exactly once, in order, and that the last page has no cursor.
func TestLogsPaging(t *testing.T) {
	f := &fakeStore{}
	for i := range 7 {
		f.records = append(f.records, store.LogRecord{
			Timestamp: testNow.Add(-time.Duration(i) * time.Minute), Body: string(rune('a' + i)),
		})
	}
	a := newTestAPI(f, nil)
	var bodies []string
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 10, "paging does not end")
		resp := get(t, a, "/api/loupe/v1/logs?limit=3&cursor="+cursor, http.StatusOK)
		var data struct {
			Records    []struct{ Body string }
			NextCursor string `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(resp.Data, &data))
		for _, r := range data.Records {
			bodies = append(bodies, r.Body)
		}
		if data.NextCursor == "" {
			require.Len(t, data.Records, 1, "last page")
			break
		}
		require.Len(t, data.Records, 3)
		cursor = data.NextCursor
	}
	require.Equal(t, []string{"a", "b", "c", "d", "e", "f", "g"}, bodies)
	require.Equal(t, "", f.logQueries[0].Cursor)
	require.Equal(t, "2", f.logQueries[1].Cursor, "the store gets its own cursor back")
}

// TestLogsPageOfExactlyLimit: when the store has exactly limit records there is no next page.
func TestLogsPageOfExactlyLimit(t *testing.T) {
	f := &fakeStore{records: make([]store.LogRecord, 3)}
	resp := get(t, newTestAPI(f, nil), "/api/loupe/v1/logs?limit=3", http.StatusOK)
	require.JSONEq(t, `""`, string(mustField(t, resp.Data, "next_cursor")))
	require.Len(t, f.logQueries, 1)
}

// TestLogsFullPageAtStoreCap: the store caps its limit at 10,000, so a page of 10,000 cannot
// tell whether it is the last one; it returns a cursor, and the page after it is empty.
func TestLogsFullPageAtStoreCap(t *testing.T) {
	f := &fakeStore{records: make([]store.LogRecord, maxLogLimit)}
	a := newTestAPI(f, nil)
	resp := get(t, a, "/api/loupe/v1/logs?limit=10000", http.StatusOK)
	var data logsData
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.Len(t, data.Records, maxLogLimit)
	require.NotEmpty(t, data.NextCursor)

	resp = get(t, a, "/api/loupe/v1/logs?limit=10000&cursor="+data.NextCursor, http.StatusOK)
	require.JSONEq(t, `{"start": "2026-11-22T11:00:00Z", "end": "2026-11-22T12:00:00Z",
		"records": [], "next_cursor": ""}`, string(resp.Data))
}

func mustField(t *testing.T, data json.RawMessage, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &m))
	v, ok := m[name]
	require.True(t, ok, "no field %q in %s", name, data)
	return v
}

func TestLogRecordJSON(t *testing.T) {
	f := &fakeStore{records: []store.LogRecord{
		{
			Timestamp:         time.Date(2026, 11, 22, 11, 59, 0, 123456789, time.UTC),
			ObservedTimestamp: time.Date(2026, 11, 22, 11, 59, 1, 0, time.UTC),
			Service:           "api",
			SeverityNumber:    17,
			SeverityText:      "ERROR",
			Body:              "connection refused",
			TraceID:           mustTraceID(t, traceHex),
			SpanID:            mustSpanID(t, spanHex),
			Flags:             1,
			Attributes:        map[string]any{"code": int64(500), "ratio": math.NaN(), "list": []any{math.Inf(1), "x"}},
			Resource:          map[string]any{"service.name": "api"},
			ScopeName:         "app/db",
			ScopeVersion:      "1.2.0",
		},
		{Timestamp: time.Unix(0, 0), Body: "minimal"},
	}}
	resp := get(t, newTestAPI(f, nil), "/api/loupe/v1/logs", http.StatusOK)
	require.JSONEq(t, `{
		"start": "2026-11-22T11:00:00Z",
		"end": "2026-11-22T12:00:00Z",
		"next_cursor": "",
		"records": [
			{
				"time": "2026-11-22T11:59:00.123456789Z",
				"time_unix_nano": "1795348740123456789",
				"observed_time": "2026-11-22T11:59:01Z",
				"observed_time_unix_nano": "1795348741000000000",
				"service": "api",
				"severity_number": 17,
				"severity_text": "ERROR",
				"body": "connection refused",
				"trace_id": "`+traceHex+`",
				"span_id": "`+spanHex+`",
				"flags": 1,
				"attributes": {"code": 500, "ratio": "NaN", "list": ["+Inf", "x"]},
				"resource": {"service.name": "api"},
				"scope": {"name": "app/db", "version": "1.2.0"}
			},
			{
				"time": "1970-01-01T00:00:00Z",
				"time_unix_nano": "0",
				"service": "",
				"severity_number": 0,
				"severity_text": "",
				"body": "minimal",
				"attributes": {},
				"resource": {},
				"scope": {"name": ""}
			}
		]
	}`, string(resp.Data))
	// The store's map must not have been modified by the NaN replacement.
	require.True(t, math.IsNaN(f.records[0].Attributes["ratio"].(float64)))
}

func TestLogCounts(t *testing.T) {
	b0 := testNow.Add(-time.Hour)
	b1 := b0.Add(time.Minute)
	f := &fakeStore{counts: []store.LogCount{
		{Bucket: b1, Severity: "ERROR", Count: 3},
		{Bucket: b0, Severity: "INFO", Count: 12},
		{Bucket: b0, Severity: "", Count: 2},
		{Bucket: b1, Severity: "INFO", Count: 1},
	}}
	resp := get(t, newTestAPI(f, nil), "/api/loupe/v1/logs/counts?step=1m", http.StatusOK)
	require.JSONEq(t, `{
		"start": "2026-11-22T11:00:00Z",
		"end": "2026-11-22T12:00:00Z",
		"step_seconds": 60,
		"buckets": [
			{"time": "2026-11-22T11:00:00Z", "time_unix_nano": "1795345200000000000", "total": 14,
			 "counts": {"INFO": 12, "UNSPECIFIED": 2}},
			{"time": "2026-11-22T11:01:00Z", "time_unix_nano": "1795345260000000000", "total": 4,
			 "counts": {"ERROR": 3, "INFO": 1}}
		]
	}`, string(resp.Data))
	require.Equal(t, time.Minute, f.countQueries[0].Step)

	f = &fakeStore{}
	resp = get(t, newTestAPI(f, nil), "/api/loupe/v1/logs/counts", http.StatusOK)
	require.JSONEq(t, `{"start": "2026-11-22T11:00:00Z", "end": "2026-11-22T12:00:00Z",
		"step_seconds": 30, "buckets": []}`, string(resp.Data))
}

func TestLogCountsStep(t *testing.T) {
	tests := []struct {
		query    string
		wantCode int
		want     time.Duration
		wantErr  string
	}{
		{"", http.StatusOK, 30 * time.Second, ""},
		{"start=now-24h", http.StatusOK, 15 * time.Minute, ""},
		{"start=now-7d", http.StatusOK, 2 * time.Hour, ""},
		{"step=1m", http.StatusOK, time.Minute, ""},
		{"step=1.5s", http.StatusOK, 1500 * time.Millisecond, ""},
		{"step=15", http.StatusOK, 15 * time.Second, ""},
		{"step=1d&start=now-30d", http.StatusOK, 24 * time.Hour, ""},
		{"step=abc", http.StatusBadRequest, 0, `parameter "step": time: invalid duration "abc"`},
		{"step=-1m", http.StatusBadRequest, 0, `parameter "step": duration "-1m" is negative`},
		{"step=0", http.StatusBadRequest, 0, `parameter "step": "0" is not positive`},
		{"step=100ms", http.StatusBadRequest, 0, `parameter "step": 100ms makes 36000 buckets over 1h0m0s, more than 11000`},
		{"start=0&end=2262-04-11T00:00:00Z&step=100000h", http.StatusOK, 100000 * time.Hour, ""},
		{"start=0&end=2262-04-11T00:00:00Z&step=1h", http.StatusBadRequest, 0, `1h0m0s makes 2562024 buckets`},
		{"limit=5", http.StatusBadRequest, 0, `unknown parameter "limit"`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			f := &fakeStore{}
			resp := get(t, newTestAPI(f, nil), "/api/loupe/v1/logs/counts?"+tt.query, tt.wantCode)
			if tt.wantErr != "" {
				require.Contains(t, resp.Error, tt.wantErr)
				return
			}
			require.Equal(t, tt.want, f.countQueries[0].Step)
			require.JSONEq(t, jsonNumber(tt.want.Seconds()), string(mustField(t, resp.Data, "step_seconds")))
		})
	}
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func TestDefaultStepBuckets(t *testing.T) {
	for span := time.Minute; span < 5*365*24*time.Hour; span = span*11/10 + time.Second {
		step := defaultStep(span)
		buckets := float64(span) / float64(step)
		require.LessOrEqual(t, buckets, 120.0, "span %s step %s", span, step)
		require.GreaterOrEqual(t, buckets, 60.0, "span %s step %s", span, step)
	}
	require.Equal(t, time.Second, defaultStep(10*time.Second))
}

// TestStoreErrors checks the mapping of store errors to statuses on every route.
func TestStoreErrors(t *testing.T) {
	routes := []string{
		"logs", "logs/counts", "traces", "traces/" + traceHex, "services", "services/api/span_names",
	}
	tests := []struct {
		err      error
		wantCode int
		wantType string
		logged   bool
	}{
		{errors.New("disk on fire"), http.StatusInternalServerError, "internal", true},
		{context.Canceled, statusClientClosedRequest, "canceled", false},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", false},
	}
	for _, tt := range tests {
		for _, route := range routes {
			t.Run(route+"/"+tt.wantType, func(t *testing.T) {
				var logs bytes.Buffer
				f := &fakeStore{err: tt.err}
				resp := get(t, newTestAPI(f, &logs), "/api/loupe/v1/"+route, tt.wantCode)
				require.Equal(t, tt.wantType, resp.ErrorType)
				require.Contains(t, resp.Error, tt.err.Error())
				require.Equal(t, tt.logged, strings.Contains(logs.String(), "level=ERROR"), "logs: %s", logs.String())
			})
		}
	}
}

// TestCancelledRequestStopsIterator: a client that goes away stops the store's iterator.
func TestCancelledRequestStopsIterator(t *testing.T) {
	f := &fakeStore{endless: true}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, "/api/loupe/v1/logs?limit=10000", nil).WithContext(ctx)
	resp := do(t, newTestAPI(f, nil), req, statusClientClosedRequest)
	require.Equal(t, "canceled", resp.ErrorType)
	require.True(t, f.stopped)

	// Without cancellation, the page limit stops the same endless iterator.
	f = &fakeStore{endless: true}
	resp = get(t, newTestAPI(f, nil), "/api/loupe/v1/logs?limit=5", http.StatusOK)
	require.True(t, f.stopped)
	require.NotEmpty(t, string(mustField(t, resp.Data, "next_cursor")))
}

// TestDriverErrorAfterCancel: a store reporting an interrupted query with its own error
// is still a cancelled request, not a logged 500.
func TestDriverErrorAfterCancel(t *testing.T) {
	var logs bytes.Buffer
	f := &fakeStore{err: errors.New("INTERRUPT Error: Interrupted!")}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, "/api/loupe/v1/services", nil).WithContext(ctx)
	resp := do(t, newTestAPI(f, &logs), req, statusClientClosedRequest)
	require.Equal(t, "canceled", resp.ErrorType)
	require.NotContains(t, logs.String(), "level=ERROR")
}

func TestPanicIsA500WithoutDetails(t *testing.T) {
	var logs bytes.Buffer
	f := &fakeStore{panicMsg: "secret internal state"}
	resp := get(t, newTestAPI(f, &logs), "/api/loupe/v1/logs", http.StatusInternalServerError)
	require.Equal(t, "internal", resp.ErrorType)
	require.NotContains(t, resp.Error, "secret")
	require.Contains(t, logs.String(), "secret internal state")
}

func TestMethodAndRouting(t *testing.T) {
	a := newTestAPI(&fakeStore{}, nil)

	req := httptest.NewRequest(http.MethodPost, "/api/loupe/v1/logs", strings.NewReader("{}"))
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	require.Contains(t, rec.Body.String(), `"errorType":"method_not_allowed"`)

	resp := get(t, a, "/api/loupe/v1/nope", http.StatusNotFound)
	require.Equal(t, "not_found", resp.ErrorType)
	require.Contains(t, resp.Error, "/api/loupe/v1/nope")

	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/api/loupe/v1/services", nil))
	require.Equal(t, http.StatusOK, rec.Code)
}

func TestMissingStores(t *testing.T) {
	a := New(nil, nil, nil)
	for _, route := range []string{"logs", "logs/counts", "traces", "traces/" + traceHex, "services", "services/x/span_names"} {
		resp := get(t, a, "/api/loupe/v1/"+route, http.StatusServiceUnavailable)
		require.Equal(t, "unavailable", resp.ErrorType)
		require.Contains(t, resp.Error, "store")
	}
}
