package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// Scenario groups Run can run.
const (
	ScenarioIngest    = "ingest"    // logs, spans and samples into fresh servers; disk per item
	ScenarioClients   = "clients"   // logs and spans from clients building requests as they send (clients.go)
	ScenarioPeer      = "peer"      // the sample scenario against Prometheus or an external peer
	ScenarioQuery     = "query"     // query latency on a loaded data dir
	ScenarioFootprint = "footprint" // idle RSS, RSS under sustained load, startup time
	ScenarioErrors    = "errors"    // Sentry error events; logs with and without them beside (errors.go)
	ScenarioProfiles  = "profiles"  // pprof pushes to /ingest; a day of one service's flame graph (profiles.go)
)

// Options configures a harness run. Sizes are items per scenario.
type Options struct {
	LoupeBin      string // the loupe binary to start
	PrometheusBin string // Debian's prometheus for the side-by-side run; "" skips it
	// Peer is an already running server to measure like Prometheus (by pid and remote-write
	// endpoint); nil for none.
	Peer *PeerOptions
	// WorkDir holds every fresh data directory; it must be empty or absent.
	WorkDir   string
	Scenarios []string
	Seed      uint64

	LogRecords     int // logs over OTLP/HTTP protobuf
	LogBatch       int
	Spans          int // spans over OTLP/gRPC
	SpanBatch      int
	Series         int // active series over remote write
	MetricDuration time.Duration
	Concurrency    int

	// The client scenarios (clients.go): ClientLogs log records and ClientSpans spans from
	// Clients clients sending ClientBatch items per request.
	ClientLogs  int
	ClientSpans int
	Clients     int
	ClientBatch int

	// The errors scenario (errors.go): ErrorEvents events from ErrorClients clients with
	// one envelope in flight each; then the log clients' records with error events at
	// ErrorRate per second beside them.
	ErrorEvents  int
	ErrorClients int
	ErrorRate    float64

	// The profiles scenario (profiles.go): ProfileServices services pushing a CPU, heap
	// and goroutine profile ProfileRounds times from ProfileClients clients; then
	// ProfileBackfill 10 s CPU profiles of one service, and its flame graph QueryRuns times.
	ProfileServices int
	ProfileRounds   int
	ProfileClients  int
	ProfileBackfill int

	QueryLogs     int // dataset for the query scenarios
	QuerySpans    int
	QuerySeries   int
	QueryRuns     int
	SustainedRate float64 // logs/s for the RSS-under-load figure
	SustainedFor  time.Duration

	// ProfileDir, when set, receives a CPU profile of the server during each Loupe ingest
	// scenario and a heap profile after it, with their top functions:
	// <ProfilePrefix><scenario>.cpu.pprof, .cpu.top.txt, .heap.pprof, .heap.top.txt.
	ProfileDir    string
	ProfilePrefix string
	// ProfileChunk is the length of each CPU profile request (default 10s); the last one
	// may run this long past the scenario.
	ProfileChunk time.Duration

	Progress io.Writer // progress lines; nil for none
}

// PeerOptions describes an external server measured the same way as Prometheus.
type PeerOptions struct {
	Name           string
	Pid            int
	RemoteWriteURL string // base URL; the sender appends /api/v1/write
	DataDir        string // measured for bytes on disk; may be ""
}

// DefaultOptions returns sizes that run in a few minutes on a shared 2-core machine.
func DefaultOptions() Options {
	return Options{
		PrometheusBin: "/usr/bin/prometheus",
		Scenarios:     []string{ScenarioIngest, ScenarioClients, ScenarioErrors, ScenarioProfiles, ScenarioPeer, ScenarioQuery, ScenarioFootprint},
		Seed:          1,
		LogRecords:    1_000_000, LogBatch: 1000,
		Spans: 500_000, SpanBatch: 1000,
		Series: 2000, MetricDuration: 5 * time.Hour,
		Concurrency: 4,
		ClientLogs:  300_000, ClientSpans: 300_000, Clients: 2, ClientBatch: 512,
		ErrorEvents: 30_000, ErrorClients: 32, ErrorRate: 200,
		ProfileServices: 100, ProfileRounds: 6, ProfileClients: 2, ProfileBackfill: 8640,
		QueryLogs: 1_000_000, QuerySpans: 1_000_000, QuerySeries: 10_000, QueryRuns: 20,
		SustainedRate: 50_000, SustainedFor: 20 * time.Second,
	}
}

