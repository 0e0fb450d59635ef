package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBrowserCannotWriteOrRebind plays a hostile web page against a server on loopback: a
// cross-site POST (what any page can send, with no CORS preflight when the body has no
// Content-Type) is refused and stores nothing, and a request whose Host is another name
// (DNS rebinding: evil.example made to resolve to 127.0.0.1) is refused on every port that
// speaks HTTP. Programs, which send neither Origin nor Sec-Fetch-Site, are unaffected.
func TestBrowserCannotWriteOrRebind(t *testing.T) {
	s := startServer(t, t.TempDir())
	push := `{"streams":[{"stream":{"service_name":"csrf"},"values":[["` + strconv.FormatInt(time.Now().UnixNano(), 10) + `","written cross-site"]]}]}`

	do := func(method, url, host string, header map[string]string, body string) (int, string) {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		require.NoError(t, err)
		if host != "" {
			req.Host = host
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	status, body := do(http.MethodPost, s.HTTP+"/loki/api/v1/push", "", map[string]string{
		"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, push)
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, "cross-origin POST refused")

	status, body = do(http.MethodPost, s.OTLPHTTP+"/v1/logs", "", map[string]string{
		"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example", "Content-Type": "application/json"}, `{}`)
	require.Equal(t, http.StatusForbidden, status, body)

	for _, u := range []string{s.HTTP + "/api/loupe/v1/logs", s.HTTP + "/api/v1/labels", s.HTTP + "/", s.OTLPHTTP + "/v1/logs"} {
		status, body = do(http.MethodGet, u, "evil.example:7070", nil, "")
		require.Equal(t, http.StatusMisdirectedRequest, status, "%s: %s", u, body)
		require.Contains(t, body, "listen.allowed_hosts")
	}

	// The same push from a program is stored, and only it.
	status, body = do(http.MethodPost, s.HTTP+"/loki/api/v1/push", "", map[string]string{"Content-Type": "application/json"}, push)
	require.Equal(t, http.StatusNoContent, status, body)
	eventually(t, 10*time.Second, func() error {
		if n := len(findLogs(t, s, url.Values{"service": {"csrf"}})); n != 1 {
			return fmt.Errorf("%d records of service csrf, want 1", n)
		}
		return nil
	})
}
