package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRestartKeepsAcknowledgedData ingests every signal, stops the server with SIGTERM,
// starts it again on the same data directory and reads everything back.
func TestRestartKeepsAcknowledgedData(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	sent := sendCheckoutTrace(t, ctx, s, viaGRPC, viaHTTP)
	sendMetrics(t, ctx, s, viaHTTP)
	s.stop()

	s = startServer(t, dir)
	// Operators' endpoints answer too.
	for _, path := range []string{"/-/healthy", "/-/ready", "/metrics", "/debug/pprof/heap?debug=1"} {
		getJSON(t, s.HTTP+path, 200, nil)
	}
	checkCheckoutTrace(t, s, sent)
	checkCheckoutLogs(t, s, sent)
	require.Equal(t, map[string]float64{"map[]": 60}, instant(t, s, `sum(http_server_requests_total)`))
	require.Equal(t, map[string]float64{"map[]": 20}, instant(t, s, `sum(http_server_request_duration_seconds_count)`))
}
