package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMinFreeDiskBytesConfig: limits.min_free_disk_bytes sets the free space both stores
// keep (issue 18). With more than any disk has, the server still starts (the metric store
// read-only, the log store refusing writes) and answers 503 naming the disk to metric and
// log writes, while queries work. Before the key existed the server refused to start.
func TestMinFreeDiskBytesConfig(t *testing.T) {
	s := startServer(t, t.TempDir(), "--config", writeConfig(t, "limits:\n  min_free_disk_bytes: 4611686018427387904\n"))

	status, msg := postMetrics(t, s, diskFullMetrics("reserve", 1, 1, time.Now().Add(-time.Minute)))
	require.Equal(t, http.StatusServiceUnavailable, status, msg)
	require.Contains(t, msg, "disk")
	status, msg = postOTLP(t, s, "/v1/logs", "application/json", logsJSON("", "kept free"))
	require.Equal(t, http.StatusServiceUnavailable, status, msg)
	require.Contains(t, msg, "disk")

	var resp struct {
		Status string `json:"status"`
	}
	getJSON(t, s.HTTP+"/api/v1/query?query=up", http.StatusOK, &resp)
	require.Equal(t, "success", resp.Status)
	requireAlive(t, s)
}
