package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDiskFullLogsAndSpans fills a small tmpfs that holds the whole data dir while logs and
// spans are written (issue 18 item 1). DuckDB, which stores them, invalidates its database
// when a checkpoint meets a full disk ("FATAL Error: Failed to create checkpoint ... No
// space left on device"), which killed the server at SIGTERM. Log and span writes must
// instead answer 503 naming the disk, the server must stop cleanly, start again on the full
// disk with everything acknowledged before still there, and take writes once space is freed.
func TestDiskFullLogsAndSpans(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs (mount -t tmpfs)")
	}
	dataDir := t.TempDir()
	// 128 MiB: above the stores' free-space reserves plus what an empty server uses, small
	// enough to fill quickly. tmpfs pages are RAM, freed by umount.
	if out, err := execOutput("mount", "-t", "tmpfs", "-o", "size=128m", "tmpfs", dataDir); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s): the test needs mount permission", err, out)
	}
	t.Cleanup(func() {
		if out, err := execOutput("umount", dataDir); err != nil {
			t.Errorf("umount %s: %v: %s", dataDir, err, out)
		}
	})

	s := startServer(t, dataDir)
	base := time.Now().Add(-time.Minute).UnixNano()
	// Before the disk fills: writes that must survive everything below.
	status, msg := postOTLP(t, s, "/v1/logs", "application/json", diskFullLogs("before", 0, 200, base))
	require.Equal(t, http.StatusOK, status, msg)
	status, msg = postOTLP(t, s, "/v1/traces", "application/json", diskFullSpans("before", 0, 20, base))
	require.Equal(t, http.StatusOK, status, msg)

	// ~25 MiB of WAL: more than DuckDB's default checkpoint threshold (16MB), which its
	// WAL replay at the restart below meets on the full disk.
	for i := range 10 {
		status, msg := postOTLP(t, s, "/v1/logs", "application/json", diskFullLogs("big", i*10000, 10000, base))
		require.Equal(t, http.StatusOK, status, msg)
	}
	filler := filepath.Join(dataDir, "filler")
	fillDisk(t, filler, 256<<10)

	// Requests larger together than the space left, so that without a guard the WAL meets
	// the full disk.
	for i := range 10 {
		status, msg := postOTLP(t, s, "/v1/logs", "application/json", diskFullLogs("full", i*2000, 2000, base))
		requireAlive(t, s)
		require.Equal(t, http.StatusServiceUnavailable, status, "logs request %d: %s", i, msg)
		require.Contains(t, msg, "disk", "logs request %d: the message must name the disk", i)
		status, msg = postOTLP(t, s, "/v1/traces", "application/json", diskFullSpans("full", i*200, 200, base))
		requireAlive(t, s)
		require.Equal(t, http.StatusServiceUnavailable, status, "spans request %d: %s", i, msg)
		require.Contains(t, msg, "disk", "spans request %d: the message must name the disk", i)
	}
	requireAlive(t, s)
	require.Equal(t, 200, countDiskFullLogs(t, s, "before"))
	require.Equal(t, 20, countDiskFullSpans(t, s, "before", 0, 20))

	// A clean stop and a restart on the still full disk: what was acknowledged is there.
	s.stop()
	s = startServer(t, dataDir)
	require.Equal(t, 200, countDiskFullLogs(t, s, "before"))
	require.Equal(t, 100000, countDiskFullLogs(t, s, "big"))
	require.Equal(t, 20, countDiskFullSpans(t, s, "before", 0, 20))
	status, msg = postOTLP(t, s, "/v1/logs", "application/json", diskFullLogs("restart", 0, 2000, base))
	require.Equal(t, http.StatusServiceUnavailable, status, msg)
	require.Contains(t, msg, "disk")
	status, msg = postOTLP(t, s, "/v1/traces", "application/json", diskFullSpans("restart", 0, 200, base))
	require.Equal(t, http.StatusServiceUnavailable, status, msg)
	require.Contains(t, msg, "disk")
	requireAlive(t, s)

	// Space freed: writes are taken again without a restart.
	require.NoError(t, os.Remove(filler))
	eventually(t, 30*time.Second, func() error {
		status, msg := postOTLP(t, s, "/v1/logs", "application/json", diskFullLogs("after", 0, 2000, base))
		if status != http.StatusOK {
			return fmt.Errorf("logs: status %d: %s", status, msg)
		}
		return nil
	})
	status, msg = postOTLP(t, s, "/v1/traces", "application/json", diskFullSpans("after", 0, 200, base))
	require.Equal(t, http.StatusOK, status, msg)
	require.Equal(t, 2000, countDiskFullLogs(t, s, "after"))
	require.Equal(t, 200, countDiskFullSpans(t, s, "after", 0, 200))
	require.Zero(t, countDiskFullLogs(t, s, "full"), "refused log records must not be stored")
	s.stop()

	// And once more after a clean stop with room: nothing lost.
	s = startServer(t, dataDir)
	require.Equal(t, 200, countDiskFullLogs(t, s, "before"))
	require.Equal(t, 100000, countDiskFullLogs(t, s, "big"))
	require.Equal(t, 20, countDiskFullSpans(t, s, "before", 0, 20))
	require.Equal(t, 2000, countDiskFullLogs(t, s, "after"))
	require.Equal(t, 200, countDiskFullSpans(t, s, "after", 0, 200))
	s.stop()
}

