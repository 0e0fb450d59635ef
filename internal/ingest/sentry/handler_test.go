package sentry

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/runs"
)

const (
	keyAPI    = "0123456789abcdef0123456789abcdef"
	keyWorker = "fedcba9876543210fedcba9876543210"
)

type fakeSinks struct {
	mu     sync.Mutex
	events []errtrack.Event
	traces []ptrace.Traces
	runs   []runs.Run
	err    error
}

func (f *fakeSinks) Record(_ context.Context, evs []errtrack.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.events = append(f.events, evs...)
	return nil
}

func (f *fakeSinks) ConsumeTraces(_ context.Context, td ptrace.Traces) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.traces = append(f.traces, td)
	return nil
}

func (f *fakeSinks) UpsertRuns(_ context.Context, rs []runs.Run) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, rs...)
	return nil
}

func newTestHandler(t *testing.T, cfg Config) (*Handler, *fakeSinks) {
	t.Helper()
	if cfg.Projects == nil {
		cfg.Projects = []Project{{ID: "1", Name: "api", Keys: []string{keyAPI}}, {ID: "2", Name: "worker", Keys: []string{keyWorker}}}
	}
	require.NoError(t, cfg.Validate())
	p, err := NewProjects(cfg, "")
	require.NoError(t, err)
	sinks := &fakeSinks{}
	h := NewHandler(p, Sinks{Events: sinks, Spans: sinks, Runs: sinks}, DefaultOptions(), nil, nil)
	return h, sinks
}

type answer struct {
	status int
	body   map[string]string
	header http.Header
}

func post(h http.Handler, path string, body []byte, header ...string) answer {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var b map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &b)
	return answer{rec.Code, b, rec.Header()}
}

func envelope(items ...string) []byte {
	var b strings.Builder
	b.WriteString(`{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"2026-01-02T03:04:05Z"}` + "\n")
	for i := 0; i+1 < len(items); i += 2 {
		b.WriteString(`{"type":"` + items[i] + `","length":` + strconv.Itoa(len(items[i+1])) + "}\n" + items[i+1] + "\n")
	}
	return []byte(b.String())
}

func auth(key string) []string {
	return []string{"X-Sentry-Auth", "Sentry sentry_version=7, sentry_client=test/1.0, sentry_key=" + key}
}

