package sentry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseEnvelope: any body parses or fails with ErrEnvelope, never panics, and every
// payload lies inside the body.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}` + "\n" + `{"type":"attachment","length":10}` + "\n\xef\xbb\xbfHello\r\n\n"))
	f.Add([]byte("{}\n{\"type\":\"session\"}\n{\"started\":\"2020-02-07T14:16:00Z\"}"))
	f.Add([]byte("{}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"attachment\",\"length\":0}\n"))
	f.Add([]byte("{}\n{\"type\":\"event\",\"length\":99}\n{}"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := ParseEnvelope(body)
		if err != nil {
			return
		}
		total := 0
		for _, it := range env.Items {
			total += len(it.Payload)
		}
		if total > len(body) {
			t.Fatalf("payloads of %d bytes from a %d-byte body", total, len(body))
		}
	})
}

// FuzzDecodeEvent: the event, transaction and check-in mappings never panic on any JSON.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(pythonEvent))
	f.Add([]byte(`{"exception":[{"type":"E","stacktrace":{"frames":[{"lineno":"x"}]}}],"threads":[{"crashed":true}],"tags":[["a"]]}`))
	f.Add([]byte(`{"contexts":{"trace":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}},"spans":[{"span_id":"1111111111111111","start_timestamp":"2026-01-01T00:00:00Z","data":{"a":[1,{"b":2}]}}]}`))
	f.Add([]byte(`{"check_in_id":"83a7c03ed0b14e1b8d462c1b3c0e6bf0","monitor_slug":"m","status":"ok","duration":1e308}`))
	f.Add([]byte(strings.Repeat("[", 70)))
	f.Add([]byte(nodeSpanItem))
	f.Fuzz(func(t *testing.T, payload []byte) {
		_, _ = DecodeEvent(payload, testMeta)
		_, _ = DecodeTransaction(payload, testMeta)
		_, _ = DecodeSpans(payload, testMeta)
		if c, err := DecodeCheckIn(payload); err == nil {
			_, _ = c.toRun(Project{ID: "1", Name: "api"}, testMeta.Received)
		}
	})
}

// FuzzHandler sends arbitrary bodies through the whole endpoint: the answer is a 2xx or a
// 4xx, never a panic or a 5xx.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(string(envelope("event", pythonEvent))), false)
	f.Add([]byte(`{"message":"x"}`), true)
	p, err := NewProjects(Config{Projects: []Project{{ID: "1", Name: "api", Keys: []string{keyAPI}}}}, "")
	if err != nil {
		f.Fatal(err)
	}
	h := NewHandler(p, Sinks{}, DefaultOptions(), nil, nil)
	f.Fuzz(func(t *testing.T, body []byte, store bool) {
		path := "/api/1/envelope/"
		if store {
			path = "/api/1/store/"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		req.Header.Set("X-Sentry-Auth", "Sentry sentry_key="+keyAPI)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
