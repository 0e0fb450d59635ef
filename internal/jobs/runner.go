package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"golang.org/x/sys/unix"
)

// Options configure Run.
type Options struct {
	// Name of the job; defaults to the base name of the command, or of the script an
	// interpreter runs (defaultJobName).
	Name string
	Tags map[string]string
	// MonitorInterval is the time between samples of the process tree.
	MonitorInterval time.Duration
	// HeartbeatInterval is how often the running record is re-sent while the job runs,
	// so that the server shows the run as lost when they stop (runs.Grace).
	HeartbeatInterval time.Duration
	// Server is the OTLP/HTTP base URL (http://localhost:4318); "" ships nothing.
	Server string
	// Profile asks a Go child that uses Loupe's SDK to send CPU, heap and goroutine
	// profiles (LOUPE_PROFILE=1), labelled loupe_run_id, to ProfileServer.
	Profile bool
	// ProfileServer is the base URL of the server's HTTP port (where POST /ingest is),
	// passed to the child as LOUPE_PROFILE_SERVER; "" leaves it to the SDK's default.
	ProfileServer string
	// OutputPath, when set, gets the record appended as one JSON line.
	OutputPath string
	// SpoolDir receives what could not be sent to Server.
	SpoolDir string
	// EnvAllowlist are the environment variables recorded (names or globs); variables whose
	// names look like secrets are never recorded.
	EnvAllowlist []string
	// CaptureOutput ships stdout and stderr as logs; when false the child writes straight to
	// Stdout and Stderr (so it sees a terminal if they are one) and no output is recorded.
	CaptureOutput bool
	// MaxLineBytes caps a shipped log line; longer lines are cut (and passed through whole).
	MaxLineBytes int
	// LineBuffer is how many lines may wait for shipping before new ones are dropped.
	LineBuffer int
	// FlushInterval is how often logs and samples are shipped during the run.
	FlushInterval time.Duration
	// CaptureTimeout bounds the metadata capture (git, pip list, nvidia-smi ...).
	CaptureTimeout time.Duration
	// SendTimeout bounds each request to the server.
	SendTimeout time.Duration
	// MaxSamples is how many samples the record keeps (evenly thinned beyond that).
	MaxSamples int
	// Capture inspects the environment beside the running job (CaptureEnvironment).
	Capture func(ctx context.Context, cwd string, env map[string]string) Environment

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Environ is the child's environment before Loupe adds its variables (os.Environ()).
	Environ []string
	// Logger receives Loupe's own diagnostics (never the child's output).
	Logger *slog.Logger
}

