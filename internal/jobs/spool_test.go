package jobs

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// otlpSink is a fake OTLP/HTTP server that decodes what it receives; fail makes it answer
// 503 after that many accepted requests (-1: never).
type otlpSink struct {
	mu      sync.Mutex
	traces  []ptrace.Traces
	logs    []plog.Logs
	metrics []pmetric.Metrics
	fail    int
	status  int
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == 0 {
		w.WriteHeader(s.status)
		return
	}
	s.fail--
	body, _ := io.ReadAll(r.Body)
	var err error
	switch r.URL.Path {
	case "/v1/traces":
		var td ptrace.Traces
		td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		s.traces = append(s.traces, td)
	case "/v1/logs":
		var ld plog.Logs
		ld, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(body)
		s.logs = append(s.logs, ld)
	case "/v1/metrics":
		var md pmetric.Metrics
		md, err = (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(body)
		s.metrics = append(s.metrics, md)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

func (s *otlpSink) counts() (traces, logs, metrics int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.traces), len(s.logs), len(s.metrics)
}

func TestRunShipsToServer(t *testing.T) {
	sink := &otlpSink{fail: -1}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	opts := testOptions(t)
	opts.Server = srv.URL
	opts.Name = "ship"
	opts.Tags = map[string]string{"stage": "test"}
	code, rec := runSh(t, opts, "echo out-line; echo err-line >&2; sleep 0.3")
	require.Equal(t, 0, code)
	require.Empty(t, rec.Telemetry.SpoolFile)

	nt, nl, nm := sink.counts()
	require.Equal(t, 1, nt)
	require.Positive(t, nl)
	require.Positive(t, nm)

	span := sink.traces[0].ResourceSpans().At(0)
	res := span.Resource().Attributes()
	for k, want := range map[string]string{"service.name": "ship", "loupe.run.id": rec.RunID,
		"loupe.run.tag.stage": "test", "host.name": "test-host"} {
		v, ok := res.Get(k)
		require.True(t, ok, k)
		require.Equal(t, want, v.Str(), k)
	}
	sp := span.ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, rec.Telemetry.TraceID, sp.TraceID().String())
	require.Equal(t, rec.Telemetry.SpanID, sp.SpanID().String())
	require.Equal(t, ptrace.StatusCodeOk, sp.Status().Code())
	recJSON, ok := sp.Attributes().Get("loupe.run.record")
	require.True(t, ok)
	require.Contains(t, recJSON.Str(), `"run_id":"`+rec.RunID+`"`)

	streams := map[string]string{}
	for _, ld := range sink.logs {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			lr := lrs.At(i)
			if _, ok := lr.Attributes().Get(EventAttribute); ok {
				continue // the start marker (start_test.go)
			}
			st, _ := lr.Attributes().Get("stream")
			streams[lr.Body().Str()] = st.Str()
			require.Equal(t, rec.Telemetry.TraceID, lr.TraceID().String())
		}
	}
	require.Equal(t, map[string]string{"out-line": "stdout", "err-line": "stderr"}, streams)

	names := map[string]bool{}
	for _, md := range sink.metrics {
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		for i := 0; i < ms.Len(); i++ {
			names[ms.At(i).Name()] = true
		}
	}
	for _, n := range []string{"loupe.run.cpu.utilization", "loupe.run.memory.rss", "loupe.run.io.read",
		"loupe.run.threads", "loupe.run.duration", "loupe.run.exit_code"} {
		require.True(t, names[n], n)
	}
}

