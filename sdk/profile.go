package sdk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Continuous profiling: a CPU profile every interval (runtime/pprof), and at the end of
// each cycle a heap and a goroutine snapshot, sent as pprof to Loupe's Pyroscope-compatible
// POST /ingest on the HTTP port (not the OTLP port: OTLP has no stable profiles signal
// yet). Only the standard library is used, so the SDK module stays small.

// DefaultProfileInterval is the length of one CPU profile (pyroscope-go's default too).
const DefaultProfileInterval = 10 * time.Second

// loupeHTTPPort is the default port of Loupe's HTTP listener (UI, query APIs, /ingest),
// guessed when the OTLP endpoint is on Loupe's default OTLP ports.
const loupeHTTPPort = "7070"

type profiler struct {
	client   *http.Client
	ingest   string // http://host:7070/ingest
	service  string
	labels   string // ",k=v,..." for the application name, sorted
	header   http.Header
	interval time.Duration
	errLog   *slog.Logger

	started  bool
	stop     chan struct{}
	done     chan struct{}
	prevHeap []byte // last heap profile, sent as prev_profile so allocations become deltas
}

// profileOn reports whether profiling is wanted: Options.Profile or LOUPE_PROFILE=1/true.
func profileOn(o Options, getenv func(string) string) bool {
	if o.Profile {
		return true
	}
	on, _ := strconv.ParseBool(strings.TrimSpace(getenv("LOUPE_PROFILE")))
	return on
}

// profileServer is the base URL of Loupe's HTTP port: Options.ProfileServer,
// LOUPE_PROFILE_SERVER, or the OTLP endpoint's host on port 7070 when that endpoint uses
// Loupe's default OTLP ports (4318, 4317). "" when none of these says it.
func profileServer(o Options, getenv func(string) string) string {
	for _, s := range []string{o.ProfileServer, getenv("LOUPE_PROFILE_SERVER")} {
		if s != "" {
			return strings.TrimRight(s, "/")
		}
	}
	ep := o.Endpoint
	if ep == "" {
		ep = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Port() != "4318" && u.Port() != "4317") {
		return ""
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), loupeHTTPPort)
}

// newProfiler checks the settings; it starts nothing.
func newProfiler(o Options, service string, getenv func(string) string) (*profiler, error) {
	base := profileServer(o, getenv)
	if base == "" {
		return nil, fmt.Errorf("profiling: Loupe's HTTP address is unknown (the OTLP endpoint is not on port 4318 or 4317); set Options.ProfileServer or LOUPE_PROFILE_SERVER, e.g. http://localhost:7070")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("profiling: server %q: want a URL such as http://localhost:7070", base)
	}
	labels := map[string]string{}
	for k, v := range o.ProfileLabels {
		labels[k] = v
	}
	if id := getenv("LOUPE_RUN_ID"); id != "" {
		if _, ok := labels["loupe_run_id"]; !ok {
			labels["loupe_run_id"] = id
		}
	}
	if o.ServiceVersion != "" {
		if _, ok := labels["service_version"]; !ok {
			labels["service_version"] = o.ServiceVersion
		}
	}
	var b strings.Builder
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("," + nameSafe(k) + "=" + nameSafe(labels[k]))
	}
	return &profiler{
		client:   &http.Client{Timeout: 10 * time.Second},
		ingest:   base + "/ingest",
		service:  nameSafe(service),
		labels:   b.String(),
		header:   profileHeaders(getenv),
		interval: o.ProfileInterval,
		errLog:   o.ErrorLog,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}, nil
}

// nameSafe replaces the characters that would end a label or the name in Pyroscope's
// "app.cpu{k=v,...}" syntax.
func nameSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '{' || r == '}' || r == ',' || r == '=' || r < 0x20 {
			return '_'
		}
		return r
	}, s)
}