// DefaultOptions are the settings of a plain `loupe run -- CMD`.
func DefaultOptions() Options {
	return Options{
		MonitorInterval: time.Second,
		// Each heartbeat is one small log record; a run is shown lost 3 periods after the
		// last one (90s), well under the minutes a cluster user would notice.
		HeartbeatInterval: DefaultHeartbeatInterval,
		Server:            "http://localhost:4318",
		SpoolDir:          DefaultSpoolDir(),
		EnvAllowlist:      DefaultEnvAllowlist,
		CaptureOutput:     true,
		MaxLineBytes:      16 << 10,
		LineBuffer:        10000,
		FlushInterval:     2 * time.Second,
		CaptureTimeout:    15 * time.Second,
		SendTimeout:       5 * time.Second,
		MaxSamples:        1000,
		Capture:           CaptureEnvironment,
		Stdin:             os.Stdin,
		Stdout:            os.Stdout,
		Stderr:            os.Stderr,
		Environ:           os.Environ(),
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

// DefaultHeartbeatInterval is the heartbeat period of a plain `loupe run`.
const DefaultHeartbeatInterval = 30 * time.Second

// Exit codes for a command that could not be started, as in POSIX shells.
const (
	ExitNotFound      = 127
	ExitNotExecutable = 126
)

// Run runs argv as a child process, records it and returns the exit code Loupe should exit
// with: the child's, 128+n when a signal n killed it, 127/126 when it could not be started.
// Signals Loupe receives are forwarded to the child; a cancelled ctx neither kills the
// child nor stops the record from being delivered (each request is bounded by SendTimeout). Run returns an error only for unusable
// options; every other problem is logged and recorded, never turned into a failed job.
func Run(ctx context.Context, opts Options, argv []string) (int, *Record, error) {
	if len(argv) == 0 {
		return 0, nil, errors.New("no command given")
	}
	if opts.MonitorInterval <= 0 {
		return 0, nil, fmt.Errorf("monitor interval must be positive, got %s", opts.MonitorInterval)
	}
	if opts.HeartbeatInterval <= 0 {
		return 0, nil, fmt.Errorf("heartbeat interval must be positive, got %s", opts.HeartbeatInterval)
	}
	if opts.MaxLineBytes <= 0 {
		return 0, nil, fmt.Errorf("max line bytes must be positive, got %d", opts.MaxLineBytes)
	}
	if opts.Server != "" {
		u, err := url.Parse(opts.Server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return 0, nil, fmt.Errorf("server %q: want an http(s) URL such as http://localhost:4318", opts.Server)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &runner{opts: opts, argv: argv}
	return r.run(ctx)
}

type runner struct {
	opts    Options
	argv    []string
	rec     *Record
	env     map[string]string
	ship    *shipper
	lines   chan Line
	counter outputCounters

	mu      sync.Mutex
	pending []Sample // samples not yet shipped
	samples *sampleSet
	peakRSS uint64
	maxHWM  uint64
	cpuSum  float64
	cpuMax  float64
	nSample int
	maxThr  int
	maxProc int
	last    Sample
}

func (r *runner) run(ctx context.Context) (int, *Record, error) {
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	env := parseEnv(r.opts.Environ)
	r.env = env
	// The record gets the command without the credentials in it; the child gets it whole.
	scrubbed := ScrubArgs(r.argv)
	rec := &Record{RecordVersion: 1, Name: r.opts.Name, Tags: scrubTags(r.opts.Tags), Command: scrubbed,
		CommandLine: commandLine(scrubbed), StartTime: start, Timezone: start.Location().String(),
		TZOffset: start.Format("-07:00")}
	if rec.Timezone == "Local" {
		rec.Timezone = localZone(env)
	}
	if rec.Name == "" {
		rec.Name = defaultJobName(r.argv)
	}
	rec.RunID = newID(16)
	rec.Telemetry.TraceID, rec.Telemetry.SpanID = rec.RunID, newID(8)
	rec.Telemetry.Profile = r.opts.Profile
	rec.HeartbeatSeconds = r.opts.HeartbeatInterval.Seconds()
	// A job started inside a traced context (a workflow step under an instrumented
	// orchestrator, or a loupe run inside a loupe run) joins that trace under its parent.
	if tid, sid, ok := parseTraceparent(env["TRACEPARENT"]); ok {
		rec.Telemetry.TraceID, rec.Telemetry.ParentSpanID = tid, sid
	}
	rec.Cwd, _ = os.Getwd()
	if u, err := user.Current(); err == nil {
		rec.User = u.Username
	}
	rec.Host.Hostname, _ = os.Hostname()
	rec.Host.OS = goos()
	rec.Scheduler = detectScheduler(env)
	rec.Env = allowedEnv(env, r.opts.EnvAllowlist)
	r.rec = rec
	r.samples = newSampleSet(max(r.opts.MaxSamples, 2))

	spool := newSpoolWriter(r.opts.SpoolDir, rec.RunID)
	r.ship = &shipper{client: newHTTPClient(r.opts.SendTimeout), server: r.opts.Server, spool: spool, logger: r.opts.Logger}

	// Metadata capture runs beside the job: it must not delay the start.
	captureCtx, cancelCapture := context.WithTimeout(ctx, r.opts.CaptureTimeout)
	defer cancelCapture()
	captured := make(chan Environment, 1)
	capture := r.opts.Capture
	if capture == nil {
		capture = CaptureEnvironment
	}
	go func() { captured <- capture(captureCtx, rec.Cwd, env) }()

	code := r.execute(ctx, start)

	capEnv := <-captured
	rec.Host = mergeHost(rec.Host, capEnv.Host)
	rec.Git, rec.Python, rec.Go, rec.R = capEnv.Git, capEnv.Python, capEnv.Go, capEnv.R
	rec.GPUs, rec.Cgroup, rec.CaptureErrors = capEnv.GPUs, capEnv.Cgroup, capEnv.Errors
	r.finish(ctx)
	return code, rec, nil
}

func mergeHost(quick, full Host) Host {
	if full.Hostname == "" {
		full.Hostname = quick.Hostname
	}
	if full.OS == "" {
		full.OS = quick.OS
	}
	return full
}

// execute starts the child, passes its output through, samples it and waits for it.
func (r *runner) execute(ctx context.Context, start time.Time) int {
	rec := r.rec
	cmd := exec.Command(r.argv[0], r.argv[1:]...)
	cmd.Env = r.childEnv()
	cmd.Stdin = r.opts.Stdin

	var copiers sync.WaitGroup
	var readEnds, writeEnds []*os.File
	cmd.Stdout, cmd.Stderr = r.opts.Stdout, r.opts.Stderr
	if r.opts.CaptureOutput {
		r.lines = make(chan Line, max(r.opts.LineBuffer, 1))
		for _, s := range []struct {
			name string
			dst  io.Writer
			into *io.Writer
		}{
			{"stdout", r.opts.Stdout, &cmd.Stdout},
			{"stderr", r.opts.Stderr, &cmd.Stderr},
		} {
			pr, pw, err := os.Pipe()
			if err != nil {
				r.opts.Logger.Warn("cannot capture output, passing it through uncaptured", "stream", s.name, "err", err)
				continue
			}
			*s.into = pw
			readEnds, writeEnds = append(readEnds, pr), append(writeEnds, pw)
			copiers.Add(1)
			go func(name string, dst io.Writer, pr *os.File) {
				defer copiers.Done()
				if err := copyOutput(dst, pr, name, r.opts.MaxLineBytes, r.lines, &r.counter, time.Now); err != nil {
					// The reader of our output went away: close our end so the child sees
					// the broken pipe it would have seen without Loupe.
					pr.Close()
				}
			}(s.name, s.dst, pr)
		}
	}

	// Signals are caught before the start so none is lost between start and forwarding.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	interactive := isTerminal(r.opts.Stdin)

	err := cmd.Start()
	for _, f := range writeEnds {
		f.Close() // the child holds its own copies now; EOF comes when it closes them
	}
	var started []byte // the start marker, shipped first by shipLoop
	if err == nil {
		rec.PID = cmd.Process.Pid // before the shipper reads the record
		started = r.startMarker()
	}
	shipDone := make(chan struct{})
	stopShip := make(chan struct{})
	go func() { defer close(shipDone); r.shipLoop(ctx, stopShip, started) }()

	if err != nil {
		rec.Status, rec.Error = "failed", err.Error()
		rec.ExitCode = ExitNotExecutable
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			rec.ExitCode = ExitNotFound
		}
		fmt.Fprintf(r.opts.Stderr, "loupe: %s: %v\n", r.argv[0], startError(err))
		copiers.Wait()
		close(stopShip)
		<-shipDone
		rec.EndTime = time.Now()
		rec.DurationSeconds = rec.EndTime.Sub(start).Seconds()
		return rec.ExitCode
	}

	sampler := newTreeSampler(cmd.Process.Pid, start)
	sampleStop := make(chan struct{})
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		r.sampleLoop(ctx, sampler, sampleStop)
	}()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var waitErr error
loop:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGPIPE {
				continue // handled by copyOutput; never forwarded
			}
			if interactive && (sig == syscall.SIGINT || sig == syscall.SIGQUIT) {
				continue // the terminal already sent it to the child's process group
			}
			_ = cmd.Process.Signal(sig)
		case waitErr = <-waited:
			break loop
		}
	}
	end := time.Now()
	close(sampleStop)
	<-sampleDone

	// Output still buffered in the pipes is copied; a grandchild that keeps the pipe open
	// after the child exited gets a short grace period, then loses its reader.
	copied := make(chan struct{})
	go func() { copiers.Wait(); close(copied) }()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
		for _, f := range readEnds {
			f.Close()
		}
		<-copied
	}
	close(stopShip)
	<-shipDone

	rec.EndTime = end
	rec.DurationSeconds = end.Sub(start).Seconds()
	r.setExit(cmd.ProcessState, waitErr)
	return rec.ExitCode
}