// diskFullLogs is an OTLP JSON logs request of n records of service diskfull-<batch>, with
// bodies of ~200 bytes numbered from first.
func diskFullLogs(batch string, first, n int, base int64) string {
	pad := strings.Repeat("x", 180)
	recs := make([]string, n)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"timeUnixNano":"%d","severityNumber":9,"body":{"stringValue":"diskfull %s %d %s"}}`,
			base+int64(first+i), batch, first+i, pad)
	}
	return `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"diskfull-` + batch + `"}}]},` +
		`"scopeLogs":[{"logRecords":[` + strings.Join(recs, ",") + `]}]}]}`
}

// diskFullSpans is an OTLP JSON traces request of n spans, one trace each (diskFullTraceID).
func diskFullSpans(batch string, first, n int, base int64) string {
	pad := strings.Repeat("y", 180)
	spans := make([]string, n)
	for i := range spans {
		spans[i] = fmt.Sprintf(`{"traceId":"%s","spanId":"%016x","name":"op %s","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}`,
			diskFullTraceID(batch, first+i), first+i+1, pad, base+int64(first+i), base+int64(first+i)+1000)
	}
	return `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"diskfull-` + batch + `"}}]},` +
		`"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}`
}

func diskFullTraceID(batch string, i int) string {
	return fmt.Sprintf("d15c%04x%024x", len(batch)*7+int(batch[0]), i+1)
}

// countDiskFullLogs counts the stored log records of service diskfull-<batch>.
func countDiskFullLogs(t *testing.T, s *server, batch string) int {
	t.Helper()
	n := 0
	params := url.Values{"service": {"diskfull-" + batch}, "start": {"now-1h"}, "end": {"now+1h"}, "limit": {"5000"}}
	for {
		var resp apiEnvelope[apiLogs]
		getJSON(t, s.HTTP+"/api/loupe/v1/logs?"+params.Encode(), http.StatusOK, &resp)
		n += len(resp.Data.Records)
		if resp.Data.NextCursor == "" {
			return n
		}
		params.Set("cursor", resp.Data.NextCursor)
	}
}

// countDiskFullSpans counts the stored spans of traces first to first+n-1 of batch.
func countDiskFullSpans(t *testing.T, s *server, batch string, first, n int) int {
	t.Helper()
	found := 0
	for i := first; i < first+n; i++ {
		r, err := http.Get(s.HTTP + "/api/loupe/v1/traces/" + diskFullTraceID(batch, i))
		require.NoError(t, err)
		r.Body.Close()
		if r.StatusCode == http.StatusNotFound {
			continue
		}
		var resp apiEnvelope[apiTrace]
		getJSON(t, s.HTTP+"/api/loupe/v1/traces/"+diskFullTraceID(batch, i), http.StatusOK, &resp)
		found += len(resp.Data.Spans)
	}
	return found
}
