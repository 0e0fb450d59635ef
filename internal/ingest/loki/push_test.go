package loki

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/store"
)

// flat is one converted record with its resource, for comparisons.
type flat struct {
	Resource map[string]any
	TS       int64
	Observed int64
	Body     string
	Sev      string
	SevNum   plog.SeverityNumber
	Attrs    map[string]any
	TraceID  string
	SpanID   string
}

func flatten(ld plog.Logs) []flat {
	var out []flat
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, r := range sl.LogRecords().All() {
				out = append(out, flat{
					Resource: rl.Resource().Attributes().AsRaw(), TS: int64(r.Timestamp()), Observed: int64(r.ObservedTimestamp()),
					Body: r.Body().AsString(), Sev: r.SeverityText(), SevNum: r.SeverityNumber(),
					Attrs: r.Attributes().AsRaw(), TraceID: traceHex(r), SpanID: spanHex(r),
				})
			}
		}
	}
	return out
}

func traceHex(r plog.LogRecord) string {
	if r.TraceID().IsEmpty() {
		return ""
	}
	return r.TraceID().String()
}

func spanHex(r plog.LogRecord) string {
	if r.SpanID().IsEmpty() {
		return ""
	}
	return r.SpanID().String()
}

const observed = int64(1700000100) * 1e9

func TestPushProtobufSnappy(t *testing.T) {
	c := newRecorder()
	h, reg := newTestHandler(t, c)
	body := protoBody(t,
		push.Stream{Labels: `{job="api", env="prod", level="info"}`, Entries: []push.Entry{
			{Timestamp: time.Unix(1700000000, 1), Line: "GET /users 200"},
			{Timestamp: time.Unix(1700000001, 0), Line: "boom", StructuredMetadata: push.LabelsAdapter{
				{Name: "level", Value: "error"}, {Name: "trace_id", Value: "0af7651916cd43dd8448eb211c80319c"},
				{Name: "span_id", Value: "b7ad6b7169203331"}, {Name: "user", Value: "42"},
			}},
		}},
		push.Stream{Labels: `{service_name="checkout", job="ignored", app="x"}`, Entries: []push.Entry{
			{Timestamp: time.Unix(1700000002, 0), Line: "no level", StructuredMetadata: push.LabelsAdapter{{Name: "trace_id", Value: "not-hex"}}},
		}},
	)
	for _, ct := range []string{"application/x-protobuf", ""} {
		c.logs = plog.NewLogs()
		code, _, msg := post(t, h, body, "Content-Type", ct)
		require.Equal(t, http.StatusNoContent, code, msg)
		require.Equal(t, []flat{
			{Resource: map[string]any{"job": "api", "env": "prod", "level": "info", "service.name": "api"},
				TS: 1700000000e9 + 1, Observed: observed, Body: "GET /users 200", Sev: "info", SevNum: plog.SeverityNumberInfo, Attrs: map[string]any{}},
			{Resource: map[string]any{"job": "api", "env": "prod", "level": "info", "service.name": "api"},
				TS: 1700000001e9, Observed: observed, Body: "boom", Sev: "error", SevNum: plog.SeverityNumberError,
				Attrs: map[string]any{"level": "error", "user": "42"}, TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331"},
			{Resource: map[string]any{"service_name": "checkout", "job": "ignored", "app": "x", "service.name": "checkout"},
				TS: 1700000002e9, Observed: observed, Body: "no level", Attrs: map[string]any{"trace_id": "not-hex"}},
		}, flatten(c.logs))
	}
	require.Equal(t, 2.0, testutil.ToFloat64(h.m.requests.WithLabelValues("204")))
	require.Equal(t, 6.0, testutil.ToFloat64(h.m.entries))
	n, err := testutil.GatherAndCount(reg, "loupe_loki_push_requests_total", "loupe_loki_push_entries_total", "loupe_loki_push_received_bytes_total")
	require.NoError(t, err)
	require.Equal(t, 3, n)
}

func TestPushJSON(t *testing.T) {
	c := newRecorder()
	h, _ := newTestHandler(t, c)
	body := `{"streams":[
		{"stream":{"app":"web","detected_level":"WARN"},"values":[["1700000000000000000","slow request"],["1700000001000000000","with metadata",{"order_id":"7","level":"debug"}]]},
		{"stream":{"service":"svc","job":"j"},"values":[[1700000002000000000,"numeric ts"]]},
		{"stream":{"host":"h1"},"values":[["1700000003000000000",""]]}
	]}`
	want := []flat{
		{Resource: map[string]any{"app": "web", "detected_level": "WARN", "service.name": "web"},
			TS: 1700000000e9, Observed: observed, Body: "slow request", Sev: "WARN", SevNum: plog.SeverityNumberWarn, Attrs: map[string]any{}},
		{Resource: map[string]any{"app": "web", "detected_level": "WARN", "service.name": "web"},
			TS: 1700000001e9, Observed: observed, Body: "with metadata", Sev: "debug", SevNum: plog.SeverityNumberDebug,
			Attrs: map[string]any{"order_id": "7", "level": "debug"}},
		{Resource: map[string]any{"service": "svc", "job": "j", "service.name": "svc"},
			TS: 1700000002e9, Observed: observed, Body: "numeric ts", Attrs: map[string]any{}},
		{Resource: map[string]any{"host": "h1", "service.name": "unknown_service"},
			TS: 1700000003e9, Observed: observed, Body: "", Attrs: map[string]any{}},
	}
	code, _, msg := post(t, h, []byte(body), "Content-Type", "application/json; charset=utf-8")
	require.Equal(t, http.StatusNoContent, code, msg)
	require.Equal(t, want, flatten(c.logs))

	// gzip Content-Encoding.
	c.logs = plog.NewLogs()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(body))
	require.NoError(t, zw.Close())
	code, _, msg = post(t, h, gz.Bytes(), "Content-Type", "application/json", "Content-Encoding", "gzip")
	require.Equal(t, http.StatusNoContent, code, msg)
	require.Equal(t, want, flatten(c.logs))

	// deflate Content-Encoding: zlib-wrapped as HTTP says, or raw as some clients send it.
	var zl, raw bytes.Buffer
	lw := zlib.NewWriter(&zl)
	_, _ = lw.Write([]byte(body))
	require.NoError(t, lw.Close())
	fw, err := flate.NewWriter(&raw, flate.DefaultCompression)
	require.NoError(t, err)
	_, _ = fw.Write([]byte(body))
	require.NoError(t, fw.Close())
	for _, sent := range [][]byte{zl.Bytes(), raw.Bytes()} {
		c.logs = plog.NewLogs()
		code, _, msg = post(t, h, sent, "Content-Type", "application/json", "Content-Encoding", "deflate")
		require.Equal(t, http.StatusNoContent, code, msg)
		require.Equal(t, want, flatten(c.logs))
	}
}

