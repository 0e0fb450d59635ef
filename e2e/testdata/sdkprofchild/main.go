// Command sdkprofchild is a job using Loupe's Go SDK with no profiling setting of its own:
// under `loupe run --profile` the SDK profiles it. It burns CPU in burnInSpan inside the
// span "burn-phase" and in outsideSpan after the span ended, and prints the span's id.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/loupe-dev/loupe/sdk"
)

func main() {
	ctx := context.Background()
	s, err := sdk.Start(ctx, sdk.Options{ServiceName: "sdkprofchild"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx = s.Context(ctx) // under the run's span (TRACEPARENT)
	_, span := s.Tracer("sdkprofchild").Start(ctx, "burn-phase")
	fmt.Println(span.SpanContext().SpanID())
	burnInSpan(1500 * time.Millisecond)
	span.End()
	outsideSpan(500 * time.Millisecond)

	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

//go:noinline
func burnInSpan(d time.Duration) uint64 { return spin(d) }

//go:noinline
func outsideSpan(d time.Duration) uint64 { return spin(d) }

// spin keeps one core busy for d of wall time.
func spin(d time.Duration) uint64 {
	var x uint64 = 1
	for stop := time.Now().Add(d); time.Now().Before(stop); {
		for i := 0; i < 50000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}