func startError(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// setExit fills the exit status and rusage totals from the finished child.
func (r *runner) setExit(ps *os.ProcessState, waitErr error) {
	rec := r.rec
	if ps == nil {
		rec.Status, rec.ExitCode, rec.Error = "failed", 1, fmt.Sprint(waitErr)
		return
	}
	rec.Resources.UserCPUSeconds = ps.UserTime().Seconds()
	rec.Resources.SystemCPUSeconds = ps.SystemTime().Seconds()
	ws, ok := ps.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		rec.Status = "killed"
		rec.Signal = unix.SignalName(ws.Signal())
		if rec.Signal == "" {
			rec.Signal = ws.Signal().String()
		}
		rec.ExitCode = 128 + int(ws.Signal())
	default:
		rec.ExitCode = ps.ExitCode()
		rec.Status = "succeeded"
		if rec.ExitCode != 0 {
			rec.Status = "failed"
		}
	}
}

// sampleLoop samples the tree every interval until stop is closed, then once more.
func (r *runner) sampleLoop(ctx context.Context, s *treeSampler, stop <-chan struct{}) {
	gpus := len(r.rec.GPUs) > 0 || hasNvidiaSMI(r.env)
	take := func() {
		smp := s.sample(ctx, time.Now())
		if gpus {
			smp.GPUs = sampleGPUs(ctx, r.env)
		}
		r.addSample(smp)
	}
	take()
	t := time.NewTicker(r.opts.MonitorInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			take()
		}
	}
}