func TestPushBadInput(t *testing.T) {
	c := newRecorder()
	h, _ := newTestHandler(t, c)
	f := func(wantCode int, wantMsg string, body []byte, header ...string) {
		t.Helper()
		code, _, msg := post(t, h, body, header...)
		require.Equal(t, wantCode, code, msg)
		require.Contains(t, msg, wantMsg)
	}
	js := func(s string) []byte { return []byte(s) }
	ctJSON := []string{"Content-Type", "application/json"}
	f(400, `stream 1 {job="b"} has no entries`,
		js(`{"streams":[{"stream":{"job":"a"},"values":[["1","x"]]},{"stream":{"job":"b"},"values":[]}]}`), ctJSON...)
	f(400, `stream 0 {}: no labels`, js(`{"streams":[{"stream":{},"values":[["1","x"]]}]}`), ctJSON...)
	f(400, `stream 0 {a.b="x"}: invalid label name "a.b"`, js(`{"streams":[{"stream":{"a.b":"x"},"values":[["1","x"]]}]}`), ctJSON...)
	f(400, `stream 0 {job="a"}: value 1: timestamp "yesterday" is not unix nanoseconds`,
		js(`{"streams":[{"stream":{"job":"a"},"values":[["1","x"],["yesterday","y"]]}]}`), ctJSON...)
	f(400, `timestamp "-5" is not unix nanoseconds`, js(`{"streams":[{"stream":{"job":"a"},"values":[["-5","x"]]}]}`), ctJSON...)
	f(400, `value 0: want ["<unix ns>", "<line>"]`, js(`{"streams":[{"stream":{"job":"a"},"values":[["1"]]}]}`), ctJSON...)
	f(400, `value 0: line must be a string, got 5`, js(`{"streams":[{"stream":{"job":"a"},"values":[["1",5]]}]}`), ctJSON...)
	f(400, `value 0: line must be a string, got null`, js(`{"streams":[{"stream":{"job":"a"},"values":[["1",null]]}]}`), ctJSON...)
	f(400, `value 0: want ["<unix ns>", "<line>"]`, js(`{"streams":[{"stream":{"job":"a"},"values":[{"ts":"1"}]}]}`), ctJSON...)
	f(400, `structured metadata must be an object of strings`, js(`{"streams":[{"stream":{"job":"a"},"values":[["1","x",{"a":1}]]}]}`), ctJSON...)
	f(400, `decode JSON push body`, js(`{"streams":`), ctJSON...)
	f(400, `unexpected data after the JSON object`, js(`{"streams":[]} {}`), ctJSON...)
	f(400, `decompress gzip body`, js(`not gzip`), "Content-Type", "application/json", "Content-Encoding", "gzip")

	f(400, `stream 0 {job="a": cannot parse labels: 1:9: parse error`, protoBody(t, push.Stream{Labels: `{job="a"`, Entries: []push.Entry{{Timestamp: time.Unix(1, 0), Line: "x"}}}))
	f(400, `stream 0 : no labels`, protoBody(t, push.Stream{Labels: ``, Entries: []push.Entry{{Timestamp: time.Unix(1, 0), Line: "x"}}}))
	f(400, `stream 0 {}: no labels`, protoBody(t, push.Stream{Labels: `{}`, Entries: []push.Entry{{Timestamp: time.Unix(1, 0), Line: "x"}}}))
	f(400, `stream 0 {job="a"}: entry 0: timestamp 1969-12-31T23:59:59Z is outside 1970..2262`,
		protoBody(t, push.Stream{Labels: `{job="a"}`, Entries: []push.Entry{{Timestamp: time.Unix(-1, 0), Line: "x"}}}))
	f(400, `stream 0 {job="a"} has no entries`, protoBody(t, push.Stream{Labels: `{job="a"}`}))
	f(400, `decompress snappy body`, []byte("\xff\xff\xff\xff\xff"), "Content-Type", "application/x-protobuf")
	f(400, `decode protobuf PushRequest`, protoBodyRaw([]byte("\x0a\x05ab")), "Content-Type", "application/x-protobuf")

	f(415, `unsupported Content-Type "text/plain"`, js(`x`), "Content-Type", "text/plain")
	f(415, `unsupported Content-Encoding "br"`, js(`x`), "Content-Type", "application/json", "Content-Encoding", "br")
	f(415, `unsupported Content-Encoding "snappy"`, js(`x`), "Content-Type", "application/json", "Content-Encoding", "snappy")
	require.Zero(t, c.n, "bad input never reaches the pipeline")

	// Loki accepts (and some clients send) Content-Encoding: snappy on protobuf bodies,
	// which are snappy-compressed anyway.
	code, _, msg := post(t, h, protoBody(t, push.Stream{Labels: `{job="a"}`, Entries: []push.Entry{{Timestamp: time.Unix(1, 0), Line: "x"}}}),
		"Content-Type", "application/x-protobuf", "Content-Encoding", "snappy")
	require.Equal(t, http.StatusNoContent, code, msg)

	code, _, _ = post(t, h, snappyEncode(nil))
	require.Equal(t, http.StatusNoContent, code, "an empty protobuf request has nothing to store")
}

