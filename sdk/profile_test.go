package sdk

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
)

// upload is one POST /ingest the SDK made.
type upload struct {
	query  url.Values
	header http.Header
	parts  map[string][]byte // multipart parts, gunzipped
}

type ingestServer struct {
	URL     string
	mu      sync.Mutex
	uploads []upload
}

func newIngestServer(t *testing.T) *ingestServer {
	t.Helper()
	s := &ingestServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ingest" || r.Method != http.MethodPost {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u := upload{query: r.URL.Query(), header: r.Header.Clone(), parts: map[string][]byte{}}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			zr, err := gzip.NewReader(p)
			if err != nil {
				http.Error(w, "part "+p.FormName()+" is not gzipped pprof: "+err.Error(), http.StatusBadRequest)
				return
			}
			b, _ := io.ReadAll(zr)
			u.parts[p.FormName()] = b
		}
		s.mu.Lock()
		s.uploads = append(s.uploads, u)
		s.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *ingestServer) byName() map[string][]upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string][]upload{}
	for _, u := range s.uploads {
		m[u.query.Get("name")] = append(m[u.query.Get("name")], u)
	}
	return m
}

// burnInSpan keeps the CPU busy until stop, in a function whose name the profile must hold.
//
//go:noinline
func burnInSpan(stop time.Time) int {
	n := 0
	for time.Now().Before(stop) {
		for i := 0; i < 100000; i++ {
			n += i * i % 7
		}
	}
	return n
}

// Profiling on: the CPU profile of the last (short) cycle is sent at Shutdown, with the
// service name, the run id label and the token; its samples taken in the span carry
// span_id and span_name; heap (with the previous heap as prev_profile after the first
// cycle) and goroutine profiles follow each cycle.
func TestProfileUploads(t *testing.T) {
	ing := newIngestServer(t)
	rcv := newReceiver(t)
	ctx := context.Background()
	s, err := start(ctx, Options{ServiceName: "burner", ServiceVersion: "1.2", Endpoint: rcv.URL, NoGlobal: true,
		ProfileInterval: 300 * time.Millisecond},
		env(map[string]string{"LOUPE_PROFILE": "1", "LOUPE_PROFILE_SERVER": ing.URL + "/", "LOUPE_RUN_ID": "0123abcd",
			"OTEL_EXPORTER_OTLP_HEADERS": "X-Scope=team%20a", "LOUPE_TOKEN": "loupe_tok"}))
	require.NoError(t, err)
	require.NotNil(t, s.profiler)

	spanCtx, span := s.Tracer("test").Start(ctx, "burn")
	require.Equal(t, span, trace.SpanFromContext(spanCtx), "the context holds the wrapping span")
	labels := map[string]string{}
	pprof.ForLabels(spanCtx, func(k, v string) bool { labels[k] = v; return true })
	spanID := span.SpanContext().SpanID().String()
	require.Equal(t, map[string]string{"span_id": spanID, "span_name": "burn"}, labels)
	_, child := s.Tracer("test").Start(spanCtx, "inner")
	child.End()
	burnInSpan(time.Now().Add(700 * time.Millisecond))
	span.End()
	require.NoError(t, s.Shutdown(ctx))

	got := ing.byName()
	const suffix = "{loupe_run_id=0123abcd,service_version=1.2}"
	cpu := got["burner.cpu"+suffix]
	require.NotEmpty(t, cpu, "uploads: %v", keys(got))
	var all []byte
	for _, u := range cpu {
		require.Equal(t, "pprof", u.query.Get("format"))
		require.Equal(t, "Bearer loupe_tok", u.header.Get("Authorization"))
		require.Equal(t, "team a", u.header.Get("X-Scope"))
		from, until := u.query.Get("from"), u.query.Get("until")
		require.Len(t, from, 19, "unix nanoseconds")
		require.LessOrEqual(t, from, until)
		all = append(all, u.parts["profile"]...)
	}
	// The string table of a pprof holds the function names and the label keys and values.
	for _, want := range []string{"sdk.burnInSpan", "span_id", spanID, "span_name", "burn"} {
		require.True(t, bytes.Contains(all, []byte(want)), "CPU profiles lack %q", want)
	}
	require.False(t, bytes.Contains(all, []byte("inner")), "child spans keep the root's labels")

	heaps := got["burner.heap"+suffix]
	require.GreaterOrEqual(t, len(heaps), 2)
	require.Empty(t, heaps[0].parts["prev_profile"])
	require.NotEmpty(t, heaps[1].parts["prev_profile"], "allocations are sent as deltas")
	require.NotEmpty(t, got["burner.goroutines"+suffix])

	// The labels are gone once the span ended.
	n := 0
	pprof.ForLabels(ctx, func(string, string) bool { n++; return true })
	require.Zero(t, n)
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// Off by default; LOUPE_PROFILE turns it on; without a known HTTP address it stays off
// with a warning rather than failing Start.
func TestProfileSettings(t *testing.T) {
	require.False(t, profileOn(Options{}, env(nil)))
	require.True(t, profileOn(Options{Profile: true}, env(nil)))
	require.True(t, profileOn(Options{}, env(map[string]string{"LOUPE_PROFILE": "true"})))
	require.False(t, profileOn(Options{}, env(map[string]string{"LOUPE_PROFILE": "0"})))

	f := func(o Options, e map[string]string, want string) {
		t.Helper()
		require.Equal(t, want, profileServer(o, env(e)))
	}
	f(Options{}, nil, "")
	f(Options{Endpoint: "http://loupe:4318"}, nil, "http://loupe:7070")
	f(Options{}, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://10.0.0.1:4317"}, "https://10.0.0.1:7070")
	f(Options{Endpoint: "http://127.0.0.1:39999"}, nil, "")
	f(Options{Endpoint: "http://127.0.0.1:39999"}, map[string]string{"LOUPE_PROFILE_SERVER": "http://127.0.0.1:40000/"}, "http://127.0.0.1:40000")
	f(Options{ProfileServer: "http://a:1"}, map[string]string{"LOUPE_PROFILE_SERVER": "http://b:2"}, "http://a:1")

	var log bytes.Buffer
	o := Options{Profile: true, Endpoint: "http://127.0.0.1:1", NoGlobal: true, NoRuntimeMetrics: true}
	o.ErrorLog = slog.New(slog.NewTextHandler(&log, nil))
	s, err := start(context.Background(), o, env(nil))
	require.NoError(t, err)
	require.Nil(t, s.profiler)
	require.Contains(t, log.String(), "LOUPE_PROFILE_SERVER")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)

	_, err = Options{ProfileInterval: -time.Second}.withDefaults(env(nil))
	require.ErrorContains(t, err, "profile interval")
	require.Equal(t, "a_b_c_d", nameSafe("a{b,c}d"))
	require.True(t, strings.HasPrefix(profileHeaders(env(map[string]string{"LOUPE_TOKEN": "x"})).Get("Authorization"), "Bearer "))
}

// BenchmarkRootSpan measures starting and ending a local root span, with profiling on
// (the span_id and span_name pprof labels set and restored) and off, exports going to a
// local sink in the background.
func BenchmarkRootSpan(b *testing.B) {
	for _, profile := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "profiled"}[profile], func(b *testing.B) {
			sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
			defer sink.Close()
			s, err := start(context.Background(), Options{ServiceName: "bench", Endpoint: sink.URL, NoGlobal: true, NoRuntimeMetrics: true,
				Profile: profile, ProfileServer: sink.URL, ProfileInterval: time.Hour}, env(nil))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			tr := s.Tracer("bench")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_, span := tr.Start(ctx, "request")
				span.End()
			}
		})
	}
}