func (r *runner) addSample(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.Processes == 0 {
		return // the child already exited: an empty tree says nothing
	}
	r.pending = append(r.pending, s)
	r.samples.add(s)
	r.peakRSS = max(r.peakRSS, s.RSSBytes)
	r.maxHWM = max(r.maxHWM, s.MaxHWMBytes)
	r.cpuSum += s.CPUPercent
	r.cpuMax = max(r.cpuMax, s.CPUPercent)
	r.maxThr = max(r.maxThr, s.Threads)
	r.maxProc = max(r.maxProc, s.Processes)
	r.nSample++
	r.last = s
}

func (r *runner) takePending() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending
	r.pending = nil
	return p
}

// startMarker encodes the start-of-run log record (startLog) while the record is not yet
// shared with other goroutines; nil when nothing is shipped or it cannot be encoded.
func (r *runner) startMarker() []byte {
	if r.opts.Server == "" {
		return nil
	}
	ld, err := startLog(r.rec)
	if err != nil {
		r.opts.Logger.Error("encode start of run", "err", err)
		return nil
	}
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		r.opts.Logger.Error("encode start of run", "err", err)
		return nil
	}
	return b
}

// shipLoop ships the start marker (when not nil), then output lines and samples every
// flush interval and when a batch is full, and the running record every heartbeat interval
// (when there is a start marker), until stop is closed and the lines are drained.
// The start marker is sent here, beside the job, so that a slow or absent server never
// delays the job's start.
func (r *runner) shipLoop(ctx context.Context, stop <-chan struct{}, started []byte) {
	if started != nil {
		r.ship.ship(ctx, "logs", started)
	}
	const maxBatch = 2000
	var batch []logEntry
	classify := newLogClassifier()
	flush := func() {
		if len(batch) > 0 {
			r.shipLogs(ctx, batch)
			batch = nil
		}
		if s := r.takePending(); len(s) > 0 {
			r.shipMetrics(ctx, metricsOf(r.rec, s, r.rec.StartTime))
		}
	}
	t := time.NewTicker(r.opts.FlushInterval)
	defer t.Stop()
	var heartbeats <-chan time.Time // nil: never, when nothing is shipped
	if started != nil {
		hb := time.NewTicker(r.opts.HeartbeatInterval)
		defer hb.Stop()
		heartbeats = hb.C
	}
	var lines <-chan Line = r.lines
	for {
		select {
		case now := <-heartbeats:
			// The record is only read by this goroutine until the job ends (setExit runs
			// after shipLoop returns).
			r.shipHeartbeat(ctx, now)
		case l := <-lines:
			batch = classify.add(l, batch)
			if len(batch) >= maxBatch {
				flush()
			}
		case <-t.C:
			flush()
		case <-stop:
			for {
				select {
				case l := <-lines:
					batch = classify.add(l, batch)
					if len(batch) >= maxBatch {
						flush()
					}
				default:
					batch = classify.flush(batch)
					flush()
					return
				}
			}
		}
	}
}

