package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIdleFootprint: an idle server on an empty data dir stays within issue 17's 30 MiB of
// resident memory (it was 68-77 MiB: most of it pages of the executable that starting up
// touched once; see docs/operations.md).
func TestIdleFootprint(t *testing.T) {
	// The binary was just built: its pages are dirty in the page cache until written back,
	// and then held in the large folios the writes created, which the server cannot drop
	// while its running code is in them (15 MiB file-backed instead of 3-4). A real install
	// is long written, and read from disk at start.
	require.NoError(t, dropFromPageCache(loupeBin))

	s := startServer(t, t.TempDir())
	// Idle for a while after ready: background work (indexer, TSDB, scrape manager) runs
	// and maps back what it needs. This waits on purpose, it is the scenario.
	time.Sleep(10 * time.Second)
	rss, anon, file := procRSS(t, s.cmd.Process.Pid)
	t.Logf("idle RSS %.1f MiB (anonymous %.1f, file-backed %.1f)", mib(rss), mib(anon), mib(file))
	require.LessOrEqual(t, rss, int64(30<<20), "idle RSS %.1f MiB (anonymous %.1f, file-backed %.1f)", mib(rss), mib(anon), mib(file))
}

// procRSS reads VmRSS, RssAnon and RssFile of pid in bytes.
func procRSS(t *testing.T, pid int) (rss, anon, file int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss = v << 10
		case "RssAnon:":
			anon = v << 10
		case "RssFile:":
			file = v << 10
		}
	}
	require.Positive(t, rss, "no VmRSS in /proc/%d/status", pid)
	return rss, anon, file
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
