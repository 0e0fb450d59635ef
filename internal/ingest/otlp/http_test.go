package otlp

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

// traceRequest returns an export request with n valid spans.
func traceRequest(n int) ptraceotlp.ExportRequest {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := range n {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		s.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i + 1)})
		s.SetName("op")
		s.SetStartTimestamp(1_700_000_000_000_000_000)
		s.SetEndTimestamp(1_700_000_000_100_000_000)
		s.Attributes().PutStr("http.route", "/x")
	}
	return ptraceotlp.NewExportRequestFromTraces(td)
}

func protoBody(t testing.TB, req ptraceotlp.ExportRequest) []byte {
	b, err := req.MarshalProto()
	require.NoError(t, err)
	return b
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func post(t testing.TB, addr, path, contentType, contentEncoding string, body io.Reader) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if contentEncoding != "" {
		req.Header.Set("Content-Encoding", contentEncoding)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// statusOf decodes a google.rpc.Status error body in the reply's encoding.
func statusOf(t testing.TB, r reply) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		require.NoError(t, protojson.Unmarshal(r.body, st), string(r.body))
	} else {
		require.NoError(t, proto.Unmarshal(r.body, st))
	}
	return st
}

func requireError(t *testing.T, r reply, status int, msgPart string) {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	st := statusOf(t, r)
	require.Contains(t, st.Message, msgPart)
}

