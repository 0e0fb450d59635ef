// Command loupe-bench generates synthetic telemetry against any endpoint (`load`) and runs
// Loupe's benchmark harness (`run`); see docs/performance.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/loupe-dev/loupe/bench/harness"
	"github.com/loupe-dev/loupe/bench/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loupe-bench:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  loupe-bench load [flags]   send synthetic logs, traces or metrics to an endpoint
  loupe-bench run [flags]    start Loupe (and Prometheus), run the benchmark scenarios, report
Run a subcommand with -h for its flags.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		//lint:ignore ST1005 the usage text is the error shown to the user
		return errors.New(usage)
	}
	switch args[0] {
	case "load":
		return runLoad(ctx, args[1:], stdout, stderr)
	case "run":
		return runHarness(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown subcommand %q\n%s", args[0], usage)
	}
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		signal      = fs.String("signal", loadgen.Logs, "logs, traces, metrics or errors")
		protocol    = fs.String("protocol", loadgen.OTLPHTTP, "otlp-http, otlp-grpc, remote-write, remote-write-2 (metrics), loki (logs) or sentry-envelope (errors)")
		endpoint    = fs.String("endpoint", "http://127.0.0.1:4318", "base URL for HTTP protocols, host:port for otlp-grpc, the DSN (http://<key>@host:port/<project>) for sentry-envelope")
		items       = fs.Int("items", 100_000, "log records, spans or error events to send; for metrics see -series and -steps")
		batch       = fs.Int("batch", 1000, "log records or spans per request")
		series      = fs.Int("series", 10_000, "active metric series")
		steps       = fs.Int("steps", 240, "samples per series (one per -interval)")
		interval    = fs.Duration("interval", 15*time.Second, "metric scrape interval")
		seed        = fs.Uint64("seed", 1, "seed; the same seed sends the same data")
		rate        = fs.Float64("rate", 0, "items per second; 0 sends as fast as accepted")
		concurrency = fs.Int("concurrency", 4, "requests in flight")
		span        = fs.Duration("span", time.Hour, "the items' timestamps spread over this much time, ending now")
		asJSON      = fs.Bool("json", false, "print the result as JSON")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now().Add(-*span)
	var src loadgen.Source
	switch *signal {
	case loadgen.Logs:
		o := loadgen.DefaultLogOptions()
		o.Seed, o.BatchSize, o.Start = *seed, *batch, start
		o.Interval = max(time.Nanosecond, *span/time.Duration(max(1, *items)))
		g, err := loadgen.NewLogGen(o)
		if err != nil {
			return err
		}
		src = loadgen.LogSource(g, *items)
		if *protocol == loadgen.LokiPush {
			src = loadgen.LokiSource(src)
		}
	case loadgen.Traces:
		o := loadgen.DefaultTraceOptions()
		o.Seed, o.BatchSpans, o.Start = *seed, *batch, start
		o.Interval = max(time.Microsecond, *span/time.Duration(max(1, *items/17)))
		g, err := loadgen.NewTraceGen(o)
		if err != nil {
			return err
		}
		src = loadgen.TraceSource(g, *items)
	case loadgen.Metrics:
		o := loadgen.DefaultMetricOptions()
		o.Seed, o.Series, o.Steps, o.Interval, o.Shards = *seed, *series, *steps, *interval, *concurrency
		o.Start = time.Now().Add(-time.Duration(*steps) * *interval)
		g, err := loadgen.NewMetricGen(o)
		if err != nil {
			return err
		}
		switch *protocol {
		case loadgen.RemoteWrite:
			src = loadgen.SourceFunc(g.NextRemoteWrite)
		case loadgen.RemoteWrite2:
			src = loadgen.SourceFunc(g.NextRemoteWriteV2)
		default:
			src = loadgen.SourceFunc(g.NextOTLP)
		}
	case loadgen.Errors:
		o := loadgen.DefaultErrorOptions()
		o.Seed, o.Start = *seed, start
		o.Interval = max(time.Nanosecond, *span/time.Duration(max(1, *items)))
		g, err := loadgen.NewErrorGen(o)
		if err != nil {
			return err
		}
		src = loadgen.ErrorSource(g, *items)
	default:
		return fmt.Errorf("unknown signal %q (want logs, traces, metrics or errors)", *signal)
	}
	sender, err := loadgen.NewSender(*protocol, *signal, *endpoint, *concurrency)
	if err != nil {
		return err
	}
	defer sender.Close()
	res, err := loadgen.Run(ctx, sender, src, loadgen.RunOptions{Concurrency: *concurrency, Rate: *rate, MaxRetries: 50})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(res); jerr != nil {
			return jerr
		}
	} else {
		fmt.Fprintf(stdout, "%s over %s: %d items, %d accepted, %d rejected, %d requests (%d failed, %d retries) in %s: %.0f items/s\n",
			*signal, *protocol, res.Items, res.Accepted, res.Rejected, res.Requests, res.Failed, res.Retries, res.Elapsed.Round(time.Millisecond), res.ItemsPerS)
		fmt.Fprintf(stdout, "latency ms: p50 %.1f  p95 %.1f  p99 %.1f  max %.1f\n", res.Latency.P50, res.Latency.P95, res.Latency.P99, res.Latency.Max)
		for _, e := range res.Errors {
			fmt.Fprintln(stdout, "error:", e)
		}
	}
	return err
}