func TestSpoolWhenServerDownThenPush(t *testing.T) {
	opts := testOptions(t)
	opts.Server = "http://127.0.0.1:1"
	code, rec := runSh(t, opts, "echo spooled-line; exit 7")
	require.Equal(t, 7, code, "a down server never changes the job's status")
	require.FileExists(t, rec.Telemetry.SpoolFile)

	// First push: the server fails after one request; the rest stays in the file.
	sink := &otlpSink{fail: 1, status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	before, err := os.ReadFile(rec.Telemetry.SpoolFile)
	require.NoError(t, err)
	res, err := Push(context.Background(), PushOptions{SpoolDir: opts.SpoolDir, Server: srv.URL}, nil)
	require.Error(t, err)
	require.Equal(t, 1, res.Requests)
	after, err := os.ReadFile(rec.Telemetry.SpoolFile)
	require.NoError(t, err)
	require.Less(t, len(after), len(before), "the sent entry was removed from the file")

	// Second push: everything else arrives and the file is gone.
	sink.mu.Lock()
	sink.fail = -1
	sink.mu.Unlock()
	res, err = Push(context.Background(), PushOptions{SpoolDir: opts.SpoolDir, Server: srv.URL}, nil)
	require.NoError(t, err)
	require.Equal(t, 1, res.Files)
	require.NoFileExists(t, rec.Telemetry.SpoolFile)
	nt, nl, nm := sink.counts()
	require.Equal(t, 1, nt)
	require.Positive(t, nl)
	require.Positive(t, nm)
	sp := sink.traces[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, ptrace.StatusCodeError, sp.Status().Code())
	require.Equal(t, "exit status 7", sp.Status().Message())
}

func TestPushSkipsFileOfRunningJobAndRejectsBadPayload(t *testing.T) {
	dir := t.TempDir()
	w := newSpoolWriter(dir, "running")
	require.NoError(t, w.write(spoolEntry{Signal: "logs", Payload: []byte{}}))
	bad := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"signal":"logs","payload":"AAEC"}`+"\n"), 0o600))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad payload", http.StatusBadRequest)
	}))
	defer srv.Close()
	res, err := Push(context.Background(), PushOptions{SpoolDir: dir, Server: srv.URL}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{w.path}, res.Skipped)
	require.Equal(t, []string{bad}, res.Rejected)
	require.FileExists(t, bad+".rejected")
	require.NoError(t, w.close())
	require.NoError(t, w.close(), "close is safe twice")
}

func TestPushToleratesTruncatedLastLine(t *testing.T) {
	dir := t.TempDir()
	sink := &otlpSink{fail: -1}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	good, err := (&plog.ProtoMarshaler{}).MarshalLogs(plog.NewLogs())
	require.NoError(t, err)
	w := newSpoolWriter(dir, "cut")
	require.NoError(t, w.write(spoolEntry{Signal: "logs", Server: srv.URL, Payload: good}))
	require.NoError(t, w.close())
	f, err := os.OpenFile(w.path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"signal":"logs","payl`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	res, err := Push(context.Background(), PushOptions{SpoolDir: dir}, nil)
	require.NoError(t, err)
	require.Equal(t, 1, res.Files)
	_, nl, _ := sink.counts()
	require.Equal(t, 1, nl)
}

func TestPushRecordsFromJSONL(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "runs.jsonl")
	opts := testOptions(t)
	opts.OutputPath = out
	_, rec := runSh(t, opts, "sleep 0.3; exit 2")
	_, _ = runSh(t, opts, "true")

	sink := &otlpSink{fail: -1}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	n, err := PushRecords(context.Background(), srv.URL, out, 0, nil)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	nt, _, nm := sink.counts()
	require.Equal(t, 2, nt)
	require.Equal(t, 2, nm, "one metrics request per record: summary and samples")
	sp := sink.traces[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, rec.Telemetry.SpanID, sp.SpanID().String())

	require.NoError(t, os.WriteFile(out, []byte("{\"name\":\"x\"}\n"), 0o644))
	_, err = PushRecords(context.Background(), srv.URL, out, 0, nil)
	require.ErrorContains(t, err, "not a loupe run record")
}

// A server that stores a request but rejects some items (OTLP partial success) is not a
// failure: the push goes on, and the rejection is reported, never dropped silently.
func TestPushRecordsReportsPartialSuccess(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs.jsonl")
	opts := testOptions(t)
	opts.OutputPath = out
	_, _ = runSh(t, opts, "sleep 0.3")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		var body []byte
		if r.URL.Path == "/v1/metrics" {
			resp := pmetricotlp.NewExportResponse()
			resp.PartialSuccess().SetRejectedDataPoints(3)
			resp.PartialSuccess().SetErrorMessage("sample too old (3)")
			body, _ = resp.MarshalProto()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	var warnings []error
	n, err := PushRecords(context.Background(), srv.URL, out, 0, func(err error) { warnings = append(warnings, err) })
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Len(t, warnings, 1)
	require.EqualError(t, warnings[0], "server stored the metrics but rejected 3 item(s): sample too old (3)")
}