// profileHeaders are the OTLP exporters' headers (OTEL_EXPORTER_OTLP_HEADERS, which is
// where `loupe run` and operators put the token), and LOUPE_TOKEN as a bearer token when
// those set no Authorization.
func profileHeaders(getenv func(string) string) http.Header {
	h := http.Header{}
	for _, kv := range strings.Split(getenv("OTEL_EXPORTER_OTLP_HEADERS"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		if dv, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			h.Set(k, dv)
		}
	}
	if tok := strings.TrimSpace(getenv("LOUPE_TOKEN")); tok != "" && h.Get("Authorization") == "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return h
}

// start runs the cycles in the background. When the CPU profiler is taken (the program
// profiles itself, or `go test -cpuprofile`), only the snapshots are sent.
func (p *profiler) start() {
	p.started = true
	go p.run()
}

func (p *profiler) run() {
	defer close(p.done)
	var cpu bytes.Buffer
	from := time.Now()
	cpuOn := p.startCPU(&cpu)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		stopping := false
		select {
		case <-t.C:
		case <-p.stop:
			stopping = true
		}
		until := time.Now()
		if cpuOn {
			pprof.StopCPUProfile()
		}
		body := bytes.Clone(cpu.Bytes())
		cpu.Reset()
		wasOn := cpuOn
		if !stopping {
			// The next cycle starts before this one is sent, so no CPU time goes unseen.
			cpuOn = p.startCPU(&cpu)
		}
		if wasOn && len(body) > 0 {
			p.send("cpu", body, nil, from, until)
		}
		p.snapshots(from, until)
		from = until
		if stopping {
			return
		}
	}
}

func (p *profiler) startCPU(w io.Writer) bool {
	if err := pprof.StartCPUProfile(w); err != nil {
		p.errLog.Warn("loupe sdk: CPU profiling is off, sending heap and goroutine profiles only", "err", err)
		return false
	}
	return true
}

// snapshots sends the heap profile (with the previous one, so that Loupe stores the
// allocations of this cycle rather than since the start) and the goroutines.
func (p *profiler) snapshots(from, until time.Time) {
	var heap, gor bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&heap, 0); err == nil {
		p.send("heap", heap.Bytes(), p.prevHeap, from, until)
		p.prevHeap = heap.Bytes()
	}
	if err := pprof.Lookup("goroutine").WriteTo(&gor, 0); err == nil {
		p.send("goroutines", gor.Bytes(), nil, from, until)
	}
}

// send posts one pprof as pyroscope-go does: multipart with the parts profile and
// prev_profile, the type as the suffix of the application name.
func (p *profiler) send(kind string, prof, prev []byte, from, until time.Time) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct {
		name string
		data []byte
	}{{"profile", prof}, {"prev_profile", prev}} {
		if len(part.data) == 0 {
			continue
		}
		w, err := mw.CreateFormFile(part.name, part.name+".pprof")
		if err != nil {
			return
		}
		_, _ = w.Write(part.data)
	}
	_ = mw.Close()
	q := url.Values{
		"name":       {p.service + "." + kind + "{" + strings.TrimPrefix(p.labels, ",") + "}"},
		"from":       {strconv.FormatInt(from.UnixNano(), 10)},
		"until":      {strconv.FormatInt(until.UnixNano(), 10)},
		"spyName":    {"gospy"},
		"sampleRate": {"100"},
		"format":     {"pprof"},
	}
	req, err := http.NewRequest(http.MethodPost, p.ingest+"?"+q.Encode(), &body)
	if err != nil {
		p.errLog.Warn("loupe sdk: profile upload", "err", err)
		return
	}
	for k, v := range p.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := p.client.Do(req)
	if err != nil {
		p.errLog.Warn("loupe sdk: profile upload", "type", kind, "err", err)
		return
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		p.errLog.Warn("loupe sdk: profile upload", "type", kind, "status", resp.Status, "body", strings.TrimSpace(string(msg)))
	}
}

// shutdown ends the current cycle and sends it (a short job's only profile), giving up
// when ctx is done.
func (p *profiler) shutdown(ctx context.Context) error {
	if p == nil || !p.started {
		return nil
	}
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("profiles: %w", ctx.Err())
	}
}