func runHarness(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := harness.DefaultOptions()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		out       = fs.String("out", "bench/results", "directory for <date>.json and <date>.txt")
		scenarios = fs.String("scenarios", strings.Join(o.Scenarios, ","), "comma-separated: ingest, clients, errors, profiles, peer, query, footprint")
		smoke     = fs.Bool("smoke", false, "tiny sizes (overridden by explicit size flags)")
		peerName  = fs.String("peer-name", "peer", "name of an external peer to measure")
		peerPid   = fs.Int("peer-pid", 0, "pid of an external peer (enables the peer run)")
		peerURL   = fs.String("peer-remote-write", "", "base URL of the external peer's remote-write receiver")
		peerDir   = fs.String("peer-data-dir", "", "data directory of the external peer, for bytes on disk")
		workDir   = fs.String("work-dir", "", "where fresh data dirs go (default: a new temp dir, removed afterwards)")
		profiles  = fs.Bool("profiles", true, "save CPU and heap profiles of each Loupe ingest scenario beside the results")
	)
	fs.StringVar(&o.LoupeBin, "loupe", "bin/loupe", "loupe binary")
	fs.StringVar(&o.PrometheusBin, "prometheus", o.PrometheusBin, "prometheus binary for the side-by-side run; empty to skip")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "generator seed")
	fs.IntVar(&o.LogRecords, "logs", o.LogRecords, "log records for the ingest scenario")
	fs.IntVar(&o.Spans, "spans", o.Spans, "spans for the ingest scenario")
	fs.IntVar(&o.Series, "series", o.Series, "active series for the ingest scenario")
	fs.DurationVar(&o.MetricDuration, "metric-duration", o.MetricDuration, "time covered by the ingest samples (over 3h compacts a block)")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "requests in flight")
	fs.IntVar(&o.ClientLogs, "client-logs", o.ClientLogs, "log records for the clients scenario")
	fs.IntVar(&o.ClientSpans, "client-spans", o.ClientSpans, "spans for the clients scenario")
	fs.IntVar(&o.Clients, "clients", o.Clients, "clients in the clients scenario, each with one request in flight")
	fs.IntVar(&o.ClientBatch, "client-batch", o.ClientBatch, "items per request in the clients scenario (the OpenTelemetry SDK's default is 512)")
	fs.IntVar(&o.ErrorEvents, "error-events", o.ErrorEvents, "Sentry error events for the errors scenario")
	fs.IntVar(&o.ErrorClients, "error-clients", o.ErrorClients, "clients sending error events, each with one request in flight")
	fs.Float64Var(&o.ErrorRate, "error-rate", o.ErrorRate, "error events/s sent beside the log clients in the errors scenario; 0 skips those runs")
	fs.IntVar(&o.ProfileServices, "profile-services", o.ProfileServices, "services pushing a CPU, heap and goroutine profile each round in the profiles scenario")
	fs.IntVar(&o.ProfileRounds, "profile-rounds", o.ProfileRounds, "10 s rounds of pushes in the profiles scenario")
	fs.IntVar(&o.ProfileClients, "profile-clients", o.ProfileClients, "clients pushing profiles, each with one request in flight")
	fs.IntVar(&o.ProfileBackfill, "profile-backfill", o.ProfileBackfill, "10 s CPU profiles of one service backfilled before its flame graph is timed (8,640 is 24 h)")
	fs.IntVar(&o.QueryLogs, "query-logs", o.QueryLogs, "log records in the query dataset (issue: 10M)")
	fs.IntVar(&o.QuerySpans, "query-spans", o.QuerySpans, "spans in the query dataset (issue: 10M)")
	fs.IntVar(&o.QuerySeries, "query-series", o.QuerySeries, "series in the query dataset (issue: 10k)")
	fs.IntVar(&o.QueryRuns, "query-runs", o.QueryRuns, "runs per query")
	fs.Float64Var(&o.SustainedRate, "sustained-rate", o.SustainedRate, "logs/s for RSS under load")
	fs.DurationVar(&o.SustainedFor, "sustained-for", o.SustainedFor, "how long to sustain it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *smoke {
		s := harness.SmokeOptions()
		explicit := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		set := func(name string, dst *int, v int) {
			if !explicit[name] {
				*dst = v
			}
		}
		set("logs", &o.LogRecords, s.LogRecords)
		set("spans", &o.Spans, s.Spans)
		set("series", &o.Series, s.Series)
		set("concurrency", &o.Concurrency, s.Concurrency)
		set("client-logs", &o.ClientLogs, s.ClientLogs)
		set("client-spans", &o.ClientSpans, s.ClientSpans)
		set("error-events", &o.ErrorEvents, s.ErrorEvents)
		set("error-clients", &o.ErrorClients, s.ErrorClients)
		if !explicit["error-rate"] {
			o.ErrorRate = s.ErrorRate
		}
		set("profile-services", &o.ProfileServices, s.ProfileServices)
		set("profile-rounds", &o.ProfileRounds, s.ProfileRounds)
		set("profile-backfill", &o.ProfileBackfill, s.ProfileBackfill)
		set("query-logs", &o.QueryLogs, s.QueryLogs)
		set("query-spans", &o.QuerySpans, s.QuerySpans)
		set("query-series", &o.QuerySeries, s.QuerySeries)
		set("query-runs", &o.QueryRuns, s.QueryRuns)
		o.LogBatch, o.SpanBatch = s.LogBatch, s.SpanBatch
		if !explicit["metric-duration"] {
			o.MetricDuration = s.MetricDuration
		}
		if !explicit["sustained-rate"] {
			o.SustainedRate = s.SustainedRate
		}
		if !explicit["sustained-for"] {
			o.SustainedFor = s.SustainedFor
		}
	}
	o.Scenarios = strings.Split(*scenarios, ",")
	if *peerPid != 0 {
		if *peerURL == "" {
			return errors.New("-peer-pid needs -peer-remote-write")
		}
		o.Peer = &harness.PeerOptions{Name: *peerName, Pid: *peerPid, RemoteWriteURL: *peerURL, DataDir: *peerDir}
	}
	o.WorkDir = *workDir
	if o.WorkDir == "" {
		dir, err := os.MkdirTemp("", "loupe-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.WorkDir = filepath.Join(dir, "work")
	}
	o.Progress = stderr
	// Every file of this run starts with the same name: <start time>[-smoke].
	name := time.Now().UTC().Format("2006-01-02T15-04-05Z")
	if *smoke {
		name += "-smoke"
	}
	if *profiles {
		o.ProfileDir, o.ProfilePrefix = *out, name+"."
	}
	h, err := harness.New(o)
	if err != nil {
		return err
	}
	rep, err := h.Run(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	base := filepath.Join(*out, name)
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(base + ".txt")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := harness.WriteTable(io.MultiWriter(stdout, f), rep); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s.json and %s.txt\n", base, base)
	for _, r := range rep.Ingest {
		if p := r.Profiles; p != nil && p.CPU != "" {
			fmt.Fprintf(stdout, "profiles of %s: %s (top: %s), %s (top: %s)\n", r.Scenario, p.CPU, p.CPUTop, p.Heap, p.HeapTop)
		}
	}
	if len(rep.Errors) > 0 {
		return fmt.Errorf("%d scenario(s) failed", len(rep.Errors))
	}
	return nil
}
