package tempo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/loupe-dev/loupe/internal/api/tempo/internal/testtraces"
)

// spansByID flattens td into one comparable description per span, so that traces
// regrouped by the store compare equal to what was written.
func spansByID(td ptrace.Traces) map[string]map[string]any {
	out := map[string]map[string]any{}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				sp := ss.Spans().At(k)
				var events, links []string
				for e := 0; e < sp.Events().Len(); e++ {
					ev := sp.Events().At(e)
					b, _ := json.Marshal(ev.Attributes().AsRaw())
					events = append(events, ev.Name()+" "+ev.Timestamp().String()+" "+string(b))
				}
				for l := 0; l < sp.Links().Len(); l++ {
					links = append(links, sp.Links().At(l).TraceID().String()+"/"+sp.Links().At(l).SpanID().String())
				}
				out[sp.SpanID().String()] = map[string]any{
					"trace": sp.TraceID().String(), "parent": sp.ParentSpanID().String(), "name": sp.Name(),
					"kind": sp.Kind().String(), "start": sp.StartTimestamp(), "end": sp.EndTimestamp(),
					"status": sp.Status().Code().String(), "message": sp.Status().Message(),
					"attrs": sp.Attributes().AsRaw(), "events": events, "links": links,
					"resource": rs.Resource().Attributes().AsRaw(), "scope": ss.Scope().Name() + "@" + ss.Scope().Version(),
				}
			}
		}
	}
	return out
}

// checkoutSpans is what the checkout trace must decode to.
func checkoutSpans() map[string]map[string]any {
	all := spansByID(testtraces.Traces())
	delete(all, testtraces.JobSpan)
	return all
}

func TestTraceByIDProtobufDecodesWithPdata(t *testing.T) {
	a, _ := newTestAPI(t)
	for _, accept := range []string{"application/protobuf", "application/x-protobuf", "application/protobuf, application/json"} {
		code, ct, body := get(t, a, "/api/traces/"+testtraces.CheckoutID, "Accept", accept)
		require.Equal(t, http.StatusOK, code, string(body))
		require.Equal(t, "application/protobuf", ct)
		req := ptraceotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalProto(body), "tempopb.Trace must be the OTLP request wire format")
		require.Equal(t, checkoutSpans(), spansByID(req.Traces()))
	}

	// v2 wraps the trace as field 1 of TraceByIDResponse.
	code, _, body := get(t, a, "/api/v2/traces/"+testtraces.CheckoutID, "Accept", "application/protobuf")
	require.Equal(t, http.StatusOK, code)
	num, typ, n := protowire.ConsumeTag(body)
	require.Positive(t, n)
	require.Equal(t, protowire.Number(1), num)
	require.Equal(t, protowire.BytesType, typ)
	inner, m := protowire.ConsumeBytes(body[n:])
	require.Equal(t, len(body)-n, m, "nothing after the trace")
	req := ptraceotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalProto(inner))
	require.Equal(t, checkoutSpans(), spansByID(req.Traces()))
}

// fromTempoJSON turns Tempo's {"batches": ...} back into OTLP JSON and decodes it.
func fromTempoJSON(t *testing.T, b []byte) ptrace.Traces {
	t.Helper()
	require.True(t, bytes.HasPrefix(b, []byte(`{"batches":`)), "%.40s", b)
	otlp := append([]byte(`{"resourceSpans":`), b[len(`{"batches":`):]...)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(otlp)
	require.NoError(t, err)
	return td
}

func TestTraceByIDJSON(t *testing.T) {
	a, _ := newTestAPI(t)
	for _, accept := range []string{"", "application/json", "*/*"} {
		code, ct, body := get(t, a, "/api/traces/"+testtraces.CheckoutID, "Accept", accept)
		require.Equal(t, http.StatusOK, code, string(body))
		require.Equal(t, "application/json", ct)
		require.Equal(t, checkoutSpans(), spansByID(fromTempoJSON(t, body)))
	}
	golden(t, "trace_checkout.json", func() []byte {
		_, _, body := get(t, a, "/api/traces/"+testtraces.CheckoutID)
		var v any
		require.NoError(t, json.Unmarshal(body, &v))
		pretty, err := json.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		return append(pretty, '\n')
	}())

	code, _, body := get(t, a, "/api/v2/traces/"+testtraces.CheckoutID, "Accept", "application/json")
	require.Equal(t, http.StatusOK, code)
	// Tempo 2.6+ answers v2 as TraceByIDResponse whose trace is OTLP JSON (resourceSpans,
	// not the v1 "batches"), with the partial-result status beside it.
	var v2 struct {
		Trace  json.RawMessage `json:"trace"`
		Status string          `json:"status"`
	}
	require.NoError(t, json.Unmarshal(body, &v2))
	require.Equal(t, "COMPLETE", v2.Status)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(v2.Trace)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(v2.Trace, []byte(`{"resourceSpans":`)), "%.40s", v2.Trace)
	require.Equal(t, checkoutSpans(), spansByID(td))

	// A 64-bit id in its 16-digit form is left-padded, as Tempo does.
	code, _, body = get(t, a, "/api/traces/"+strings.TrimLeft(testtraces.JobID, "0"))
	require.Equal(t, http.StatusOK, code, string(body))
	require.Len(t, spansByID(fromTempoJSON(t, body)), 1)
}

