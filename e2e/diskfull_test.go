package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// TestDiskFullMetrics fills a small tmpfs that holds the data dir while metrics are written
// (issue 18 item 1). The Prometheus TSDB panics when it cannot write a head chunk file, which
// took the whole server down, and again on every restart while the WAL replay met the full
// disk. Metric writes must instead answer 503 naming the disk, the server must stop cleanly,
// start again and answer queries with the disk still full, and take writes once space is
// freed.
func TestDiskFullMetrics(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs (mount -t tmpfs)")
	}
	// The tmpfs holds only the metric store (data/metrics), so that the test is about the
	// TSDB and not about the log and span store beside it.
	dataDir := t.TempDir()
	mnt := filepath.Join(dataDir, "metrics")
	require.NoError(t, os.MkdirAll(mnt, 0o755))
	// 96 MiB: above the metric store's default free-space reserve (32 MiB) plus what an
	// empty server uses, small enough to fill quickly. tmpfs pages are RAM, freed by umount.
	if out, err := execOutput("mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", mnt); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s): the test needs mount permission", err, out)
	}
	t.Cleanup(func() {
		if out, err := execOutput("umount", mnt); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})

	s := startServer(t, dataDir)
	base := time.Now().Add(-2 * time.Minute)
	// Before the disk fills: a write that must survive everything below.
	status, msg := postMetrics(t, s, diskFullMetrics("before", 10, 3, base))
	require.Equal(t, http.StatusOK, status, msg)

	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler, 256<<10)

	// Many series with more samples each than a head chunk holds (120), so that the TSDB
	// must write head chunks to disk, in requests small enough that the WAL takes the first
	// ones: without a guard some commit and the rest fail on the WAL.
	for i := range 20 {
		md := diskFullMetrics(fmt.Sprintf("full%d", i), 100, 150, base)
		status, msg := postMetrics(t, s, md)
		requireAlive(t, s)
		require.NotEqual(t, http.StatusOK, status, "request %d: a write must not succeed on a full disk", i)
		require.Equal(t, http.StatusServiceUnavailable, status, "request %d: %s", i, msg)
		require.Contains(t, msg, "disk", "request %d: the message must name the disk", i)
	}
	requireAlive(t, s)
	queryHasSeries(t, s, `count(last_over_time(disk_full_gauge{batch="before"}[1h]))`, 10)

	// A clean stop (the head writes its chunks at Close) and a restart on the still full disk.
	s.stop()
	s = startServer(t, dataDir)
	queryHasSeries(t, s, `count(last_over_time(disk_full_gauge{batch="before"}[1h]))`, 10)
	status, msg = postMetrics(t, s, diskFullMetrics("restart", 100, 150, base))
	require.Equal(t, http.StatusServiceUnavailable, status, msg)
	require.Contains(t, msg, "disk")
	requireAlive(t, s)

	// Space freed: writes are taken again without a restart.
	require.NoError(t, os.Remove(filler))
	eventually(t, 30*time.Second, func() error {
		status, msg := postMetrics(t, s, diskFullMetrics("after", 100, 150, base))
		if status != http.StatusOK {
			return fmt.Errorf("status %d: %s", status, msg)
		}
		return nil
	})
	queryHasSeries(t, s, `count(last_over_time(disk_full_gauge{batch="after"}[1h]))`, 100)
	s.stop()
}

// fillDisk writes path until the file system is full, then gives back leave bytes.
func fillDisk(t *testing.T, path string, leave int64) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	chunk := bytes.Repeat([]byte{0xa5}, 1<<20)
	var n int64
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		require.NoError(t, err)
	}
	require.NoError(t, f.Truncate(max(n-leave, 0)))
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(filepath.Dir(path), &st))
	t.Logf("filler %d bytes, %d bytes left free", n-leave, int64(st.Bavail)*st.Bsize)
}

// diskFullMetrics makes a gauge with series series of points points each, one a second
// from base.
func diskFullMetrics(batch string, series, points int, base time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "diskfull")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("disk_full_gauge")
	g := m.SetEmptyGauge()
	for i := range series {
		for j := range points {
			dp := g.DataPoints().AppendEmpty()
			dp.Attributes().PutStr("batch", batch)
			dp.Attributes().PutStr("series", fmt.Sprintf("s%04d", i))
			dp.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(j) * time.Second)))
			dp.SetDoubleValue(float64(i*points + j))
		}
	}
	return md
}

// postMetrics sends md over OTLP/HTTP protobuf and returns the status and body.
func postMetrics(t *testing.T, s *server, md pmetric.Metrics) (int, string) {
	t.Helper()
	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	require.NoError(t, err)
	resp, err := http.Post(s.OTLPHTTP+"/v1/metrics", "application/x-protobuf", bytes.NewReader(body))
	require.NoError(t, err, "the server must not crash")
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// queryHasSeries runs an instant PromQL query whose single value must be want.
func queryHasSeries(t *testing.T, s *server, q string, want int) {
	t.Helper()
	var resp struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), http.StatusOK, &resp)
	require.Len(t, resp.Data.Result, 1, q)
	require.Equal(t, fmt.Sprint(want), resp.Data.Result[0].Value[1], q)
}

// requireAlive fails when the server process has exited (a panic).
func requireAlive(t *testing.T, s *server) {
	t.Helper()
	select {
	case err := <-s.exited:
		b, _ := os.ReadFile(s.logPath)
		t.Fatalf("loupe exited: %v\n%s", err, tail(string(b), 40))
	default:
	}
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
