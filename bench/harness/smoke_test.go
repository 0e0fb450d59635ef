package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSmoke runs every scenario at a tiny size against the real loupe binary (and Debian's
// Prometheus when it is installed), so the harness never rots. It asserts that each
// scenario ran and reported, never how fast.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several servers")
	}
	bin := filepath.Join(t.TempDir(), "loupe")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/loupe")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build loupe: %s", out)

	o := SmokeOptions()
	o.LoupeBin = bin
	o.WorkDir = filepath.Join(t.TempDir(), "work")
	o.ProfileDir, o.ProfilePrefix = t.TempDir(), "smoke."
	if _, err := os.Stat(o.PrometheusBin); err != nil {
		t.Logf("no %s: skipping the side-by-side run", o.PrometheusBin)
		o.PrometheusBin = ""
	}
	var progress bytes.Buffer
	o.Progress = &progress
	h, err := New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := h.Run(ctx)
	require.NoError(t, err)
	t.Log(progress.String())
	require.Empty(t, rep.Errors)

	servers := map[string]bool{}
	for _, x := range rep.Ingest {
		servers[x.Scenario+"/"+x.Server] = true
		require.Equal(t, x.Items, x.Load.Accepted, "%s into %s: %v", x.Scenario, x.Server, x.Load.Errors)
		require.Positive(t, x.CPUSecondsSettled, "%s into %s", x.Scenario, x.Server)
		require.Positive(t, x.RSSPeakBytes)
		require.Positive(t, x.DiskBytes)
		if x.Server == "loupe" {
			require.NotNil(t, x.Profiles, x.Scenario)
			require.Empty(t, x.Profiles.Error, x.Scenario)
			for _, f := range []string{x.Profiles.CPU, x.Profiles.CPUTop, x.Profiles.Heap, x.Profiles.HeapTop} {
				info, err := os.Stat(f)
				require.NoError(t, err, x.Scenario)
				require.Positive(t, info.Size(), f)
			}
		}
	}
	require.True(t, servers["logs/loupe"] && servers["spans/loupe"] && servers["samples/loupe"] && servers["samples-rw2/loupe"], "%v", servers)
	require.True(t, servers["logs-clients/loupe"] && servers["spans-clients/loupe"], "%v", servers)
	require.True(t, servers["errors/loupe"] && servers["logs-alone/loupe"] && servers["logs-with-errors/loupe"] && servers["errors-paced/loupe"], "%v", servers)
	require.Positive(t, rep.ingest(scenarioLogsWithErrors, "loupe").SideErrorEvents, "error events were sent beside the logs")
	require.True(t, servers["profiles/loupe"] && servers["profiles-24h/loupe"], "%v", servers)
	require.NotNil(t, rep.Profiles)
	require.Positive(t, rep.Profiles.DiskToGz)
	require.Positive(t, rep.Profiles.DiskToGz24h)
	require.Positive(t, rep.Profiles.FlameTotal, "the backfilled day has CPU time")
	require.Positive(t, rep.Profiles.FlameFunction)
	if o.PrometheusBin != "" {
		require.True(t, servers["samples/prometheus"])
	}
	require.NotNil(t, rep.Dataset)
	require.GreaterOrEqual(t, len(rep.Queries), 9)
	for _, q := range rep.Queries {
		require.Empty(t, q.Error, q.Name)
		require.Positive(t, q.P50ms, q.Name)
	}
	found := map[string]int{}
	for _, q := range rep.Queries {
		found[q.Name] = q.Results
	}
	require.Equal(t, 1, found["needle text search"], "the needle is planted once")
	require.Positive(t, found["text search, a hex request id"], "the first record's request id is searched for")
	require.Positive(t, found["trace by id"], "the kept trace ids exist")
	require.NotNil(t, rep.Foot)
	require.Positive(t, rep.Foot.IdleRSSBytes)
	require.Positive(t, rep.Foot.StartupLoadedMs)
	require.NotEmpty(t, rep.Targets)

	_, err = json.Marshal(rep)
	require.NoError(t, err)
	var table bytes.Buffer
	require.NoError(t, WriteTable(&table, rep))
	require.Contains(t, table.String(), "TARGET")
	fmt.Fprintln(os.Stderr, table.String())
}
