package sentry

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

var testMeta = eventMeta{Project: "1", Service: "api", Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}

// An event as the Python SDK sends it: exception.values with frames, breadcrumbs as
// {"values": [...]}, tags as an object, the trace context, a numeric timestamp.
const pythonEvent = `{
 "event_id": "0F8A4B2C-1D3E-4F5A-8B6C-7D8E9F0A1B2C",
 "timestamp": 1767323045.25,
 "level": "error", "platform": "python", "release": "api@1.2.3", "environment": "prod",
 "server_name": "web-1", "logger": "app", "transaction": "/orders/{id}",
 "exception": {"values": [
   {"type": "KeyError", "value": "'sku'", "module": null,
    "mechanism": {"type": "excepthook", "handled": false},
    "stacktrace": {"frames": [
      {"filename": "app.py", "abs_path": "/srv/app.py", "function": "main", "module": "app", "lineno": 10, "in_app": true,
       "pre_context": ["a", "b"], "context_line": "  handle()", "post_context": ["c"], "vars": {"password": "x"}},
      {"filename": "orders.py", "function": "handle", "module": "orders", "lineno": "42", "colno": 7, "in_app": true}
    ]}}
 ]},
 "breadcrumbs": {"values": [
   {"timestamp": "2026-01-02T03:04:00.5Z", "type": "http", "category": "httplib", "level": "info", "data": {"url": "http://x", "status_code": 200}},
   {"timestamp": 1767323044, "category": "log", "message": "loading order"}
 ]},
 "tags": {"region": "eu", "n": 3},
 "user": {"id": 42, "email": "a@example.com", "ip_address": "10.0.0.1"},
 "request": {"method": "post", "url": "http://api/orders/1", "query_string": "?a=1", "headers": {"User-Agent": "curl"}, "cookies": "session=secret", "data": {"card": "4111"}},
 "contexts": {"trace": {"trace_id": "4BF92F3577B34DA6A3CE929D0E0E4736", "span_id": "00f067aa0ba902b7", "op": "http.server"}, "runtime": {"name": "CPython"}},
 "extra": {"order": {"id": 1, "items": [1, 2]}},
 "fingerprint": ["{{ default }}", "orders", 7],
 "sdk": {"name": "sentry.python", "version": "1.9.10"}
}`

func TestDecodeEventPython(t *testing.T) {
	ev, err := DecodeEvent([]byte(pythonEvent), testMeta)
	require.NoError(t, err)
	handled := false
	want := errtrack.Event{
		EventID: "0f8a4b2c1d3e4f5a8b6c7d8e9f0a1b2c", Source: errtrack.SourceSentry, Project: "1", Service: "api",
		Timestamp: time.Unix(1767323045, 250_000_000).UTC(), Received: testMeta.Received,
		Level: "error", Platform: "python", Release: "api@1.2.3", Environment: "prod", ServerName: "web-1",
		Logger: "app", Transaction: "/orders/{id}",
		Exceptions: []errtrack.Exception{{Type: "KeyError", Value: "'sku'", Handled: &handled, Mechanism: "excepthook",
			Frames: []errtrack.Frame{
				{Function: "main", Module: "app", Filename: "app.py", AbsPath: "/srv/app.py", Lineno: 10, InApp: true,
					ContextLine: "  handle()", PreContext: []string{"a", "b"}, PostContext: []string{"c"}},
				{Function: "handle", Module: "orders", Filename: "orders.py", Lineno: 42, Colno: 7, InApp: true},
			}}},
		Fingerprint: []string{"{{ default }}", "orders", "7"},
		Tags:        map[string]string{"region": "eu", "n": "3"},
		User:        &errtrack.User{ID: "42", Email: "a@example.com", IPAddress: "10.0.0.1"},
		Request:     &errtrack.Request{Method: "POST", URL: "http://api/orders/1", QueryString: "a=1", Headers: map[string]string{"User-Agent": "curl"}},
		Breadcrumbs: []errtrack.Breadcrumb{
			{Timestamp: time.Date(2026, 1, 2, 3, 4, 0, 500_000_000, time.UTC), Type: "http", Category: "httplib", Level: "info",
				Data: map[string]any{"url": "http://x", "status_code": float64(200)}},
			{Timestamp: time.Unix(1767323044, 0).UTC(), Category: "log", Message: "loading order"},
		},
		Contexts: map[string]any{
			"trace":   map[string]any{"trace_id": "4BF92F3577B34DA6A3CE929D0E0E4736", "span_id": "00f067aa0ba902b7", "op": "http.server"},
			"runtime": map[string]any{"name": "CPython"},
		},
		Extra:   map[string]any{"order": map[string]any{"id": float64(1), "items": []any{float64(1), float64(2)}}},
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
	}
	require.Equal(t, want, ev)
}

