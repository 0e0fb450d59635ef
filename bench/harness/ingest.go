package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// Corpus is a pre-generated set of batches for one ingest scenario, so that generating
// and encoding cost nothing while the server is being measured.
type Corpus struct {
	Signal   string
	Protocol string
	Batches  []loadgen.Batch
	Items    int
	Bytes    int64
	// ZstdBytes is the `zstd -3` size of the same items as OTLP protobuf (0 when the
	// protocol is not OTLP).
	ZstdBytes int64
	// Clients, when set, replace Batches: each source is one client that builds its
	// requests while the server is measured (loadgen.RunClients); Items is then the
	// count they aim at and the result reports what they sent.
	Clients []loadgen.Source
}

// NewCorpus collects src and computes its size and, for OTLP, its zstd reference.
func NewCorpus(signal, protocol string, src loadgen.Source) (*Corpus, error) {
	batches, err := loadgen.Collect(src)
	if err != nil {
		return nil, err
	}
	c := &Corpus{Signal: signal, Protocol: protocol, Batches: batches}
	for _, b := range batches {
		c.Items += b.Items
		c.Bytes += int64(len(b.Body))
	}
	if protocol == loadgen.OTLPHTTP || protocol == loadgen.OTLPGRPC {
		if c.ZstdBytes, err = ZstdSize(batches); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// IngestResult is one ingest scenario against one server.
type IngestResult struct {
	Scenario string         `json:"scenario"`
	Server   string         `json:"server"`
	Protocol string         `json:"protocol"`
	Items    int            `json:"items"`
	Load     loadgen.Result `json:"load"`
	// CPUSeconds is the server's CPU time from the first request to the last answer;
	// CPUSecondsSettled adds what it spent afterwards until idle (flushes, compaction).
	CPUSeconds        float64 `json:"server_cpu_seconds"`
	CPUSecondsSettled float64 `json:"server_cpu_seconds_settled"`
	ItemsPerCPUSecond float64 `json:"items_per_cpu_second"`
	ItemsPerSecond    float64 `json:"items_per_second"`
	RSSPeakBytes      int64   `json:"rss_peak_bytes"`
	RSSSteadyBytes    int64   `json:"rss_steady_bytes"`
	// DiskBytes is the data directory after a clean shutdown; BytesPerItem divides it by
	// the accepted items.
	DiskBytes    int64   `json:"disk_bytes"`
	BytesPerItem float64 `json:"bytes_per_item"`
	// For a Prometheus TSDB: the persisted blocks only (the head compacted), and the
	// samples they hold.
	BlockBytes          int64   `json:"block_bytes,omitempty"`
	BlockSamples        int64   `json:"block_samples,omitempty"`
	BlockBytesPerSample float64 `json:"block_bytes_per_sample,omitempty"`
	// ZstdBytes is the `zstd -3` size of the items as OTLP protobuf, ZstdRatio DiskBytes
	// divided by it.
	ZstdBytes int64   `json:"zstd_reference_bytes,omitempty"`
	ZstdRatio float64 `json:"disk_to_zstd_ratio,omitempty"`
	LoadAvg   string  `json:"loadavg_after"`
	// StartupMs is the server's time from exec to ready on its fresh data directory.
	StartupMs float64 `json:"startup_ms,omitempty"`
	// Profiles are the saved CPU and heap profiles of the server (Loupe only, when
	// Options.ProfileDir is set).
	Profiles *ProfileFiles `json:"profiles,omitempty"`
	// For a scenario run with error events sent beside it (errors.go): the events the
	// server accepted meanwhile, and the CPU they cost it, estimated from the same events
	// sent alone; ItemsPerCPUSecond then leaves that CPU out.
	SideErrorEvents     int     `json:"side_error_events,omitempty"`
	SideErrorCPUSeconds float64 `json:"side_error_cpu_seconds,omitempty"`
}

// IngestTarget tells runIngest where a server keeps what it stores.
type IngestTarget struct {
	Server  *Server
	Sender  loadgen.Sender
	DiskDir string // directory whose size is the stored data
	TSDBDir string // Prometheus TSDB directory to wait for a compacted block in, or ""
	// Stop shuts the server down (nil for an external peer, which is measured running).
	Stop func() error
	// Profile, when not nil, is recording the server's CPU profile; runIngest finishes it
	// (and takes the heap profile) once the server settled.
	Profile *profileRun
	// Side, when not nil, starts load sent beside the corpus from the first request until
	// the corpus is sent; the function it returns stops it and returns what the server
	// accepted of it.
	Side func(ctx context.Context) (stop func() int)
}

// runIngest sends the corpus and measures the server around it.
func runIngest(ctx context.Context, scenario string, t IngestTarget, c *Corpus, run loadgen.RunOptions) (IngestResult, error) {
	res := IngestResult{Scenario: scenario, Server: t.Server.Name, Protocol: c.Protocol, Items: c.Items}
	cpu0, err := CPUTime(t.Server.Pid)
	if err != nil {
		return res, err
	}
	var stopSide func() int
	if t.Side != nil {
		stopSide = t.Side(ctx)
	}
	var load loadgen.Result
	if c.Clients != nil {
		load, err = loadgen.RunClients(ctx, t.Sender, c.Clients, run.MaxRetries)
		res.Items = load.Items
	} else {
		load, err = loadgen.Run(ctx, t.Sender, loadgen.SliceSource(c.Batches), run)
	}
	res.Load = load
	if stopSide != nil {
		res.SideErrorEvents = stopSide()
	}
	if err != nil {
		return res, fmt.Errorf("%s against %s: %w", scenario, t.Server.Name, err)
	}
	cpu1, err := CPUTime(t.Server.Pid)
	if err != nil {
		return res, err
	}
	if t.TSDBDir != "" {
		waitForBlock(t.TSDBDir, 90*time.Second)
	}
	cpu2, err := settle(t.Server.Pid, 60*time.Second)
	if err != nil {
		return res, err
	}
	res.RSSSteadyBytes, res.RSSPeakBytes, err = Memory(t.Server.Pid)
	if err != nil {
		return res, err
	}
	res.LoadAvg = LoadAvg()
	if t.Profile != nil {
		files := t.Profile.finish(ctx)
		res.Profiles = &files
	}
	res.CPUSeconds = (cpu1 - cpu0).Seconds()
	res.CPUSecondsSettled = (cpu2 - cpu0).Seconds()
	if res.CPUSecondsSettled > 0 {
		res.ItemsPerCPUSecond = float64(load.Accepted) / res.CPUSecondsSettled
	}
	res.ItemsPerSecond = load.ItemsPerS
	if t.Stop != nil {
		if err := t.Stop(); err != nil {
			return res, err
		}
	}
	if t.DiskDir == "" {
		return res, nil // an external peer whose data directory we were not told
	}
	if res.DiskBytes, err = DirSize(t.DiskDir); err != nil {
		return res, fmt.Errorf("size of %s: %w", t.DiskDir, err)
	}
	if load.Accepted > 0 {
		res.BytesPerItem = float64(res.DiskBytes) / float64(load.Accepted)
	}
	if t.TSDBDir != "" {
		res.BlockBytes, res.BlockSamples, _, err = tsdbBlocks(t.TSDBDir)
		if err != nil {
			return res, err
		}
		if res.BlockSamples > 0 {
			res.BlockBytesPerSample = float64(res.BlockBytes) / float64(res.BlockSamples)
		}
	}
	if c.ZstdBytes > 0 {
		res.ZstdBytes = c.ZstdBytes
		res.ZstdRatio = float64(res.DiskBytes) / float64(c.ZstdBytes)
	}
	return res, nil
}

// ingestLoupe starts a fresh Loupe in its own data directory, runs one scenario and stops it.
func (h *Harness) ingestLoupe(ctx context.Context, scenario string, c *Corpus, run loadgen.RunOptions) (IngestResult, error) {
	return h.ingestLoupeBeside(ctx, scenario, c, run, nil)
}

// ingestLoupeBeside is ingestLoupe with error events sent beside the corpus when
// side is not nil (it is given the server's Sentry DSN). The server has a Sentry project
// with benchSentryKey when the corpus or side traffic is error events.
func (h *Harness) ingestLoupeBeside(ctx context.Context, scenario string, c *Corpus, run loadgen.RunOptions,
	side func(ctx context.Context, dsn string) (stop func() int)) (IngestResult, error) {
	dir := filepath.Join(h.opts.WorkDir, "ingest-"+scenario)
	var extra []string
	if c.Signal == loadgen.Errors || side != nil {
		cfg, err := writeSentryConfig(dir + ".yml")
		if err != nil {
			return IngestResult{}, err
		}
		extra = append(extra, "--config", cfg)
	}
	srv, err := StartLoupe(ctx, h.opts.LoupeBin, dir, extra...)
	if err != nil {
		return IngestResult{}, err
	}
	defer srv.Stop(time.Minute)
	endpoint := srv.HTTP
	switch c.Protocol {
	case loadgen.OTLPGRPC:
		endpoint = srv.OTLPGRPC
	case loadgen.OTLPHTTP:
		endpoint = srv.OTLPHTTP
	case loadgen.SentryEnvelope:
		endpoint = sentryDSN(srv.HTTP)
	}
	sender, err := loadgen.NewSender(c.Protocol, c.Signal, endpoint, run.Concurrency)
	if err != nil {
		return IngestResult{}, err
	}
	defer sender.Close()
	t := IngestTarget{Server: srv, Sender: sender, DiskDir: dir, Stop: func() error { return srv.Stop(2 * time.Minute) }}
	if side != nil {
		t.Side = func(ctx context.Context) func() int { return side(ctx, sentryDSN(srv.HTTP)) }
	}
	if t.Profile, err = h.startProfiles(scenario, srv.HTTP); err != nil {
		return IngestResult{}, err
	}
	if c.Signal == loadgen.Metrics {
		t.TSDBDir = filepath.Join(dir, "metrics")
		t.DiskDir = t.TSDBDir
	}
	switch {
	case c.Clients != nil && c.Signal == loadgen.Errors:
		h.logf("ingest %s into loupe (pid %d): %d clients sending one event per request, %d events in all", scenario, srv.Pid, len(c.Clients), c.Items)
	case c.Clients != nil:
		h.logf("ingest %s into loupe (pid %d): %d clients building requests of about %d items, %d items in all", scenario, srv.Pid, len(c.Clients), h.opts.ClientBatch, c.Items)
	default:
		h.logf("ingest %s into loupe (pid %d): %d items in %d requests", scenario, srv.Pid, c.Items, len(c.Batches))
	}
	if side != nil {
		h.logf("  with error events at %.0f/s beside, from %d clients", h.opts.ErrorRate, h.opts.ErrorClients)
	}
	res, err := runIngest(ctx, scenario, t, c, run)
	res.StartupMs = ms(srv.Startup)
	if err == nil {
		h.logf("  %.0f items/CPU-s, %.0f items/s, %.1f B/item on disk", res.ItemsPerCPUSecond, res.ItemsPerSecond, res.BytesPerItem)
	}
	return res, err
}
