package jaeger

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/tempo/internal/testtraces"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func newTestAPI(t *testing.T) *API {
	t.Helper()
	st, err := duck.Open(filepath.Join(t.TempDir(), "loupe.duckdb"), duck.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.WriteTraces(context.Background(), testtraces.Traces()))
	a := New(st, nil)
	a.now = func() time.Time { return testtraces.Base.Add(10 * time.Minute) }
	return a
}

// get requests target (a path under Prefix) and decodes the Jaeger envelope.
func get(t *testing.T, a *API, target string) (int, response, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var resp response
	require.NoError(t, json.Unmarshal(body, &resp), string(body))
	return rec.Code, resp, body
}

func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	got, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	require.Equal(t, string(want), string(got), "response differs from %s (go test -update rewrites it)", path)
}

func TestServicesAndOperations(t *testing.T) {
	a := newTestAPI(t)
	code, resp, _ := get(t, a, "/jaeger/api/services")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{"api", "db", "worker"}, resp.Data)
	require.Equal(t, 3, resp.Total)
	require.Nil(t, resp.Errors)

	_, resp, _ = get(t, a, "/jaeger/api/services/api/operations")
	require.Equal(t, []any{"GET /users"}, resp.Data)
	_, resp, _ = get(t, a, "/jaeger/api/services/nobody/operations")
	require.Equal(t, []any{}, resp.Data)

	// Span kinds come from the service's spans, and spanKind filters by them.
	_, resp, _ = get(t, a, "/jaeger/api/operations?service=db&spanKind=client")
	require.Equal(t, []any{map[string]any{"name": "SELECT", "spanKind": "client"}}, resp.Data)
	_, resp, _ = get(t, a, "/jaeger/api/operations?service=db&spanKind=server")
	require.Equal(t, []any{}, resp.Data)
	_, resp, _ = get(t, a, "/jaeger/api/operations?service=api")
	require.Equal(t, []any{map[string]any{"name": "GET /users", "spanKind": "server"}}, resp.Data)
	code, resp, _ = get(t, a, "/jaeger/api/operations")
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, []respError{{Code: 400, Msg: "parameter 'service' is required"}}, resp.Errors)

	_, resp, _ = get(t, a, "/jaeger/api/dependencies?endTs=1&lookback=2")
	require.Equal(t, []any{}, resp.Data)
}

// TestDependencies counts parent/child spans of different services: in the checkout trace
// api's "GET /users" is the parent of db's "SELECT".
func TestDependencies(t *testing.T) {
	a := newTestAPI(t)
	want := []any{map[string]any{"parent": "api", "child": "db", "callCount": float64(1)}}
	code, resp, body := get(t, a, "/jaeger/api/dependencies")
	require.Equal(t, http.StatusOK, code, string(body))
	require.Equal(t, want, resp.Data)
	end := testtraces.Base.Add(time.Minute).UnixMilli()
	_, resp, _ = get(t, a, "/jaeger/api/dependencies?endTs="+strconv.FormatInt(end, 10)+"&lookback=120000")
	require.Equal(t, want, resp.Data)
	_, resp, _ = get(t, a, "/jaeger/api/dependencies?endTs="+strconv.FormatInt(end-120000, 10)+"&lookback=1000")
	require.Equal(t, []any{}, resp.Data)
	for _, bad := range []string{"endTs=x", "lookback=0", "lookback=-5", "lookback=1h"} {
		code, resp, _ = get(t, a, "/jaeger/api/dependencies?"+bad)
		require.Equal(t, http.StatusBadRequest, code, bad)
		require.Contains(t, resp.Errors[0].Msg, "parameter", bad)
	}
}

func TestGetTraceGolden(t *testing.T) {
	a := newTestAPI(t)
	code, resp, body := get(t, a, "/jaeger/api/traces/"+testtraces.CheckoutID)
	require.Equal(t, http.StatusOK, code, string(body))
	require.Equal(t, 1, resp.Total)
	golden(t, "trace_checkout.json", body)

	// The 16-digit form of a 64-bit id finds the trace.
	code, resp, _ = get(t, a, "/jaeger/api/traces/4bf92f3577b34da6")
	require.Equal(t, http.StatusOK, code)
	trace := resp.Data.([]any)[0].(map[string]any)
	require.Equal(t, testtraces.JobID, trace["traceID"])
}

