package native

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// testTrace is one trace of three spans over two services, stored out of start order.
func testTrace(t testing.TB) ptrace.Traces {
	t.Helper()
	tid := mustTraceID(t, traceHex)
	base := pcommon.NewTimestampFromTime(time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC))
	td := ptrace.NewTraces()

	db := td.ResourceSpans().AppendEmpty()
	db.Resource().Attributes().PutStr("service.name", "db")
	dss := db.ScopeSpans().AppendEmpty()
	dss.Scope().SetName("sql")
	q := dss.Spans().AppendEmpty()
	q.SetTraceID(tid)
	q.SetSpanID(mustSpanID(t, "0000000000000003"))
	q.SetParentSpanID(mustSpanID(t, "0000000000000002"))
	q.SetName("SELECT")
	q.SetKind(ptrace.SpanKindClient)
	q.SetStartTimestamp(base + 20e6)
	q.SetEndTimestamp(base + 70e6)
	q.Status().SetCode(ptrace.StatusCodeError)
	q.Status().SetMessage("deadlock")
	q.Attributes().PutDouble("db.ratio", math.NaN())
	ev := q.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(base + 60e6)
	ev.Attributes().PutStr("exception.message", "deadlock detected")

	api := td.ResourceSpans().AppendEmpty()
	api.Resource().Attributes().PutStr("service.name", "api")
	ass := api.ScopeSpans().AppendEmpty()
	ass.Scope().SetName("http")
	ass.Scope().SetVersion("1.0")
	handler := ass.Spans().AppendEmpty()
	handler.SetTraceID(tid)
	handler.SetSpanID(mustSpanID(t, "0000000000000002"))
	handler.SetParentSpanID(mustSpanID(t, "0000000000000001"))
	handler.SetName("handler")
	handler.SetStartTimestamp(base + 10e6)
	handler.SetEndTimestamp(base + 90e6)
	link := handler.Links().AppendEmpty()
	link.SetTraceID(mustTraceID(t, strings.Repeat("ab", 16)))
	link.SetSpanID(mustSpanID(t, strings.Repeat("cd", 8)))
	root := ass.Spans().AppendEmpty()
	root.SetTraceID(tid)
	root.SetSpanID(mustSpanID(t, "0000000000000001"))
	root.SetName("GET /users")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(base)
	root.SetEndTimestamp(base + 100e6)
	root.Attributes().PutInt("http.status_code", 500)
	root.Status().SetCode(ptrace.StatusCodeOk)
	return td
}

func TestGetTrace(t *testing.T) {
	f := &fakeStore{traces: map[pcommon.TraceID]ptrace.Traces{mustTraceID(t, traceHex): testTrace(t)}}
	a := newTestAPI(f, nil)
	resp := get(t, a, "/api/loupe/v1/traces/"+traceHex, http.StatusOK)
	require.JSONEq(t, `{
		"trace_id": "`+traceHex+`",
		"services": ["api", "db"],
		"start": "2026-11-22T11:00:00Z",
		"start_unix_nano": "1795345200000000000",
		"duration_ns": 100000000,
		"spans": [
			{"span_id": "0000000000000001", "name": "GET /users", "kind": "server", "service": "api",
			 "start_unix_nano": "1795345200000000000", "end_unix_nano": "1795345200100000000",
			 "duration_ns": 100000000, "status": {"code": "ok"},
			 "attributes": {"http.status_code": 500}, "resource": {"service.name": "api"},
			 "scope": {"name": "http", "version": "1.0"}, "events": [], "links": []},
			{"span_id": "0000000000000002", "parent_span_id": "0000000000000001", "name": "handler",
			 "kind": "unspecified", "service": "api",
			 "start_unix_nano": "1795345200010000000", "end_unix_nano": "1795345200090000000",
			 "duration_ns": 80000000, "status": {"code": "unset"},
			 "attributes": {}, "resource": {"service.name": "api"},
			 "scope": {"name": "http", "version": "1.0"}, "events": [],
			 "links": [{"trace_id": "`+strings.Repeat("ab", 16)+`", "span_id": "`+strings.Repeat("cd", 8)+`", "attributes": {}}]},
			{"span_id": "0000000000000003", "parent_span_id": "0000000000000002", "name": "SELECT",
			 "kind": "client", "service": "db",
			 "start_unix_nano": "1795345200020000000", "end_unix_nano": "1795345200070000000",
			 "duration_ns": 50000000, "status": {"code": "error", "message": "deadlock"},
			 "attributes": {"db.ratio": "NaN"}, "resource": {"service.name": "db"},
			 "scope": {"name": "sql"},
			 "events": [{"time": "2026-11-22T11:00:00.06Z", "time_unix_nano": "1795345200060000000",
			             "name": "exception", "attributes": {"exception.message": "deadlock detected"}}],
			 "links": []}
		]
	}`, string(resp.Data))

	// Upper-case ids are accepted.
	get(t, a, "/api/loupe/v1/traces/"+strings.ToUpper(traceHex), http.StatusOK)
}