func (r *runner) shipHeartbeat(ctx context.Context, now time.Time) {
	ld, err := heartbeatLog(r.rec, now)
	if err == nil {
		var b []byte
		if b, err = (&plog.ProtoMarshaler{}).MarshalLogs(ld); err == nil {
			r.ship.ship(ctx, "logs", b)
			return
		}
	}
	r.opts.Logger.Error("encode heartbeat", "err", err)
}

func (r *runner) shipLogs(ctx context.Context, lines []logEntry) {
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(logsOf(r.rec, lines))
	if err != nil {
		r.opts.Logger.Error("encode logs", "err", err)
		return
	}
	r.ship.ship(ctx, "logs", b)
}

func (r *runner) shipMetrics(ctx context.Context, md pmetric.Metrics) {
	b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		r.opts.Logger.Error("encode metrics", "err", err)
		return
	}
	r.ship.ship(ctx, "metrics", b)
}

// finish completes the record and delivers it: the span and summary metrics to the server
// (or spool), the JSON line to --output.
func (r *runner) finish(ctx context.Context) {
	rec := r.rec
	r.mu.Lock()
	rec.Samples = r.samples.samples
	rec.Resources.PeakRSSBytes = r.peakRSS
	rec.Resources.MaxRSSBytes = r.maxHWM
	if r.nSample > 0 {
		rec.Resources.CPUPercentMean = r.cpuSum / float64(r.nSample)
	}
	rec.Resources.CPUPercentMax = r.cpuMax
	rec.Resources.MaxThreads, rec.Resources.MaxProcesses = r.maxThr, r.maxProc
	rec.Resources.ReadBytes, rec.Resources.WriteBytes = r.last.ReadBytes, r.last.WriteBytes
	r.mu.Unlock()
	rec.Output = r.counter.output()
	if n := rec.Output.DroppedLines; n > 0 && r.opts.Server != "" {
		r.opts.Logger.Warn("output lines came faster than they could be shipped; some are missing from the logs (all were passed through)", "dropped_lines", n)
	}
	rec.Telemetry.Server = r.opts.Server

	if r.opts.Server != "" {
		r.shipMetrics(ctx, summaryMetrics(rec))
		if b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(runSpan(rec)); err == nil {
			r.ship.ship(ctx, "traces", b)
		} else {
			r.opts.Logger.Error("encode run span", "err", err)
		}
	}
	if err := r.ship.spool.close(); err != nil {
		r.opts.Logger.Error("close spool file", "err", err)
	}
	if r.ship.wasSpooled() {
		rec.Telemetry.SpoolFile = r.ship.spool.path
		r.opts.Logger.Warn(describeSpool(r.ship.spool.path))
	}
	if r.opts.OutputPath != "" {
		if err := AppendJSONL(r.opts.OutputPath, rec); err != nil {
			r.opts.Logger.Error("write run record", "path", r.opts.OutputPath, "err", err)
		}
	}
}
