// Command workload is a reference instrumented batch job: it runs a number of iterations,
// each processing items with a mix of CPU work (Fibonacci) and simulated I/O delays, and a
// chance of failure per item. It sends traces (a span per iteration, item and step),
// metrics, and structured logs through the Loupe Go SDK, and serves CPU profiles on
// /debug/pprof when --pprof-listen is set.
//
//	go run ./examples/workload                       # 10 iterations, telemetry to localhost:4318
//	loupe run -- go run ./examples/workload          # the same, its spans under the run's span
//	go run ./examples/workload --iterations 0 --pprof-listen localhost:6060   # until Ctrl-C
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/loupe-dev/loupe/sdk"
)

// config is what the flags set.
type config struct {
	iterations int
	items      int
	errorRate  float64
	seed       uint64
	fibN       int
	maxDelay   time.Duration
	pause      time.Duration
	pprof      string
	server     string
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("workload", flag.ContinueOnError)
	fs.IntVar(&c.iterations, "iterations", 10, "iterations to run (0: until interrupted)")
	fs.IntVar(&c.items, "items", 5, "items processed per iteration")
	fs.Float64Var(&c.errorRate, "error-rate", 0.2, "probability that an item fails, 0 to 1")
	fs.Uint64Var(&c.seed, "seed", 0, "random seed for delays and failures (0: a new one each run)")
	fs.IntVar(&c.fibN, "fib", 27, "CPU work per item: compute Fibonacci(n) recursively")
	fs.DurationVar(&c.maxDelay, "delay", 50*time.Millisecond, "longest simulated I/O delay per item")
	fs.DurationVar(&c.pause, "pause", 0, "pause between iterations")
	fs.StringVar(&c.pprof, "pprof-listen", "", "serve net/http/pprof on this address, e.g. localhost:6060")
	fs.StringVar(&c.server, "server", "", "OTLP/HTTP base URL of Loupe (default: OTEL_EXPORTER_OTLP_ENDPOINT, LOUPE_SERVER, http://localhost:4318)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.iterations < 0:
		return c, fmt.Errorf("--iterations %d: must not be negative", c.iterations)
	case c.items < 1:
		return c, fmt.Errorf("--items %d: want at least 1", c.items)
	case c.errorRate < 0 || c.errorRate > 1:
		return c, fmt.Errorf("--error-rate %g: want 0 to 1", c.errorRate)
	case c.fibN < 0 || c.fibN > 40:
		return c, fmt.Errorf("--fib %d: want 0 to 40", c.fibN)
	case c.maxDelay < 0 || c.pause < 0:
		return c, fmt.Errorf("--delay and --pause must not be negative")
	}
	if c.seed == 0 {
		c.seed = rand.Uint64()
	}
	return c, nil
}

func run(args []string) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tel, err := sdk.Start(ctx, sdk.Options{ServiceName: "workload", ServiceVersion: "1.0.0",
		Endpoint: c.server, Console: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "workload: telemetry shutdown:", err)
		}
	}()

	if c.pprof != "" {
		srv, addr, err := servePprof(c.pprof)
		if err != nil {
			return err
		}
		defer srv.Close()
		tel.Logger().Info("serving pprof", "addr", addr, "path", "/debug/pprof/")
	}

	w, err := newWorker(c, tel)
	if err != nil {
		return err
	}
	// Under `loupe run`, TRACEPARENT names the run's span: the job's root span goes under it.
	w.run(tel.Context(ctx))
	return nil
}

// servePprof serves the net/http/pprof handlers on their own mux (not http.DefaultServeMux,
// which any imported package may add to) and returns the server and the address it got.
func servePprof(addr string) (*http.Server, string, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("pprof listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }() // ends with ErrServerClosed when run returns
	return srv, l.Addr().String(), nil
}
