package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTenantLimits: the real binary with tenants.overrides giving team-a an ingest rate
// of one item in 1000 s (so that no refill depends on the clock) and a burst of 2. Its
// Loki push and Pyroscope uploads beyond that are answered 429 naming the tenant and
// tenants.limits.ingest_rate while team-b, without limits, keeps ingesting.
func TestTenantLimits(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, writeFile(cfgPath, `
tenants:
  enabled: true
  overrides:
    team-a: {ingest_rate: 0.001, ingest_burst: 2}
`))
	s := startServer(t, filepath.Join(dir, "data"), "--config", cfgPath)
	send := func(path, org, contentType, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", s.HTTP+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-Scope-OrgID", org)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	push := func(org string, n int) (int, string) {
		var values []string
		for i := range n {
			values = append(values, fmt.Sprintf(`["%d","line %d"]`, time.Now().UnixNano()+int64(i), i))
		}
		return send("/loki/api/v1/push", org, "application/json",
			`{"streams":[{"stream":{"service_name":"svc"},"values":[`+strings.Join(values, ",")+`]}]}`)
	}
	const named = `tenant "team-a": tenants.limits.ingest_rate of 0.001 items/s exceeded`

	code, body := push("team-a", 2)
	require.Equal(t, http.StatusNoContent, code, body)
	code, body = push("team-a", 1)
	require.Equal(t, http.StatusTooManyRequests, code, body)
	require.Contains(t, body, named)
	code, body = push("team-b", 20)
	require.Equal(t, http.StatusNoContent, code, body)

	ingest := "/ingest?name=app.cpu%7B%7D&format=folded&from=" + fmt.Sprint(time.Now().Unix()-10)
	code, body = send(ingest, "team-a", "text/plain", "main;work 10\n")
	require.Equal(t, http.StatusTooManyRequests, code, body)
	require.Contains(t, body, named)
	code, body = send(ingest, "team-b", "text/plain", "main;work 10\n")
	require.Equal(t, http.StatusOK, code, body)
}