// SmokeOptions returns tiny sizes that exercise every scenario in seconds.
func SmokeOptions() Options {
	o := DefaultOptions()
	o.LogRecords, o.LogBatch = 5000, 1000
	o.Spans, o.SpanBatch = 3000, 500
	o.Series, o.MetricDuration = 100, 4*time.Hour
	o.Concurrency = 2
	o.ClientLogs, o.ClientSpans = 3000, 3000
	o.ErrorEvents, o.ErrorClients, o.ErrorRate = 300, 4, 50
	o.ProfileServices, o.ProfileRounds, o.ProfileBackfill = 3, 1, 30
	o.QueryLogs, o.QuerySpans, o.QuerySeries, o.QueryRuns = 5000, 3000, 100, 2
	o.SustainedRate, o.SustainedFor = 5000, time.Second
	o.ProfileChunk = time.Second
	return o
}

// Harness runs the scenarios.
type Harness struct {
	opts Options
}

// New returns a harness; it checks the options but starts nothing.
func New(opts Options) (*Harness, error) {
	if opts.LoupeBin == "" || opts.WorkDir == "" {
		return nil, errors.New("harness: LoupeBin and WorkDir are required")
	}
	if opts.Concurrency <= 0 || opts.LogBatch <= 0 || opts.SpanBatch <= 0 {
		return nil, fmt.Errorf("harness: concurrency %d, log batch %d, span batch %d must be positive", opts.Concurrency, opts.LogBatch, opts.SpanBatch)
	}
	if (slices.Contains(opts.Scenarios, ScenarioClients) || slices.Contains(opts.Scenarios, ScenarioErrors)) && (opts.Clients <= 0 || opts.ClientBatch <= 0) {
		return nil, fmt.Errorf("harness: clients %d and client batch %d must be positive", opts.Clients, opts.ClientBatch)
	}
	if slices.Contains(opts.Scenarios, ScenarioErrors) && (opts.ErrorEvents <= 0 || opts.ErrorClients <= 0 || opts.ErrorRate < 0) {
		return nil, fmt.Errorf("harness: error events %d and error clients %d must be positive, error rate %g not negative", opts.ErrorEvents, opts.ErrorClients, opts.ErrorRate)
	}
	if slices.Contains(opts.Scenarios, ScenarioProfiles) && (opts.ProfileServices <= 0 || opts.ProfileRounds <= 0 || opts.ProfileClients <= 0 || opts.ProfileBackfill <= 0 || opts.QueryRuns <= 0) {
		return nil, fmt.Errorf("harness: profile services %d, rounds %d, clients %d, backfill %d and query runs %d must be positive",
			opts.ProfileServices, opts.ProfileRounds, opts.ProfileClients, opts.ProfileBackfill, opts.QueryRuns)
	}
	if entries, err := os.ReadDir(opts.WorkDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("harness: work dir %s is not empty", opts.WorkDir)
	}
	return &Harness{opts: opts}, nil
}