func TestGetTraceOTLP(t *testing.T) {
	want := testTrace(t)
	f := &fakeStore{traces: map[pcommon.TraceID]ptrace.Traces{mustTraceID(t, traceHex): want}}
	rec := httptest.NewRecorder()
	newTestAPI(f, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/loupe/v1/traces/"+traceHex+"?format=otlp", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	got, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(rec.Body.Bytes())
	require.NoError(t, err)
	require.Equal(t, want.SpanCount(), got.SpanCount())
	require.Equal(t, "db", got.ResourceSpans().At(0).Resource().Attributes().AsRaw()["service.name"])
	require.Contains(t, rec.Body.String(), `"resourceSpans"`)
}

func TestGetTraceErrors(t *testing.T) {
	f := &fakeStore{traces: map[pcommon.TraceID]ptrace.Traces{
		mustTraceID(t, traceHex):                 testTrace(t),
		mustTraceID(t, strings.Repeat("12", 16)): ptrace.NewTraces(), // a store answering "no spans" without ErrNotFound
	}}
	tests := []struct {
		path     string
		wantCode int
		wantType string
		wantErr  string
	}{
		{"traces/" + strings.Repeat("ff", 16), http.StatusNotFound, "not_found", "trace " + strings.Repeat("ff", 16) + " not found"},
		{"traces/" + strings.Repeat("12", 16), http.StatusNotFound, "not_found", "not found"},
		{"traces/abc", http.StatusBadRequest, "bad_data", `trace id in path: "abc" is not 32 hex digits`},
		{"traces/" + strings.Repeat("x", 32), http.StatusBadRequest, "bad_data", "is not 32 hex digits"},
		{"traces/" + strings.Repeat("0", 32), http.StatusBadRequest, "bad_data", "all zeros"},
		{"traces/" + traceHex + "?format=xml", http.StatusBadRequest, "bad_data", `parameter "format": "xml" is not json or otlp`},
		{"traces/" + traceHex + "?limit=3", http.StatusBadRequest, "bad_data", `unknown parameter "limit"`},
		{"traces/" + traceHex + "/extra", http.StatusNotFound, "not_found", "no endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp := get(t, newTestAPI(f, nil), "/api/loupe/v1/"+tt.path, tt.wantCode)
			require.Equal(t, tt.wantType, resp.ErrorType)
			require.Contains(t, resp.Error, tt.wantErr)
		})
	}
}

func TestFindTracesParams(t *testing.T) {
	def := store.TraceQuery{Start: testNow.Add(-time.Hour), End: testNow, Limit: 20}
	tests := []struct {
		query string
		want  func(q store.TraceQuery) store.TraceQuery
	}{
		{"", nil},
		{"service=api&span_name=GET+/users", func(q store.TraceQuery) store.TraceQuery {
			q.Service, q.SpanName = "api", "GET /users"
			return q
		}},
		{"attr=http.status_code%3D500&attr=user.id%3D~u-.*", func(q store.TraceQuery) store.TraceQuery {
			q.Attrs = []store.AttrFilter{
				{Key: "http.status_code", Op: store.MatchEqual, Value: "500"},
				{Key: "user.id", Op: store.MatchRegexp, Value: "u-.*"},
			}
			return q
		}},
		{"min_duration=100ms&max_duration=1.5s", func(q store.TraceQuery) store.TraceQuery {
			q.MinDuration, q.MaxDuration = 100*time.Millisecond, 1500*time.Millisecond
			return q
		}},
		{"min_duration=2m&max_duration=1d", func(q store.TraceQuery) store.TraceQuery {
			q.MinDuration, q.MaxDuration = 2*time.Minute, 24*time.Hour
			return q
		}},
		{"min_duration=0.25", func(q store.TraceQuery) store.TraceQuery { q.MinDuration = 250 * time.Millisecond; return q }},
		{"errors=true", func(q store.TraceQuery) store.TraceQuery { q.ErrorsOnly = true; return q }},
		{"errors=false", nil},
		{"limit=1000", func(q store.TraceQuery) store.TraceQuery { q.Limit = 1000; return q }},
		{"start=now-6h&end=now-1h", func(q store.TraceQuery) store.TraceQuery {
			q.Start, q.End = testNow.Add(-6*time.Hour), testNow.Add(-time.Hour)
			return q
		}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			want := def
			if tt.want != nil {
				want = tt.want(want)
			}
			f := &fakeStore{}
			get(t, newTestAPI(f, nil), "/api/loupe/v1/traces?"+tt.query, http.StatusOK)
			require.Equal(t, []store.TraceQuery{want}, f.traceQueries)
		})
	}
}

