package pyroscope

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/grafana/pyroscope-go/upstream"
	"github.com/grafana/pyroscope-go/upstream/remote"

	"github.com/loupe-dev/loupe/internal/store"
)

// recorder is a store.ProfileWriter keeping what it is given.
type recorder struct {
	mu  sync.Mutex
	ps  []store.Profile
	err error
}

func (r *recorder) WriteProfiles(_ context.Context, ps []store.Profile) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.ps = append(r.ps, ps...)
	return nil
}

func (r *recorder) types() map[string]store.Profile {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]store.Profile{}
	for _, p := range r.ps {
		m[p.Type.ID()] = p
	}
	return m
}

func cpuProfile() []byte {
	f := &profile.Function{ID: 1, Name: "main.burnCPU", Filename: "/src/main.go"}
	m := &profile.Function{ID: 2, Name: "main.main", Filename: "/src/main.go"}
	l1 := &profile.Location{ID: 1, Line: []profile.Line{{Function: f}}}
	l2 := &profile.Location{ID: 2, Line: []profile.Line{{Function: m}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 10_000_000,
		Function: []*profile.Function{f, m}, Location: []*profile.Location{l1, l2},
		Sample: []*profile.Sample{{Location: []*profile.Location{l1, l2}, Value: []int64{5, 50_000_000},
			Label: map[string][]string{"span_id": {"0123456789abcdef"}, "span_name": {"work"}}}},
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
}

type errLogger struct {
	mu   sync.Mutex
	errs []string
}

func (l *errLogger) Infof(string, ...interface{})  {}
func (l *errLogger) Debugf(string, ...interface{}) {}
func (l *errLogger) Errorf(f string, a ...interface{}) {
	l.mu.Lock()
	l.errs = append(l.errs, fmt.Sprintf(f, a...))
	l.mu.Unlock()
}

// TestPyroscopeGoUpload sends with pyroscope-go's own uploader, as its profiler does.
func TestPyroscopeGoUpload(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(NewHandler(rec, DefaultOptions(), nil, nil))
	defer srv.Close()
	log := &errLogger{}
	up, err := remote.NewRemote(remote.Config{Address: srv.URL, Threads: 1, Timeout: 10 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	up.Start()
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	up.Upload(&upstream.UploadJob{
		Name:      "checkout{__session_id__=abc,otel.scope.name=com.grafana.pyroscope/go,env=prod}",
		StartTime: start, EndTime: start.Add(10 * time.Second),
		SpyName: "gospy", SampleRate: 100, Units: "samples", AggregationType: "sum",
		Format: upstream.FormatPprof, Profile: cpuProfile(),
	})
	up.Upload(&upstream.UploadJob{
		Name:      "checkout{env=prod}",
		StartTime: start, EndTime: start.Add(10 * time.Second), SpyName: "gospy",
		Format: upstream.FormatPprof, Profile: contentionProfile(),
		SampleTypeConfig: map[string]*upstream.SampleType{
			"contentions": {DisplayName: "block_count", Units: "lock_samples"},
			"delay":       {DisplayName: "block_duration", Units: "lock_nanoseconds"},
		},
	})
	up.Flush()
	up.Stop()
	if len(log.errs) > 0 {
		t.Fatalf("uploader errors: %v", log.errs)
	}
	got := rec.types()
	cpu, ok := got["process_cpu:cpu:nanoseconds:cpu:nanoseconds"]
	if !ok {
		t.Fatalf("no cpu profile in %v", got)
	}
	want := map[string]string{"service_name": "checkout", "env": "prod", "otel_scope_name": "com.grafana.pyroscope/go", "pyroscope_spy": "gospy"}
	if fmt.Sprint(cpu.Labels) != fmt.Sprint(want) {
		t.Errorf("labels %v, want %v", cpu.Labels, want)
	}
	s := cpu.Samples[0]
	if s.Value != 50_000_000 || s.SpanID != "0123456789abcdef" || s.SpanName != "work" || s.Stack[0].Function != "main.burnCPU" {
		t.Errorf("sample %+v", s)
	}
	if !cpu.Time.Equal(start) || cpu.Duration != 10*time.Second {
		t.Errorf("time %s duration %s, want from/until (the profile has none)", cpu.Time, cpu.Duration)
	}
	for _, id := range []string{"process_cpu:samples:count:cpu:nanoseconds", "block:contentions:count:contentions:count", "block:delay:nanoseconds:contentions:count"} {
		if _, ok := got[id]; !ok {
			t.Errorf("no %s in %v", id, keys(got))
		}
	}
}

func keys(m map[string]store.Profile) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return s
}

func contentionProfile() []byte {
	f := &profile.Function{ID: 1, Name: "sync.(*Mutex).Lock"}
	l := &profile.Location{ID: 1, Line: []profile.Line{{Function: f}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "contentions", Unit: "count"}, {Type: "delay", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "contentions", Unit: "count"}, Period: 1,
		Function: []*profile.Function{f}, Location: []*profile.Location{l},
		Sample: []*profile.Sample{{Location: []*profile.Location{l}, Value: []int64{3, 3000}}},
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func post(t *testing.T, h http.Handler, query string, contentType string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/ingest?"+query, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestFolded(t *testing.T) {
	rec := &recorder{}
	h := NewHandler(rec, DefaultOptions(), nil, nil)
	q := url.Values{"name": {"shop.cpu{env=prod,region=eu}"}, "from": {"1765000000"}, "until": {"1765000010"}, "sampleRate": {"100"}, "spyName": {"pyspy"}}
	w := post(t, h, q.Encode(), "", []byte("main;work 7\nmain;idle 3\n"))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	p := rec.types()["process_cpu:cpu:nanoseconds:cpu:nanoseconds"]
	if p.Labels["service_name"] != "shop" || p.Labels["region"] != "eu" || !p.Time.Equal(time.Unix(1765000000, 0)) || p.Duration != 10*time.Second {
		t.Fatalf("profile %+v", p)
	}
	if p.Samples[0].Value != 70_000_000 {
		t.Errorf("value %d, want 7 samples at 100 Hz", p.Samples[0].Value)
	}
}

func TestBadRequests(t *testing.T) {
	rec := &recorder{}
	h := NewHandler(rec, DefaultOptions(), nil, nil)
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 80<<20))
	zw.Close()
	cpu := cpuProfile()
	f := func(query, contentType string, body []byte, status int, want string) {
		t.Helper()
		w := post(t, h, query, contentType, body)
		if w.Code != status || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d %q, want %d containing %q", query, w.Code, w.Body, status, want)
		}
	}
	f("", "", cpu, 400, "parameter name")
	f("name={a=b}", "", cpu, 400, "parameter name")
	f("name=app{a}", "", cpu, 400, "parameter name")
	f("name=app{a=b", "", cpu, 400, "parameter name")
	f("name=app&from=yesterday", "", cpu, 400, "parameter from")
	f("name=app&until=x", "", cpu, 400, "parameter until")
	f("name=app&from=200&until=-1", "", cpu, 400, "parameter until")
	f("name=app&format=xml", "", cpu, 400, "parameter format")
	f("name=app&format=trie", "", cpu, 415, "parameter format")
	f("name=app&sampleRate=-1", "", cpu, 400, "parameter sampleRate")
	f("name=app.nope&format=folded", "", []byte("a 1"), 200, "") // unknown suffix: part of the service name
	f("name=app&format=pprof", "", []byte("garbage"), 400, "profile")
	f("name=app&format=pprof", "", cpu[:len(cpu)/2], 400, "profile")
	f("name=app&format=pprof", "", bomb.Bytes(), 413, "limit DecompressedBytes")
	f("name=app&format=folded", "", []byte("a;b\n"), 400, "line 1")
	f("name=app", "multipart/form-data; boundary=x", []byte("--x--\r\n"), 400, "no profile part")
	r := httptest.NewRequest(http.MethodGet, "/ingest?name=app", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 405 {
		t.Errorf("GET: %d", w.Code)
	}
	if len(rec.ps) != 1 {
		t.Errorf("stored %d profiles, want only the app.nope one", len(rec.ps))
	}
	// until before from, as pyroscope-go's last upload sends it: stored with no duration.
	f("name=app.cpu&format=folded&from=1765000000500&until=1765000000", "", []byte("a 1"), 200, "")
	if p := rec.ps[len(rec.ps)-1]; p.Duration != 0 || !p.Time.Equal(time.UnixMilli(1765000000500)) {
		t.Errorf("until before from: time %s duration %s", p.Time, p.Duration)
	}

	rec.err = errors.New("disk on fire")
	w = post(t, h, "name=app&format=pprof", "", cpu)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("store failure: %d %q", w.Code, w.Body)
	}
}

// blocking is a writer that waits until released, to fill the handler's slots.
type blocking struct{ release chan struct{} }

func (b blocking) WriteProfiles(ctx context.Context, _ []store.Profile) error {
	<-b.release
	return nil
}

func TestInFlightLimit(t *testing.T) {
	b := blocking{release: make(chan struct{})}
	o := DefaultOptions()
	o.MaxInFlight = 1
	h := NewHandler(b, o, nil, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	done := make(chan int)
	go func() {
		resp, err := http.Post(srv.URL+"/ingest?name=app&format=pprof", "", bytes.NewReader(cpuProfile()))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	// Wait until the first upload holds the slot.
	for deadline := time.Now().Add(10 * time.Second); len(h.slots) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("first upload never started")
		}
		time.Sleep(time.Millisecond)
	}
	resp, err := http.Post(srv.URL+"/ingest?name=app&format=pprof", "", bytes.NewReader(cpuProfile()))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second upload: %d, want 429 with Retry-After", resp.StatusCode)
	}
	close(b.release)
	if code := <-done; code != 200 {
		t.Errorf("first upload: %d", code)
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	want := time.Unix(1765000000, 0)
	for _, s := range []string{"1765000000", "1765000000000", "1765000000000000", "1765000000000000000", want.Format(time.RFC3339)} {
		got, err := parseTime(s, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %s, %v", s, got, err)
		}
	}
	if got, _ := parseTime("now-1h", now); !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("now-1h: %s", got)
	}
}