func (h *Harness) logf(format string, args ...any) {
	if h.opts.Progress != nil {
		fmt.Fprintf(h.opts.Progress, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
}

func (h *Harness) wants(s string) bool { return slices.Contains(h.opts.Scenarios, s) }

// Machine describes where the figures come from.
type Machine struct {
	CPUs        int    `json:"cpus"`
	GoVersion   string `json:"go_version"`
	LoadAvgPre  string `json:"loadavg_before"`
	LoadAvgPost string `json:"loadavg_after"`
	// Loupe is what `loupe version` printed for the binary under test.
	Loupe string `json:"loupe_version"`
}

// Report is everything a run measured.
type Report struct {
	Started  time.Time       `json:"started"`
	Duration string          `json:"duration"`
	Machine  Machine         `json:"machine"`
	Options  Options         `json:"options"`
	Ingest   []IngestResult  `json:"ingest"`
	Queries  []QueryResult   `json:"queries,omitempty"`
	Dataset  *DatasetInfo    `json:"query_dataset,omitempty"`
	Foot     *Footprint      `json:"footprint,omitempty"`
	Profiles *ProfilesResult `json:"profiles,omitempty"`
	Targets  []TargetCheck   `json:"targets"`
	Errors   []string        `json:"errors,omitempty"`
}

// Run runs the chosen scenarios and returns what they measured. A failing scenario is
// recorded in Report.Errors and the others still run.
func (h *Harness) Run(ctx context.Context) (*Report, error) {
	o := h.opts
	rep := &Report{Started: time.Now().UTC(), Options: o,
		Machine: Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAvgPre: LoadAvg()}}
	rep.Options.Progress = nil
	if out, err := exec.CommandContext(ctx, o.LoupeBin, "version").Output(); err == nil {
		rep.Machine.Loupe = strings.TrimSpace(string(out))
	}
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, err
	}
	fail := func(what string, err error) {
		h.logf("%s: %v", what, err)
		rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", what, err))
	}
	run := loadgen.RunOptions{Concurrency: o.Concurrency, MaxRetries: 50}

	var metricCorpus *Corpus
	if h.wants(ScenarioIngest) || h.wants(ScenarioPeer) {
		var err error
		metricCorpus, err = h.metricCorpus(o.Series, o.MetricDuration, time.Now().Add(-o.MetricDuration))
		if err != nil {
			return nil, err
		}
	}
	if h.wants(ScenarioIngest) {
		h.logf("generating %d log records and %d spans", o.LogRecords, o.Spans)
		logs, err := h.logCorpus(o.LogRecords, time.Now().Add(-time.Hour), time.Hour)
		if err != nil {
			return nil, err
		}
		if r, err := h.ingestLoupe(ctx, "logs", logs, run); err != nil {
			fail("ingest logs", err)
		} else {
			rep.Ingest = append(rep.Ingest, r)
		}
		logs = nil
		spans, _, err := h.spanCorpus(o.Spans, time.Now().Add(-time.Hour), time.Hour, loadgen.OTLPGRPC)
		if err != nil {
			return nil, err
		}
		if r, err := h.ingestLoupe(ctx, "spans", spans, run); err != nil {
			fail("ingest spans", err)
		} else {
			rep.Ingest = append(rep.Ingest, r)
		}
		spans = nil
		if r, err := h.ingestLoupe(ctx, "samples", metricCorpus, h.metricRun()); err != nil {
			fail("ingest samples", err)
		} else {
			rep.Ingest = append(rep.Ingest, r)
		}
		rw2, err := h.metricCorpusV2(o.Series, o.MetricDuration, time.Now().Add(-o.MetricDuration))
		if err != nil {
			return nil, err
		}
		if r, err := h.ingestLoupe(ctx, "samples-rw2", rw2, h.metricRun()); err != nil {
			fail("ingest samples over remote write 2.0", err)
		} else {
			rep.Ingest = append(rep.Ingest, r)
		}
	}
	if h.wants(ScenarioClients) {
		h.runClientScenarios(ctx, rep, fail)
	}
	if h.wants(ScenarioErrors) {
		h.runErrorScenarios(ctx, rep, fail)
	}
	if h.wants(ScenarioProfiles) {
		h.runProfileScenarios(ctx, rep, fail)
	}
	if h.wants(ScenarioPeer) {
		if o.PrometheusBin != "" {
			if r, err := h.ingestPrometheus(ctx, metricCorpus); err != nil {
				fail("ingest samples into prometheus", err)
			} else {
				rep.Ingest = append(rep.Ingest, r)
			}
		}
		if o.Peer != nil {
			if r, err := h.ingestPeer(ctx, metricCorpus); err != nil {
				fail("ingest samples into "+o.Peer.Name, err)
			} else {
				rep.Ingest = append(rep.Ingest, r)
			}
		}
	}
	metricCorpus = nil
	if h.wants(ScenarioQuery) || h.wants(ScenarioFootprint) {
		if err := h.queryAndFootprint(ctx, rep); err != nil {
			fail("queries and footprint", err)
		}
	}
	rep.Machine.LoadAvgPost = LoadAvg()
	rep.Duration = time.Since(rep.Started).Round(time.Second).String()
	rep.Targets = checkTargets(rep)
	return rep, nil
}

// metricRun sends each shard from its own worker so every series stays in time order.
func (h *Harness) metricRun() loadgen.RunOptions {
	return loadgen.RunOptions{Concurrency: h.opts.Concurrency, MaxRetries: 50}
}

func (h *Harness) logCorpus(n int, start time.Time, span time.Duration) (*Corpus, error) {
	lo := loadgen.DefaultLogOptions()
	lo.Seed, lo.BatchSize, lo.Start = h.opts.Seed, h.opts.LogBatch, start
	lo.Interval = max(time.Nanosecond, span/time.Duration(max(1, n)))
	lo.NeedleEvery = max(1, min(n, 1_000_000))
	g, err := loadgen.NewLogGen(lo)
	if err != nil {
		return nil, err
	}
	return NewCorpus(loadgen.Logs, loadgen.OTLPHTTP, loadgen.LogSource(g, n))
}