func TestHandlerAuth(t *testing.T) {
	h, sinks := newTestHandler(t, Config{})
	body := envelope("event", `{"message":"hi"}`)
	a := post(h, "/api/1/envelope/", body, auth(keyAPI)...)
	require.Equal(t, 200, a.status, a.body)
	require.Equal(t, "9ec79c33ec9942ab8353589fcb2e04dc", a.body["id"])
	require.Equal(t, "api", sinks.events[0].Service)
	require.Equal(t, "1", sinks.events[0].Project)

	a = post(h, "/api/1/envelope?sentry_key="+keyAPI+"&sentry_version=7", body)
	require.Equal(t, 200, a.status, "query-string auth (browser SDKs), no trailing slash")

	withDSN := []byte(`{"dsn":"http://` + keyAPI + `@localhost:7070/1"}` + "\n" + `{"type":"event"}` + "\n{}\n")
	require.Equal(t, 200, post(h, "/api/1/envelope/", withDSN).status, "the envelope header's dsn")

	a = post(h, "/api/1/envelope/", body, auth("ffffffffffffffffffffffffffffffff")...)
	require.Equal(t, 401, a.status)
	require.Contains(t, a.body["detail"], "unknown DSN key")
	require.Equal(t, "application/json", a.header.Get("Content-Type"))
	require.NotEmpty(t, a.header.Get("X-Sentry-Error"))

	a = post(h, "/api/1/envelope/", body)
	require.Equal(t, 401, a.status)
	require.Contains(t, a.body["detail"], "missing authorization")

	a = post(h, "/api/2/envelope/", body, auth(keyAPI)...)
	require.Equal(t, 401, a.status, "a key of project 1 on project 2")
	require.Contains(t, a.body["detail"], "not a key of project 2")

	a = post(h, "/api/1/envelope/", withDSN, auth(keyWorker)...)
	require.Equal(t, 401, a.status, "header and dsn disagree")

	a = post(h, "/api/1/store/", []byte(`{"message":"legacy","event_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`), "Authorization", "Sentry sentry_key="+keyAPI)
	require.Equal(t, 200, a.status, a.body)
	require.Equal(t, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", a.body["id"])
	require.Len(t, sinks.events, 4)
}

func TestHandlerEncodings(t *testing.T) {
	h, sinks := newTestHandler(t, Config{})
	body := envelope("event", `{"message":"compressed"}`)
	var gz, df, zl bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(body)
	gw.Close()
	fw, _ := flate.NewWriter(&df, 5)
	fw.Write(body)
	fw.Close()
	zw := zlib.NewWriter(&zl)
	zw.Write(body)
	zw.Close()
	require.Equal(t, 200, post(h, "/api/1/envelope/", gz.Bytes(), append(auth(keyAPI), "Content-Encoding", "gzip")...).status)
	require.Equal(t, 200, post(h, "/api/1/envelope/", df.Bytes(), append(auth(keyAPI), "Content-Encoding", "deflate")...).status, "raw deflate")
	require.Equal(t, 200, post(h, "/api/1/envelope/", zl.Bytes(), append(auth(keyAPI), "Content-Encoding", "deflate")...).status, "zlib deflate")
	require.Len(t, sinks.events, 3)

	a := post(h, "/api/1/envelope/", body, append(auth(keyAPI), "Content-Encoding", "br")...)
	require.Equal(t, 415, a.status)
	require.Contains(t, a.body["detail"], "unsupported Content-Encoding")
	a = post(h, "/api/1/envelope/", []byte("not gzip"), append(auth(keyAPI), "Content-Encoding", "gzip")...)
	require.Equal(t, 400, a.status)

	// A gzip bomb: 17 MiB of zeros in a few KiB.
	var bomb bytes.Buffer
	bw := gzip.NewWriter(&bomb)
	bw.Write([]byte("{}\n{\"type\":\"attachment\"}\n"))
	bw.Write(make([]byte, 17<<20))
	bw.Close()
	a = post(h, "/api/1/envelope/", bomb.Bytes(), append(auth(keyAPI), "Content-Encoding", "gzip")...)
	require.Equal(t, 413, a.status)
	require.Contains(t, a.body["detail"], "after decompression")

	// Old raven clients: base64 of zlib on the store endpoint.
	var legacy bytes.Buffer
	lw := zlib.NewWriter(&legacy)
	lw.Write([]byte(`{"message":"raven"}`))
	lw.Close()
	a = post(h, "/api/1/store/", []byte(base64.StdEncoding.EncodeToString(legacy.Bytes())), auth(keyAPI)...)
	require.Equal(t, 200, a.status, a.body)
	require.Equal(t, "raven", sinks.events[len(sinks.events)-1].Message)
}

func TestHandlerItems(t *testing.T) {
	h, sinks := newTestHandler(t, Config{})
	tx := `{"type":"transaction","transaction":"GET /orders","start_timestamp":1767323040.0,"timestamp":1767323041.5,
	 "contexts":{"trace":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","op":"http.server","status":"ok"}},
	 "spans":[{"span_id":"1111111111111111","parent_span_id":"00f067aa0ba902b7","op":"db","description":"SELECT 1","start_timestamp":1767323040.1,"timestamp":1767323040.2},
	          {"span_id":"bad"}],
	 "release":"1.0","environment":"prod","sdk":{"name":"sentry.go","version":"0.46.2"}}`
	checkin := `{"check_in_id":"83a7c03e-d0b1-4e1b-8d46-2c1b3c0e6bf0","monitor_slug":"nightly","status":"in_progress",
	 "monitor_config":{"schedule":{"type":"interval","value":1,"unit":"day"}}}`
	body := envelope("transaction", tx, "check_in", checkin, "session", `{"sid":"x"}`, "sessions", `{}`,
		"client_report", `{}`, "attachment", "\x00\x01binary\n", "a_future_type", "??", "statsd", "x:1|c")
	a := post(h, "/api/1/envelope/", body, auth(keyAPI)...)
	require.Equal(t, 200, a.status, a.body)

	require.Len(t, sinks.traces, 1)
	td := sinks.traces[0]
	require.Equal(t, 2, td.SpanCount(), "the root and the one valid child")
	rs := td.ResourceSpans().At(0)
	svc, _ := rs.Resource().Attributes().Get("service.name")
	require.Equal(t, "api", svc.Str())
	spans := rs.ScopeSpans().At(0).Spans()
	root, child := spans.At(0), spans.At(1)
	require.Equal(t, "GET /orders", root.Name())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", root.TraceID().String())
	require.Equal(t, ptrace.SpanKindServer, root.Kind())
	require.Equal(t, ptrace.StatusCodeOk, root.Status().Code())
	require.Equal(t, 1500*time.Millisecond, root.EndTimestamp().AsTime().Sub(root.StartTimestamp().AsTime()))
	require.Equal(t, "SELECT 1", child.Name())
	require.Equal(t, root.SpanID(), child.ParentSpanID())
	require.Equal(t, ptrace.SpanKindClient, child.Kind())

	require.Len(t, sinks.runs, 1)
	r := sinks.runs[0]
	require.Equal(t, "83a7c03ed0b14e1b8d462c1b3c0e6bf0", r.RunID)
	require.Equal(t, "nightly", r.Name)
	require.Equal(t, runs.StatusRunning, r.Status)
	require.Equal(t, "sentry", r.Tags["source"])

	done := `{"check_in_id":"83a7c03ed0b14e1b8d462c1b3c0e6bf0","monitor_slug":"nightly","status":"error","duration":12.5}`
	require.Equal(t, 200, post(h, "/api/1/envelope/", envelope("check_in", done), auth(keyAPI)...).status)
	r = sinks.runs[1]
	require.Equal(t, runs.StatusFailed, r.Status)
	require.Equal(t, "error", r.Tags["sentry.status"])
	require.InDelta(t, 12.5, r.DurationSeconds, 0.001)
}

func TestHandlerBadInput(t *testing.T) {
	h, sinks := newTestHandler(t, Config{})
	f := func(body []byte, status int, want string) {
		t.Helper()
		a := post(h, "/api/1/envelope/", body, auth(keyAPI)...)
		require.Equal(t, status, a.status, "%.80q: %v", body, a.body)
		require.Contains(t, a.body["detail"], want)
	}
	f([]byte("garbage\n"), 400, "envelope header is not a JSON object")
	f([]byte("{}\n{\"type\":\"event\",\"length\":500}\n{}"), 400, "more than the 2 bytes left")
	f([]byte("{}\n{\"type\":\"event\",\"length\":3}\n{}}}"), 400, "does the length lie")
	f(envelope("event", `{"message": "x"`), 400, "item 0 (event): invalid JSON")
	f(envelope("event", `[]`), 400, "want a JSON object")
	f(envelope("event", strings.Repeat(`{"a":`, 100)+"1"+strings.Repeat("}", 100)), 400, "nested deeper")
	f(envelope("transaction", `{"transaction":"x"}`), 400, "no contexts.trace")
	f(envelope("check_in", `{"check_in_id":"x","monitor_slug":"m","status":"ok"}`), 400, "not 32 hex digits")
	f(envelope("check_in", `{"check_in_id":"83a7c03ed0b14e1b8d462c1b3c0e6bf0","status":"ok"}`), 400, "no monitor_slug")
	f(envelope("check_in", `{"check_in_id":"83a7c03ed0b14e1b8d462c1b3c0e6bf0","monitor_slug":"m","status":"done"}`), 400, "status")
	f(envelope("event", `{"message":"ok"}`, "event", `{bad`), 400, "item 1 (event)")
	require.Empty(t, sinks.events, "an envelope with one bad item stores none of its items")

	big := append([]byte("{}\n{\"type\":\"attachment\",\"length\":17000000}\n"), make([]byte, 17_000_000)...)
	f(big, 413, "larger than")

	req := httptest.NewRequest(http.MethodGet, "/api/1/envelope/", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 405, rec.Code)

	// The other project is not affected by any of this.
	a := post(h, "/api/2/envelope/", envelope("event", `{"message":"fine"}`), auth(keyWorker)...)
	require.Equal(t, 200, a.status)
}

func TestHandlerRateLimit(t *testing.T) {
	h, sinks := newTestHandler(t, Config{Projects: []Project{
		{ID: "1", Name: "api", Keys: []string{keyAPI}, EventsPerSecond: 1.0 / 60, Burst: 2},
		{ID: "2", Name: "worker", Keys: []string{keyWorker}},
	}})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.now = func() time.Time { return now }
	ev := envelope("event", `{"message":"x"}`)
	require.Equal(t, 200, post(h, "/api/1/envelope/", ev, auth(keyAPI)...).status)
	require.Equal(t, 200, post(h, "/api/1/envelope/", ev, auth(keyAPI)...).status)
	a := post(h, "/api/1/envelope/", ev, auth(keyAPI)...)
	require.Equal(t, 429, a.status)
	require.Equal(t, "60", a.header.Get("Retry-After"))
	require.Equal(t, "60:error;default;transaction;monitor:key", a.header.Get("X-Sentry-Rate-Limits"))
	require.Contains(t, a.body["detail"], "over its rate limit")
	require.Equal(t, 200, post(h, "/api/1/envelope/", envelope("session", `{}`), auth(keyAPI)...).status, "sessions are not limited")
	require.Equal(t, 200, post(h, "/api/2/envelope/", ev, auth(keyWorker)...).status, "other projects are not limited")
	now = now.Add(61 * time.Second)
	require.Equal(t, 200, post(h, "/api/1/envelope/", ev, auth(keyAPI)...).status, "a token after 60 s")
	require.Len(t, sinks.events, 4)
}

func TestHandlerStoreErrors(t *testing.T) {
	h, sinks := newTestHandler(t, Config{})
	sinks.err = &pipeline.ThrottleError{Err: pipeline.ErrQueueFull, RetryAfter: 3 * time.Second}
	a := post(h, "/api/1/envelope/", envelope("event", `{}`), auth(keyAPI)...)
	require.Equal(t, 429, a.status)
	require.Equal(t, "3", a.header.Get("Retry-After"))
	sinks.err = pipeline.NewPermanent(context.Canceled)
	require.Equal(t, 400, post(h, "/api/1/envelope/", envelope("event", `{}`), auth(keyAPI)...).status)
	sinks.err = context.DeadlineExceeded
	a = post(h, "/api/1/envelope/", envelope("event", `{}`), auth(keyAPI)...)
	require.Equal(t, 503, a.status)
	require.Equal(t, "1", a.header.Get("Retry-After"))
}

func TestHandlerCORS(t *testing.T) {
	h, _ := newTestHandler(t, Config{})
	req := httptest.NewRequest(http.MethodOptions, "/api/1/envelope/?sentry_key="+keyAPI, nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	require.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Contains(t, rec.Header().Get("Access-Control-Allow-Methods"), "POST")
	a := post(h, "/api/1/envelope/?sentry_key="+keyAPI, envelope("event", `{}`), "Origin", "https://shop.example", "Content-Type", "text/plain;charset=UTF-8")
	require.Equal(t, 200, a.status)
	require.Equal(t, "*", a.header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, a.header.Get("Access-Control-Expose-Headers"), "X-Sentry-Rate-Limits")
}

func TestIsIngestPath(t *testing.T) {
	f := func(path, project, endpoint string, ok bool) {
		t.Helper()
		p, e, got := IsIngestPath(path)
		require.Equal(t, ok, got, path)
		require.Equal(t, project, p, path)
		require.Equal(t, endpoint, e, path)
	}
	f("/api/1/envelope/", "1", "envelope", true)
	f("/api/42/store/", "42", "store", true)
	f("/api/42/store", "42", "store", true)
	f("/api/v1/envelope/", "", "", false)
	f("/api/loupe/store/", "", "", false)
	f("/api/01/store/", "", "", false)
	f("/api/1/envelope/x", "", "", false)
	f("/api/1/minidump/", "", "", false)
	f("/api/v1/query", "", "", false)
}