func TestTraceByIDErrors(t *testing.T) {
	a, _ := newTestAPI(t)
	f := func(path string, wantCode int, wantMsg string) {
		t.Helper()
		code, _, body := get(t, a, path)
		require.Equal(t, wantCode, code, string(body))
		require.Contains(t, string(body), wantMsg)
	}
	f("/api/traces/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", http.StatusNotFound, "not found")
	f("/api/traces/xyz", http.StatusBadRequest, `trace id "xyz": want 1 to 32 hex digits`)
	f("/api/traces/"+strings.Repeat("a", 33), http.StatusBadRequest, "want 1 to 32 hex digits")
	f("/api/traces/0000", http.StatusBadRequest, "all zeros")
	f("/api/v2/traces/nothex", http.StatusBadRequest, "hex digits")
	f("/api/traces/", http.StatusNotFound, "404 page not found")

	req, _ := http.NewRequest(http.MethodPost, "/api/search", nil)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}

// search runs /api/search with params and returns the trace ids found, in order.
func search(t *testing.T, a *API, params url.Values) []string {
	t.Helper()
	code, ct, body := get(t, a, "/api/search?"+params.Encode())
	require.Equal(t, http.StatusOK, code, string(body))
	require.Equal(t, "application/json", ct)
	var resp searchResponse
	require.NoError(t, json.Unmarshal(body, &resp))
	ids := []string{}
	for _, tr := range resp.Traces {
		ids = append(ids, tr.TraceID)
		// The in-memory span matcher must agree with the store's SQL filter.
		require.Len(t, tr.SpanSets, 1)
		require.Positive(t, tr.SpanSets[0].Matched, "trace %s found by the store but no span matched in Go (params %v)", tr.TraceID, params)
	}
	return ids
}