func (h *Harness) spanCorpus(n int, start time.Time, span time.Duration, protocol string) (*Corpus, *loadgen.TraceGen, error) {
	to := loadgen.DefaultTraceOptions()
	to.Seed, to.BatchSpans, to.Start = h.opts.Seed, h.opts.SpanBatch, start
	to.Interval = max(time.Microsecond, span/time.Duration(max(1, n/17))) // ~17 spans per trace on average
	g, err := loadgen.NewTraceGen(to)
	if err != nil {
		return nil, nil, err
	}
	c, err := NewCorpus(loadgen.Traces, protocol, loadgen.TraceSource(g, n))
	return c, g, err
}

func (h *Harness) metricCorpus(series int, span time.Duration, start time.Time) (*Corpus, error) {
	mo := loadgen.DefaultMetricOptions()
	mo.Seed, mo.Series, mo.Start = h.opts.Seed, series, start
	mo.Steps = max(1, int(span/mo.Interval))
	mo.Shards = h.opts.Concurrency
	g, err := loadgen.NewMetricGen(mo)
	if err != nil {
		return nil, err
	}
	h.logf("generating %d series x %d steps = %d samples", g.Series(), mo.Steps, g.Samples())
	return NewCorpus(loadgen.Metrics, loadgen.RemoteWrite, loadgen.SourceFunc(g.NextRemoteWrite))
}

// metricCorpusV2 is metricCorpus in the remote-write 2.0 format (Prometheus 2.42 does not
// take it, so it runs against Loupe only).
func (h *Harness) metricCorpusV2(series int, span time.Duration, start time.Time) (*Corpus, error) {
	mo := loadgen.DefaultMetricOptions()
	mo.Seed, mo.Series, mo.Start = h.opts.Seed, series, start
	mo.Steps = max(1, int(span/mo.Interval))
	mo.Shards = h.opts.Concurrency
	g, err := loadgen.NewMetricGen(mo)
	if err != nil {
		return nil, err
	}
	return NewCorpus(loadgen.Metrics, loadgen.RemoteWrite2, loadgen.SourceFunc(g.NextRemoteWriteV2))
}

// ingestPrometheus runs the sample scenario against a fresh Prometheus.
func (h *Harness) ingestPrometheus(ctx context.Context, c *Corpus) (IngestResult, error) {
	srv, err := StartPrometheus(ctx, h.opts.PrometheusBin, filepath.Join(h.opts.WorkDir, "prometheus"))
	if err != nil {
		return IngestResult{}, err
	}
	defer srv.Stop(time.Minute)
	sender, err := loadgen.NewSender(loadgen.RemoteWrite, loadgen.Metrics, srv.HTTP, h.opts.Concurrency)
	if err != nil {
		return IngestResult{}, err
	}
	defer sender.Close()
	h.logf("ingest samples into prometheus (pid %d): %d samples", srv.Pid, c.Items)
	res, err := runIngest(ctx, "samples", IngestTarget{Server: srv, Sender: sender, DiskDir: srv.DataDir,
		TSDBDir: srv.DataDir, Stop: func() error { return srv.Stop(2 * time.Minute) }}, c, h.metricRun())
	if err == nil {
		h.logf("  %.0f samples/CPU-s, %.0f samples/s, %.2f B/sample in blocks", res.ItemsPerCPUSecond, res.ItemsPerSecond, res.BlockBytesPerSample)
	}
	return res, err
}

// ingestPeer runs the sample scenario against an external, already running server.
func (h *Harness) ingestPeer(ctx context.Context, c *Corpus) (IngestResult, error) {
	p := h.opts.Peer
	srv := &Server{Name: p.Name, Pid: p.Pid, HTTP: p.RemoteWriteURL, DataDir: p.DataDir}
	sender, err := loadgen.NewSender(loadgen.RemoteWrite, loadgen.Metrics, p.RemoteWriteURL, h.opts.Concurrency)
	if err != nil {
		return IngestResult{}, err
	}
	defer sender.Close()
	t := IngestTarget{Server: srv, Sender: sender, DiskDir: p.DataDir}
	return runIngest(ctx, "samples", t, c, h.metricRun())
}