func TestGetTraceErrors(t *testing.T) {
	a := newTestAPI(t)
	f := func(path string, wantCode int, wantMsg string) {
		t.Helper()
		code, resp, body := get(t, a, path)
		require.Equal(t, wantCode, code, string(body))
		require.Len(t, resp.Errors, 1)
		require.Equal(t, wantCode, resp.Errors[0].Code)
		require.Contains(t, resp.Errors[0].Msg, wantMsg)
		require.Nil(t, resp.Data)
	}
	f("/jaeger/api/traces/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", http.StatusNotFound, "trace not found")
	f("/jaeger/api/traces/zz", http.StatusBadRequest, `trace id "zz"`)
	f("/jaeger/api/traces?traceID=zz", http.StatusBadRequest, "parameter traceID")
	f("/jaeger/api/nothing", http.StatusNotFound, "no endpoint /jaeger/api/nothing")
	f("/jaeger/api/traces?service=api&tags=notjson", http.StatusBadRequest, "parameter tags: want a JSON object")
	f("/jaeger/api/traces?service=api&tags="+url.QueryEscape(`{"a":[1]}`), http.StatusBadRequest, `value of "a"`)
	f("/jaeger/api/traces?service=api&tag=novalue", http.StatusBadRequest, `parameter tag: "novalue"`)
	f("/jaeger/api/traces?minDuration=1", http.StatusBadRequest, `parameter minDuration: "1"`)
	f("/jaeger/api/traces?minDuration=2s&maxDuration=1s", http.StatusBadRequest, "less than minDuration")
	f("/jaeger/api/traces?start=x", http.StatusBadRequest, "not unix microseconds")
	f("/jaeger/api/traces?start=20&end=10", http.StatusBadRequest, "not before end")
	f("/jaeger/api/traces?limit=-1", http.StatusBadRequest, "parameter limit")
	f("/jaeger/api/traces?lookback=soon", http.StatusBadRequest, "parameter lookback")
}

func TestFindTraces(t *testing.T) {
	a := newTestAPI(t)
	base := testtraces.Base.UnixMicro()
	f := func(params url.Values, want ...string) {
		t.Helper()
		code, resp, body := get(t, a, "/jaeger/api/traces?"+params.Encode())
		require.Equal(t, http.StatusOK, code, string(body))
		got := []string{}
		for _, tr := range resp.Data.([]any) {
			tm := tr.(map[string]any)
			got = append(got, tm["traceID"].(string))
			require.NotEmpty(t, tm["spans"])
		}
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, got, "params %v", params)
		require.Equal(t, len(want), resp.Total)
	}
	v := func(kv ...string) url.Values {
		out := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	f(v(), testtraces.JobID, testtraces.CheckoutID)
	f(v("service", "api"), testtraces.CheckoutID)
	f(v("service", "api", "operation", "GET /users"), testtraces.CheckoutID)
	f(v("service", "api", "operation", "SELECT"))
	f(v("service", "db", "tags", `{"error":"true"}`), testtraces.CheckoutID)
	f(v("service", "worker", "tags", `{"error":true}`))
	f(v("tags", `{"http.status_code":500}`), testtraces.CheckoutID)
	f(v("tags", `{"http.status_code":"404"}`))
	f(v("tag", "job.queue:default"), testtraces.JobID)
	f(v("minDuration", "100ms"), testtraces.CheckoutID)
	f(v("maxDuration", "50ms"), testtraces.JobID)
	f(v("limit", "1"), testtraces.JobID)
	f(v("start", strconv.FormatInt(base, 10), "end", strconv.FormatInt(base+60e6, 10)), testtraces.CheckoutID)
	f(v("start", strconv.FormatInt(base-7200e6, 10), "end", strconv.FormatInt(base-3600e6, 10)))
	f(v("traceID", testtraces.CheckoutID, "traceID", "ffff"), testtraces.CheckoutID)
}

func TestNoTraceStore(t *testing.T) {
	a := New(nil, nil)
	code, resp, _ := get(t, a, "/jaeger/api/services")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "this server has no trace store", resp.Errors[0].Msg)

	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/jaeger/api/services", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