func TestFindTracesBadParams(t *testing.T) {
	tests := []struct{ query, wantErr string }{
		{"min_duration=abc", `parameter "min_duration": time: invalid duration "abc"`},
		{"max_duration=-5s", `parameter "max_duration": duration "-5s" is negative`},
		{"min_duration=2s&max_duration=1s", `parameter "max_duration": 1s is less than min_duration 2s`},
		{"errors=maybe", `parameter "errors": "maybe" is not true or false`},
		{"limit=1001", `parameter "limit": 1001 is out of range, want 1 to 1000`},
		{"service=a&service=b", `parameter "service": given 2 times`},
		{"attr=x", `parameter "attr": "x" has no operator`},
		{"start=soon", `parameter "start": cannot parse "soon" as a time`},
		{"severity=warn", `unknown parameter "severity"`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			f := &fakeStore{}
			resp := get(t, newTestAPI(f, nil), "/api/loupe/v1/traces?"+tt.query, http.StatusBadRequest)
			require.Equal(t, "bad_data", resp.ErrorType)
			require.Contains(t, resp.Error, tt.wantErr)
			require.Empty(t, f.traceQueries)
		})
	}
}

func TestFindTracesResponse(t *testing.T) {
	f := &fakeStore{}
	for i := range 5 {
		f.summaries = append(f.summaries, store.TraceSummary{
			TraceID:      mustTraceID(t, strings.Repeat("0", 31)+string(rune('1'+i))),
			RootService:  "api",
			RootSpanName: "GET /users",
			Start:        time.Date(2026, 11, 22, 11, 0, i, 0, time.UTC),
			Duration:     1500 * time.Millisecond,
			SpanCount:    3,
			ErrorCount:   i % 2,
			Services:     []string{"api", "db"},
		})
	}
	f.summaries[4].Services = nil
	resp := get(t, newTestAPI(f, nil), "/api/loupe/v1/traces?limit=2", http.StatusOK)
	require.JSONEq(t, `{"start": "2026-11-22T11:00:00Z", "end": "2026-11-22T12:00:00Z", "traces": [
		{"trace_id": "00000000000000000000000000000001", "root_service": "api", "root_span_name": "GET /users",
		 "start": "2026-11-22T11:00:00Z", "start_unix_nano": "1795345200000000000", "duration_ns": 1500000000,
		 "span_count": 3, "error_count": 0, "services": ["api", "db"]},
		{"trace_id": "00000000000000000000000000000002", "root_service": "api", "root_span_name": "GET /users",
		 "start": "2026-11-22T11:00:01Z", "start_unix_nano": "1795345201000000000", "duration_ns": 1500000000,
		 "span_count": 3, "error_count": 1, "services": ["api", "db"]}
	]}`, string(resp.Data), "the fake ignores the limit; the handler must not")
	require.True(t, f.stopped)

	resp = get(t, newTestAPI(f, nil), "/api/loupe/v1/traces", http.StatusOK)
	var data tracesData
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.Len(t, data.Traces, 5)
	require.Equal(t, []string{}, data.Traces[4].Services)

	resp = get(t, newTestAPI(&fakeStore{}, nil), "/api/loupe/v1/traces", http.StatusOK)
	require.JSONEq(t, `{"start": "2026-11-22T11:00:00Z", "end": "2026-11-22T12:00:00Z", "traces": []}`, string(resp.Data))
}

func TestServicesAndSpanNames(t *testing.T) {
	f := &fakeStore{
		services:  []string{"api", "a/b", "db"},
		spanNames: map[string][]string{"api": {"GET /users", "POST /users"}, "a/b": {"x"}},
	}
	a := newTestAPI(f, nil)
	resp := get(t, a, "/api/loupe/v1/services", http.StatusOK)
	require.JSONEq(t, `["api", "a/b", "db"]`, string(resp.Data))

	resp = get(t, a, "/api/loupe/v1/services/api/span_names", http.StatusOK)
	require.JSONEq(t, `["GET /users", "POST /users"]`, string(resp.Data))

	resp = get(t, a, "/api/loupe/v1/services/a%2Fb/span_names", http.StatusOK)
	require.JSONEq(t, `["x"]`, string(resp.Data))

	resp = get(t, a, "/api/loupe/v1/services/db/span_names", http.StatusOK)
	require.JSONEq(t, `[]`, string(resp.Data))
	require.Equal(t, []string{"api", "a/b", "db"}, f.spanNamesFor)

	resp = get(t, newTestAPI(&fakeStore{}, nil), "/api/loupe/v1/services", http.StatusOK)
	require.JSONEq(t, `[]`, string(resp.Data))

	resp = get(t, a, "/api/loupe/v1/services?x=1", http.StatusBadRequest)
	require.Contains(t, resp.Error, `unknown parameter "x" (this endpoint takes no parameters)`)
}
