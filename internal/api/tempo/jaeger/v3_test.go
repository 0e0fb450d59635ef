package jaeger

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/api/tempo/internal/testtraces"
)

// getV3 requests target and returns the status and body, which must be JSON.
func getV3(t *testing.T, a *API, target string) (int, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.True(t, json.Valid(body), string(body))
	return rec.Code, body
}

// spanNames decodes the gateway's {"result": TracesData} with the OTLP JSON decoder.
func spanNames(t *testing.T, body []byte) []string {
	t.Helper()
	var w struct {
		Result json.RawMessage `json:"result"`
	}
	require.NoError(t, json.Unmarshal(body, &w))
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(w.Result)
	require.NoError(t, err)
	names := []string{}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				names = append(names, sp.Name())
			}
		}
	}
	return names
}

func TestAPIv3(t *testing.T) {
	a := newTestAPI(t)
	code, body := getV3(t, a, "/jaeger/api/v3/services")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"services":["api","db","worker"]}`, string(body))

	code, body = getV3(t, a, "/jaeger/api/v3/operations?service=db")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"operations":[{"name":"SELECT","spanKind":"client"}]}`, string(body))
	_, body = getV3(t, a, "/jaeger/api/v3/operations?service=db&span_kind=server")
	require.JSONEq(t, `{"operations":[]}`, string(body))
	_, body = getV3(t, a, "/jaeger/api/v3/operations?service=worker&spanKind=internal")
	require.JSONEq(t, `{"operations":[{"name":"job","spanKind":"internal"}]}`, string(body))

	code, body = getV3(t, a, "/jaeger/api/v3/traces/"+testtraces.CheckoutID)
	require.Equal(t, http.StatusOK, code, string(body))
	require.ElementsMatch(t, []string{"GET /users", "SELECT"}, spanNames(t, body))
	require.Contains(t, string(body), `"traceId":"`+testtraces.CheckoutID+`"`, "ids are hex, as OTLP JSON writes them")

	rfc := func(d time.Duration) string { return testtraces.Base.Add(d).Format(time.RFC3339Nano) }
	find := func(kv ...string) (int, []byte) {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return getV3(t, a, "/jaeger/api/v3/traces?"+v.Encode())
	}
	code, body = find("query.serviceName", "api", "query.startTimeMin", rfc(-time.Hour), "query.startTimeMax", rfc(time.Hour))
	require.Equal(t, http.StatusOK, code, string(body))
	require.ElementsMatch(t, []string{"GET /users", "SELECT"}, spanNames(t, body), "whole traces")
	// The snake_case names Jaeger still accepts, attributes, durations and search depth.
	code, body = find("query.service_name", "db", "query.start_time_min", rfc(-time.Hour), "query.start_time_max", rfc(time.Hour),
		"query.attributes", `{"db.system":"postgresql","error":"true"}`, "query.duration_min", "100ms", "query.search_depth", "5")
	require.Equal(t, http.StatusOK, code, string(body))
	require.ElementsMatch(t, []string{"GET /users", "SELECT"}, spanNames(t, body))
	code, body = find("query.startTimeMin", rfc(-time.Hour), "query.startTimeMax", rfc(time.Hour), "query.searchDepth", "1")
	require.Equal(t, http.StatusOK, code, string(body))
	require.Equal(t, []string{"job"}, spanNames(t, body), "the most recent trace")

	errCase := func(wantCode int, wantMsg string, code int, body []byte) {
		t.Helper()
		require.Equal(t, wantCode, code, string(body))
		var e v3Error
		require.NoError(t, json.Unmarshal(body, &e))
		require.Equal(t, wantCode, e.Error.HTTPCode)
		require.Contains(t, e.Error.Message, wantMsg)
	}
	code, body = find("query.serviceName", "nobody", "query.startTimeMin", rfc(-time.Hour), "query.startTimeMax", rfc(time.Hour))
	errCase(http.StatusNotFound, "No traces found", code, body)
	code, body = find("query.serviceName", "api")
	errCase(http.StatusBadRequest, "query.startTimeMin and query.startTimeMax are required", code, body)
	code, body = find("query.startTimeMin", "yesterday", "query.startTimeMax", rfc(0))
	errCase(http.StatusBadRequest, "malformed parameter query.startTimeMin", code, body)
	code, body = find("query.start_time_min", rfc(0), "query.start_time_max", rfc(-time.Hour))
	errCase(http.StatusBadRequest, "is before", code, body)
	code, body = find("query.startTimeMin", rfc(0), "query.startTimeMax", rfc(time.Hour), "query.attributes", "[1]")
	errCase(http.StatusBadRequest, "malformed parameter query.attributes", code, body)
	code, body = find("query.startTimeMin", rfc(0), "query.startTimeMax", rfc(time.Hour), "query.duration_min", "5")
	errCase(http.StatusBadRequest, "malformed parameter query.duration_min", code, body)
	code, body = find("query.startTimeMin", rfc(0), "query.startTimeMax", rfc(time.Hour), "query.num_traces", "x")
	errCase(http.StatusBadRequest, "malformed parameter query.num_traces", code, body)
	code, body = find("query.startTimeMin", rfc(0), "query.startTimeMax", rfc(time.Hour), "query.rawTraces", "maybe")
	errCase(http.StatusBadRequest, "malformed parameter query.rawTraces", code, body)
	code, body = getV3(t, a, "/jaeger/api/v3/traces/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	errCase(http.StatusNotFound, "trace not found", code, body)
	code, body = getV3(t, a, "/jaeger/api/v3/traces/xyz")
	errCase(http.StatusBadRequest, "malformed parameter trace_id", code, body)
	code, body = getV3(t, a, "/jaeger/api/v3/traces/"+testtraces.CheckoutID+"?startTime=x")
	errCase(http.StatusBadRequest, "malformed parameter startTime", code, body)
	code, body = getV3(t, a, "/jaeger/api/v3/operations")
	errCase(http.StatusBadRequest, "parameter service is required", code, body)

	code, body = getV3(t, New(nil, nil), "/jaeger/api/v3/services")
	errCase(http.StatusServiceUnavailable, "no trace store", code, body)
}

// FuzzQueryParams feeds arbitrary query strings to the v1 and v3 search parameter
// parsers: they answer a query or a 400, never panic, and an accepted range is ordered.
func FuzzQueryParams(f *testing.F) {
	for _, s := range []string{
		"service=api&tags=%7B%22a%22%3A1%7D&minDuration=1ms&limit=5&lookback=2h",
		"tag=a:b&tag=c&start=1&end=0", "tags=%7B%22a%22%3A%5B1%5D%7D",
		"query.serviceName=a&query.startTimeMin=2026-01-01T00:00:00Z&query.startTimeMax=2026-01-02T00:00:00Z&query.attributes=%7B%7D",
		"query.start_time_min=x&query.num_traces=-1", "query.durationMin=5&query.rawTraces=1",
	} {
		f.Add(s)
	}
	a := &API{now: func() time.Time { return testtraces.Base }}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if q, err := a.traceQuery(v); err == nil {
			require.True(t, q.Start.Before(q.End))
			require.Positive(t, q.Limit)
		}
		if q, err := queryV3(v); err == nil {
			require.False(t, q.End.Before(q.Start))
			require.Positive(t, q.Limit)
			require.False(t, q.MaxDuration > 0 && q.MaxDuration < q.MinDuration)
		}
	})
}
