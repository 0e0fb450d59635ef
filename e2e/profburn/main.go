// Command profburn is the profiled program of the profile e2e tests: it burns CPU in
// main.burnCPU (three quarters of its work) and main.lightWork (one quarter) and allocates
// in main.allocate, so that a flame graph of it has known shares.
//
//	profburn push URL ROUNDS   profiles itself with pyroscope-go, pushing to URL, and exits
//	profburn serve             serves net/http/pprof on 127.0.0.1:0, prints "listening ADDR", works until killed
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/grafana/pyroscope-go"
)

var sink []byte

// burnSpanID is the span burnCPU runs under.
const burnSpanID = "00000000000000b1"

// work is one round: the shares of CPU are set by iteration counts, not by time, so that
// they hold on a loaded machine.
func work(ctx context.Context) uint64 {
	const n = 2_000_000
	var x uint64
	// burnCPU runs under a span, as pyroscope-go's OpenTelemetry integration
	// (otel-profiling-go) marks a span's samples: pprof labels span_id and span_name.
	pprof.Do(ctx, pprof.Labels("span_id", burnSpanID, "span_name", "burn"), func(context.Context) {
		x = burnCPU(3 * n)
	})
	x += lightWork(n)
	allocate(200)
	return x
}

//go:noinline
func burnCPU(n int) uint64 {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
	}
	return x
}

//go:noinline
func lightWork(n int) uint64 {
	x := uint64(7)
	for i := 0; i < n; i++ {
		x = x*2862933555777941757 + 3037000493
		x ^= x >> 31
	}
	return x
}

//go:noinline
func allocate(n int) {
	for i := 0; i < n; i++ {
		sink = make([]byte, 16<<10)
	}
}

type stderrLogger struct{}

func (stderrLogger) Infof(string, ...interface{})  {}
func (stderrLogger) Debugf(string, ...interface{}) {}
func (stderrLogger) Errorf(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "pyroscope error: "+f+"\n", a...)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: profburn push URL ROUNDS | profburn serve")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "push":
		rounds, _ := strconv.Atoi(os.Args[3])
		p, err := pyroscope.Start(pyroscope.Config{
			ApplicationName: "profburn",
			ServerAddress:   os.Args[2],
			Tags:            map[string]string{"env": "e2e"},
			UploadRate:      2 * time.Second,
			Logger:          stderrLogger{},
			HTTPHeaders:     map[string]string{"Authorization": os.Getenv("PROFBURN_AUTH")},
			ProfileTypes: []pyroscope.ProfileType{pyroscope.ProfileCPU, pyroscope.ProfileAllocObjects,
				pyroscope.ProfileAllocSpace, pyroscope.ProfileInuseObjects, pyroscope.ProfileInuseSpace, pyroscope.ProfileGoroutines},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "start pyroscope:", err)
			os.Exit(1)
		}
		// A pprof label: it becomes the series label stage="burn".
		pyroscope.TagWrapper(context.Background(), pyroscope.Labels("stage", "burn"), func(ctx context.Context) {
			for i := 0; i < rounds; i++ {
				work(ctx)
			}
		})
		p.Flush(true)
		_ = p.Stop()
		fmt.Println("done", len(sink))
	case "serve":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("listening", ln.Addr())
		go func() {
			for {
				work(context.Background())
			}
		}()
		_ = http.Serve(ln, nil)
	}
}