func TestSearch(t *testing.T) {
	a, _ := newTestAPI(t)
	const both, checkout, job = "both", testtraces.CheckoutID, testtraces.JobID
	f := func(want string, kv ...string) {
		t.Helper()
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		wantIDs := []string{}
		switch want {
		case both:
			wantIDs = []string{job, checkout} // most recent first
		case "":
		default:
			wantIDs = []string{want}
		}
		require.Equal(t, wantIDs, search(t, a, v), "params %v", v)
	}
	f(both)
	f(both, "q", "{}")
	f(both, "q", "{ }", "limit", "5")
	f(job, "limit", "1")
	f(checkout, "q", `{ resource.service.name = "api" }`)
	f(checkout, "q", `{resource.service.name="db" && span.db.system="postgresql" && duration > 100ms && status = error}`)
	f("", "q", `{resource.service.name="api" && status = error}`) // one span must match every condition
	f(checkout, "q", `{ .http.route = "/users" && span.http.status_code = 500 }`)
	f(checkout, "q", `{ span.http.route =~ "/us.*" && name = "GET /users" }`)
	f(job, "q", `{ resource.service.name != "api" && resource.service.name != "db" }`)
	f(job, "q", "{ duration < 100ms }")
	f(job, "q", "{ duration <= 10ms }")
	f("", "q", "{ duration < 10ms }")
	f(checkout, "q", "{ duration >= 150ms }")
	f("", "q", "{ duration > 150ms }")
	f(checkout, "q", "{ duration > 11ms }", "maxDuration", "130ms")
	f(job, "q", "{ span.job.queue = `default` }")
	f(checkout, "tags", `service.name=db db.system=postgresql`)
	f(checkout, "tags", `name="GET /users" http.status_code=500`)
	f(checkout, "tags", `error=true`)
	f(checkout, "tags", `status.code=error`)
	f(job, "minDuration", "1ms", "maxDuration", "10ms")
	f(checkout, "minDuration", "100ms")
	// Range in unix seconds: the job trace starts 5 minutes after the checkout trace.
	base := testtraces.Base.Unix()
	f(checkout, "start", itoa(base-60), "end", itoa(base+60))
	f(job, "start", itoa(base+60), "end", itoa(base+600))
	f(job, "start", itoa(base+300), "end", itoa(base+300)) // end is inclusive to the second
	f("", "start", itoa(base-7200), "end", itoa(base-3600))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestSearchResponseGolden(t *testing.T) {
	a, _ := newTestAPI(t)
	code, _, body := get(t, a, "/api/search?q="+url.QueryEscape(`{resource.service.name="api"}`)+"&limit=20")
	require.Equal(t, http.StatusOK, code)
	golden(t, "search_api.json", body)

	// Two spans of the checkout trace are longer than 50ms; one has http.route, which !=
	// requires (a span without the attribute does not match, as in Tempo); the
	// attributes named in the query are listed.
	code, _, body = get(t, a, "/api/search?q="+url.QueryEscape(`{duration > 50ms && .http.route != "/x"}`)+"&spss=1")
	require.Equal(t, http.StatusOK, code)
	golden(t, "search_spss.json", body)
}

func TestSearchErrors(t *testing.T) {
	a, _ := newTestAPI(t)
	f := func(params, wantMsg string) {
		t.Helper()
		code, _, body := get(t, a, "/api/search?"+params)
		require.Equal(t, http.StatusBadRequest, code, string(body))
		require.Contains(t, string(body), wantMsg)
	}
	q := func(s string) string { return "q=" + url.QueryEscape(s) }
	f(q(`{ .a = "x" } | by(.b)`), `("by"): supported pipeline stages are`)
	f(q(`{ kind = fast }`), `kind supports`)
	f(q(`{ event.name = "x" }`), `("event.name"): supported fields are`)
	f(q(`{ status > error }`), "status supports = and !=")
	f(q(`{ name =~ 5 }`), `needs a quoted regular expression`)
	f(q(`{ duration > fast }`), `duration "fast"`)
	f(q(`{ .a = "x"`), "unexpected end of query")
	f(q(`{ .a = "x }`), "unterminated string")
	f(q(`.a = "x"`), "want a spanset filter { ... }")
	f(q(`{ .a = x }`), "must be a quoted string")
	f(q(`{}`)+"&tags=a=b", "exclusive")
	f("tags="+url.QueryEscape(`a`), `key "a" at offset 0 has no =value`)
	f("tags="+url.QueryEscape(`a="x`), "unterminated string")
	f("tags="+url.QueryEscape(`status.code=ok`), "only error spans")
	f("minDuration=fast", `parameter minDuration: "fast"`)
	f("minDuration=2s&maxDuration=1s", "less than minDuration")
	f("limit=0", "parameter limit: 0")
	f("spss=0", "parameter spss: 0")
	f("limit=x", `parameter limit: "x"`)
	f("start=abc", "parameter start")
	f("start=100&end=50", "start 100 is after end 50")
	f(q(`{ span.a =~ "(" }`), "bad regexp")
}

// TestPathsMountBesideOtherAPIs mounts Paths on one mux with the other APIs of the server
// port, as the server does: Go's mux panics on overlapping patterns.
func TestPathsMountBesideOtherAPIs(t *testing.T) {
	a, _ := newTestAPI(t)
	mux := http.NewServeMux()
	other := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, p := range []string{"/api/v1/", "/api/loupe/v1/", "/jaeger/", "/loki/api/v1/", "GET /metrics", "GET /{$}", "/ingest"} {
		mux.Handle(p, other)
	}
	for _, p := range Paths() {
		require.NotPanics(t, func() { mux.Handle(p, a) }, p)
	}
	for path, want := range map[string]int{
		"/api/search":                     http.StatusOK,
		"/api/echo":                       http.StatusOK,
		"/api/v2/search/tag/name/values":  http.StatusOK,
		"/api/traces/" + testtraces.JobID: http.StatusOK,
		"/api/traces/a/b":                 http.StatusNotFound, // not a subtree: other APIs may use the rest of /api/
		"/api/v1/query":                   http.StatusTeapot,
	} {
		code, _, body := get(t, mux, path)
		require.Equal(t, want, code, "%s: %s", path, body)
	}
}
