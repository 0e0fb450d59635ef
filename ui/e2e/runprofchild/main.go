// Command runprofchild is the job of the browser checks of profiled runs
// (ui/e2e/checks-runprofiles.mjs): a Go program using Loupe's SDK with no profiling setting
// of its own, so that `loupe run --profile` is what turns its profiling on. It burns CPU in
// main.parseRecords and, with -compress, also in main.compressBlocks: two runs, one without
// and one with -compress, differ by that one function in their CPU profiles.
//
//	runprofchild [-compress]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/loupe-dev/loupe/sdk"
)

// rounds of the work loop per function: the CPU each takes is set by iteration counts, not
// by time, so that a loaded machine stretches the run but keeps its profile's shares.
const rounds = 400_000_000

func main() {
	compress := flag.Bool("compress", false, "also burn CPU in main.compressBlocks")
	flag.Parse()
	ctx := context.Background()
	s, err := sdk.Start(ctx, sdk.Options{ServiceName: "runprofchild"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	x := parseRecords(rounds)
	if *compress {
		x += compressBlocks(rounds)
	}
	fmt.Println(x % 10) // keeps the work from being optimised away

	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil { // uploads the last profiles
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

//go:noinline
func parseRecords(n int) uint64 {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
	}
	return x
}

//go:noinline
func compressBlocks(n int) uint64 {
	x := uint64(7)
	for i := 0; i < n; i++ {
		x = x*2862933555777941757 + 3037000493
		x ^= x >> 31
	}
	return x
}