func TestHTTPBadRequests(t *testing.T) {
	rcfg := DefaultConfig()
	rcfg.MaxRequestBytes = 64 << 10
	env := startEnv(t, pipeline.DefaultConfig(), rcfg, nil)
	addr := env.recv.HTTPAddr()
	valid := protoBody(t, traceRequest(3))

	t.Run("truncated protobuf", func(t *testing.T) {
		r := post(t, addr, "/v1/traces", "application/x-protobuf", "", bytes.NewReader(valid[:len(valid)-5]))
		requireError(t, r, 400, "decode protobuf: ")
		require.Equal(t, "application/x-protobuf", r.header.Get("Content-Type"))
	})
	t.Run("invalid json", func(t *testing.T) {
		r := post(t, addr, "/v1/logs", "application/json", "", strings.NewReader(`{"resourceLogs": [`))
		requireError(t, r, 400, "decode json: ")
		require.Equal(t, "application/json", r.header.Get("Content-Type"))
	})
	t.Run("invalid trace id length in json", func(t *testing.T) {
		body := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405","spanId":"0102030405060708","name":"x"}]}]}]}`
		r := post(t, addr, "/v1/traces", "application/json", "", strings.NewReader(body))
		requireError(t, r, 400, `invalid trace_id "0102030405": 10 hex digits (5 bytes), want 32 hex digits (16 bytes)`)
	})
	t.Run("invalid span id length in json", func(t *testing.T) {
		body := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"01","name":"x"}]}]}]}`
		r := post(t, addr, "/v1/traces", "application/json", "", strings.NewReader(body))
		requireError(t, r, 400, `invalid span_id "01"`)
	})
	t.Run("invalid trace id length in protobuf", func(t *testing.T) {
		// field 1 (resource_spans) > 2 (scope_spans) > 2 (spans) > 1 (trace_id, 3 bytes)
		span := []byte{0x0a, 0x03, 1, 2, 3}
		scope := append([]byte{0x12, byte(len(span))}, span...)
		rs := append([]byte{0x12, byte(len(scope))}, scope...)
		body := append([]byte{0x0a, byte(len(rs))}, rs...)
		r := post(t, addr, "/v1/traces", "application/x-protobuf", "", bytes.NewReader(body))
		requireError(t, r, 400, "decode protobuf: ")
		require.Contains(t, statusOf(t, r).Message, "TraceID")
	})
	t.Run("wrong content type", func(t *testing.T) {
		r := post(t, addr, "/v1/traces", "text/plain", "", bytes.NewReader(valid))
		requireError(t, r, 415, `unsupported Content-Type "text/plain"`)
	})
	t.Run("unsupported content encoding", func(t *testing.T) {
		r := post(t, addr, "/v1/traces", "application/x-protobuf", "br", bytes.NewReader(valid))
		requireError(t, r, 415, `unsupported Content-Encoding "br"`)
	})
	t.Run("corrupt gzip", func(t *testing.T) {
		r := post(t, addr, "/v1/traces", "application/x-protobuf", "gzip", bytes.NewReader(valid))
		requireError(t, r, 400, "decompress gzip body")
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/v1/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, 405, resp.StatusCode)
		require.Equal(t, "POST", resp.Header.Get("Allow"))
		requireError(t, reply{resp.StatusCode, resp.Header, b}, 405, "method GET not allowed")
	})
	t.Run("body over limit", func(t *testing.T) {
		r := post(t, addr, "/v1/traces", "application/x-protobuf", "", bytes.NewReader(make([]byte, 65<<10)))
		requireError(t, r, 413, "request body larger than 65536 bytes")
	})
	t.Run("chunked body over limit", func(t *testing.T) {
		// io.MultiReader hides the length: the client sends it chunked, without Content-Length.
		r := post(t, addr, "/v1/traces", "application/x-protobuf", "", io.MultiReader(bytes.NewReader(make([]byte, 65<<10))))
		requireError(t, r, 413, "request body larger than 65536 bytes")
	})
	t.Run("gzip bomb", func(t *testing.T) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, err := zw.Write(make([]byte, 32<<20)) // 32 MiB of zeros in ~32 KiB
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		require.Less(t, buf.Len(), 64<<10+1, "the compressed bomb itself fits the limit")
		r := post(t, addr, "/v1/traces", "application/x-protobuf", "gzip", &buf)
		requireError(t, r, 413, "request body larger than 65536 bytes")
	})
	t.Run("unknown path", func(t *testing.T) {
		r := post(t, addr, "/v1/profiles", "application/x-protobuf", "", bytes.NewReader(valid))
		require.Equal(t, 404, r.status)
	})
	require.Equal(t, 0, env.store.snapshotTraces().SpanCount())
}

func TestHTTPEncodings(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	addr := env.recv.HTTPAddr()
	body := protoBody(t, traceRequest(1))

	zlibbed := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	compress := map[string]func([]byte) []byte{
		"gzip": func(b []byte) []byte {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(b)
			_ = zw.Close()
			return buf.Bytes()
		},
		"deflate": zlibbed,
		"zlib":    zlibbed, // the Collector's name for deflate
		"zstd": func(b []byte) []byte {
			enc, _ := zstd.NewWriter(nil)
			defer enc.Close()
			return enc.EncodeAll(b, nil)
		},
		"identity": func(b []byte) []byte { return b },
	}
	n := 0
	for name, fn := range compress {
		r := post(t, addr, "/v1/traces", "application/x-protobuf", name, bytes.NewReader(fn(body)))
		require.Equal(t, 200, r.status, "%s: %s", name, r.body)
		require.Equal(t, "application/x-protobuf", r.header.Get("Content-Type"))
		resp := ptraceotlp.NewExportResponse()
		require.NoError(t, resp.UnmarshalProto(r.body))
		require.Equal(t, int64(0), resp.PartialSuccess().RejectedSpans())
		n++
		require.Equal(t, n, env.store.snapshotTraces().SpanCount(), name)
	}

	jsonBody, err := traceRequest(2).MarshalJSON()
	require.NoError(t, err)
	r := post(t, addr, "/v1/traces", "application/json; charset=utf-8", "", bytes.NewReader(jsonBody))
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	resp := ptraceotlp.NewExportResponse()
	require.NoError(t, resp.UnmarshalJSON(r.body))
	require.Equal(t, n+2, env.store.snapshotTraces().SpanCount())
}

func TestHTTPPartialSuccess(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	addr := env.recv.HTTPAddr()
	req := traceRequest(4)
	spans := req.Traces().ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := range 129 {
		spans.At(0).Attributes().PutInt("a"+strings.Repeat("x", i), 1)
	}
	spans.At(1).SetTraceID(pcommon.TraceID{})

	r := post(t, addr, "/v1/traces", "application/x-protobuf", "", bytes.NewReader(protoBody(t, req)))
	require.Equal(t, 200, r.status)
	resp := ptraceotlp.NewExportResponse()
	require.NoError(t, resp.UnmarshalProto(r.body))
	require.Equal(t, int64(2), resp.PartialSuccess().RejectedSpans())
	require.Contains(t, resp.PartialSuccess().ErrorMessage(), "more than 128 attributes (limit max_attributes) (1)")
	require.Contains(t, resp.PartialSuccess().ErrorMessage(), "span trace_id is all zeros (1)")
	require.Equal(t, 2, env.store.snapshotTraces().SpanCount())

	// The same in JSON.
	jsonBody, err := req.MarshalJSON()
	require.NoError(t, err)
	r = post(t, addr, "/v1/traces", "application/json", "", bytes.NewReader(jsonBody))
	require.Equal(t, 200, r.status)
	require.Contains(t, string(r.body), `"rejectedSpans":"2"`)
}

func TestHTTPNotRunningIs503(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	require.NoError(t, env.pipeline.Shutdown(context.Background()))
	r := post(t, env.recv.HTTPAddr(), "/v1/traces", "application/x-protobuf", "", bytes.NewReader(protoBody(t, traceRequest(1))))
	requireError(t, r, 503, "not running")
	require.Equal(t, "1", r.header.Get("Retry-After"))
}

// gaugeValue reads one labelled gauge from reg.
func gaugeValue(t testing.TB, reg prometheus.Gatherer, name, signal string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelIs(m, "signal", signal) {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// fillSpanQueue blocks the span writer with one request and fills the queue (one item)
// with another, so that the next request finds the queue full.
func fillSpanQueue(t *testing.T) (*testEnv, *sync.WaitGroup) {
	t.Helper()
	st := newMemStore()
	st.hold = make(chan struct{})
	pcfg := pipeline.DefaultConfig()
	pcfg.QueueItems = 1
	pcfg.RetryAfter = 2 * time.Second
	env := startEnv(t, pcfg, DefaultConfig(), st)
	addr := env.recv.HTTPAddr()

	var wg sync.WaitGroup
	send := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := post(t, addr, "/v1/traces", "application/x-protobuf", "", bytes.NewReader(protoBody(t, traceRequest(1))))
			require.Equal(t, 200, r.status, string(r.body))
		}()
	}
	send()
	select {
	case <-st.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("first write did not start")
	}
	send()
	require.Eventually(t, func() bool {
		return gaugeValue(t, env.reg, "loupe_pipeline_queue_depth", "spans") == 1
	}, 10*time.Second, time.Millisecond)
	return env, &wg
}

func TestQueueFullHTTP429(t *testing.T) {
	env, wg := fillSpanQueue(t)
	r := post(t, env.recv.HTTPAddr(), "/v1/traces", "application/x-protobuf", "", bytes.NewReader(protoBody(t, traceRequest(1))))
	requireError(t, r, 429, "ingest queue full")
	require.Equal(t, "2", r.header.Get("Retry-After"))
	st := statusOf(t, r)
	require.Len(t, st.Details, 1)
	info := &errdetails.RetryInfo{}
	require.NoError(t, st.Details[0].UnmarshalTo(info))
	require.Equal(t, 2*time.Second, info.RetryDelay.AsDuration())

	close(env.store.hold)
	wg.Wait()
	require.Equal(t, 2, env.store.snapshotTraces().SpanCount())
}

// Protobuf does not check that strings are UTF-8; the pipeline does, so one bad span is a
// partial success instead of a batch the store refuses on every retry.
func TestHTTPInvalidUTF8IsPartialSuccess(t *testing.T) {
	env := startEnv(t, pipeline.DefaultConfig(), DefaultConfig(), nil)
	req := traceRequest(3)
	req.Traces().ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetName("GET /\xff")
	r := post(t, env.recv.HTTPAddr(), "/v1/traces", "application/x-protobuf", "", bytes.NewReader(protoBody(t, req)))
	require.Equal(t, 200, r.status, string(r.body))
	resp := ptraceotlp.NewExportResponse()
	require.NoError(t, resp.UnmarshalProto(r.body))
	require.Equal(t, int64(1), resp.PartialSuccess().RejectedSpans())
	require.Contains(t, resp.PartialSuccess().ErrorMessage(), "not valid UTF-8")
	require.Equal(t, 2, env.store.snapshotTraces().SpanCount())
}