func protoBodyRaw(raw []byte) []byte { return snappyEncode(raw) }

func TestPushTooLarge(t *testing.T) {
	c := newRecorder()
	h := NewPushHandler(c, Options{MaxRequestBytes: 1000, DefaultRetryAfter: time.Second}, nil, nil)
	big := protoBody(t, push.Stream{Labels: `{job="a"}`, Entries: []push.Entry{{Timestamp: time.Unix(1, 0), Line: strings.Repeat("x", 5000)}}})
	require.Less(t, len(big), 1000, "snappy compresses the line")
	code, _, msg := post(t, h, big, "Content-Type", "application/x-protobuf")
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Contains(t, msg, "larger than 1000 bytes")

	code, _, _ = post(t, h, bytes.Repeat([]byte("x"), 1001), "Content-Type", "application/json")
	require.Equal(t, http.StatusRequestEntityTooLarge, code)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), 5000))
	require.NoError(t, zw.Close())
	code, _, _ = post(t, h, gz.Bytes(), "Content-Type", "application/json", "Content-Encoding", "gzip")
	require.Equal(t, http.StatusRequestEntityTooLarge, code, "the limit applies after decompression")
	require.Zero(t, c.n)
}

func TestPushPipelineErrors(t *testing.T) {
	body := []byte(`{"streams":[{"stream":{"job":"a"},"values":[["1","x"],["2","y"]]}]}`)
	f := func(err error, wantCode int, wantRetryAfter, wantMsg string) {
		t.Helper()
		c := newRecorder()
		c.err = err
		h, _ := newTestHandler(t, c)
		code, hdr, msg := post(t, h, body, "Content-Type", "application/json")
		require.Equal(t, wantCode, code, msg)
		require.Equal(t, wantRetryAfter, hdr.Get("Retry-After"))
		require.Contains(t, msg, wantMsg)
	}
	f(&pipeline.ThrottleError{Err: pipeline.ErrQueueFull, RetryAfter: 2500 * time.Millisecond}, 429, "3", "ingest queue full")
	f(&pipeline.ThrottleError{Err: pipeline.ErrNotRunning}, 503, "1", "not running")
	f(errSentinel("disk full"), 503, "1", "store logs: disk full")
	f(pipeline.NewPermanent(errSentinel("body too long")), 400, "", "body too long")
	f(&store.PartialError{Rejected: 1, Msg: "attribute too long"}, 400, "", "1 of 2 entries rejected (the others are stored): attribute too long")

	c := newRecorder()
	h, _ := newTestHandler(t, c)
	code, hdr, _ := postMethod(t, h, http.MethodGet)
	require.Equal(t, http.StatusMethodNotAllowed, code)
	require.Equal(t, "POST", hdr.Get("Allow"))
}

type errSentinel string

func (e errSentinel) Error() string { return string(e) }