// Shapes other SDKs and versions send: exception as a list, a message object, tags as
// pairs, breadcrumbs as a list, an RFC 3339 timestamp, a stack trace on the thread.
func TestDecodeEventVariants(t *testing.T) {
	f := func(payload string, check func(ev errtrack.Event)) {
		t.Helper()
		ev, err := DecodeEvent([]byte(payload), testMeta)
		require.NoError(t, err, payload)
		check(ev)
	}
	f(`{"message": {"formatted": "disk 93% full", "message": "disk %s full", "params": ["93%"]}, "level": "warning"}`, func(ev errtrack.Event) {
		require.Equal(t, "disk 93% full", ev.Message)
		require.Equal(t, "warning", ev.Level)
		require.Len(t, ev.EventID, 32, "a new id when the event has none")
		require.Equal(t, testMeta.Received, ev.Timestamp, "received time when the event has none")
	})
	f(`{"logentry": {"message": "plain"}, "level": "WARN", "message": "ignored"}`, func(ev errtrack.Event) {
		require.Equal(t, "plain", ev.Message)
		require.Equal(t, "warning", ev.Level)
	})
	f(`{"message": "just text", "level": 3, "timestamp": "2026-01-02T03:04:05"}`, func(ev errtrack.Event) {
		require.Equal(t, "just text", ev.Message)
		require.Equal(t, "error", ev.Level)
		require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ev.Timestamp)
	})
	f(`{"exception": [{"type": "Error", "value": "boom"}], "tags": [["a", "1"], ["b", 2], ["bad"]], "breadcrumbs": [{"message": "m1"}, "junk"]}`, func(ev errtrack.Event) {
		require.Equal(t, []errtrack.Exception{{Type: "Error", Value: "boom"}}, ev.Exceptions)
		require.Equal(t, map[string]string{"a": "1", "b": "2"}, ev.Tags)
		require.Equal(t, []errtrack.Breadcrumb{{Message: "m1"}}, ev.Breadcrumbs)
	})
	f(`{"exception": {"values": [{"type": "*errors.errorString", "value": "x", "thread_id": 7}]},
	    "threads": {"values": [{"id": 1, "current": true, "stacktrace": {"frames": [{"function": "other"}]}},
	                           {"id": 7, "stacktrace": {"frames": [{"function": "main.run", "package": "main", "lineno": 3}]}}]}}`, func(ev errtrack.Event) {
		require.Equal(t, []errtrack.Frame{{Function: "main.run", Module: "main", Lineno: 3}}, ev.Exceptions[0].Frames)
	})
	f(`{"exception": {"values": [{"type": "E"}]}, "threads": [{"crashed": true, "stacktrace": {"frames": [{"function": "f"}]}}]}`, func(ev errtrack.Event) {
		require.Equal(t, "f", ev.Exceptions[0].Frames[0].Function)
	})
	f(`{"exception": 5, "threads": "x", "user": [], "request": 1, "contexts": {"trace": {"trace_id": "00000000000000000000000000000000"}}, "fingerprint": "x", "extra": [1]}`, func(ev errtrack.Event) {
		require.Nil(t, ev.Exceptions)
		require.Nil(t, ev.User)
		require.Nil(t, ev.Request)
		require.Equal(t, "", ev.TraceID, "an all-zero trace id is no trace")
		require.Nil(t, ev.Fingerprint)
		require.Nil(t, ev.Extra)
	})
	f(`{"request": {"query_string": [["a", "1"]], "headers": [["Host", "x"]]}, "tags": [{"key": "k", "value": "v"}]}`, func(ev errtrack.Event) {
		require.Equal(t, "a=1", ev.Request.QueryString)
		require.Equal(t, map[string]string{"Host": "x"}, ev.Request.Headers)
		require.Equal(t, map[string]string{"k": "v"}, ev.Tags)
	})
	f(`{"timestamp": 1e300, "breadcrumbs": {"values": [{"timestamp": "yesterday"}]}}`, func(ev errtrack.Event) {
		require.Equal(t, testMeta.Received, ev.Timestamp, "an absurd timestamp is ignored")
		require.True(t, ev.Breadcrumbs[0].Timestamp.IsZero())
	})
}

func TestDecodeEventBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"message": "` + strings.Repeat("x", 100_000) + `", "exception": {"values": [{"type": "E", "stacktrace": {"frames": [`)
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"function": "f", "lineno": ` + string(rune('0'+i%10)) + `}`)
	}
	b.WriteString(`]}}]}, "breadcrumbs": [`)
	for i := range 500 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"message": "m"}`)
	}
	b.WriteString(`], "extra": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {"l": 1}}}}}}}}}}}}}`)
	ev, err := DecodeEvent([]byte(b.String()), testMeta)
	require.NoError(t, err)
	require.Len(t, ev.Message, maxStringBytes)
	require.Len(t, ev.Exceptions[0].Frames, maxFrames)
	require.Len(t, ev.Breadcrumbs, maxBreadcrumbs)
	v := any(ev.Extra)
	for range maxStoredDepth {
		v = v.(map[string]any)
		for _, inner := range v.(map[string]any) {
			v = inner
		}
	}
	require.Equal(t, "[...]", v, "nesting beyond maxStoredDepth is cut")
}

func TestDecodeEventErrors(t *testing.T) {
	f := func(payload, want string) {
		t.Helper()
		_, err := DecodeEvent([]byte(payload), testMeta)
		require.ErrorContains(t, err, want)
	}
	f(`{"message": "x"`, "invalid JSON")
	f(`[1, 2]`, "want a JSON object, found array")
	f(`"text"`, "want a JSON object, found string")
	f(strings.Repeat("[", 100)+strings.Repeat("]", 100), "nested deeper than 64 levels")
	f(`{"extra": `+strings.Repeat(`{"a":`, 70)+"1"+strings.Repeat("}", 70)+"}", "nested deeper than 64 levels")
	// Brackets inside strings are not nesting.
	_, err := DecodeEvent([]byte(`{"message": "`+strings.Repeat("[{", 100)+`\"]"}`), testMeta)
	require.NoError(t, err)
}
