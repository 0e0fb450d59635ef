package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/ingest/sentry"
	"github.com/loupe-dev/loupe/internal/tenant"
)

func TestResolveTenant(t *testing.T) {
	cfg := config.Default()
	s := New(cfg, nil, slog.New(slog.DiscardHandler))
	bound := tenant.WithBound(context.Background(), "team-a")
	for _, c := range []struct {
		enabled bool
		ctx     context.Context
		header  string
		want    string
		code    int // the tenantError's HTTP status; 0: none
	}{
		{false, context.Background(), "team-b", "default", 0}, // off: the header is ignored
		{false, bound, "team-b", "default", 0},
		{true, context.Background(), "", "default", 0},
		{true, context.Background(), "team-b", "team-b", 0},
		{true, context.Background(), "../x", "", http.StatusBadRequest},
		{true, bound, "", "team-a", 0},
		{true, bound, "team-a", "team-a", 0},
		{true, bound, "team-b", "", http.StatusForbidden},
	} {
		s.cfg.Tenants.Enabled = c.enabled
		got, err := s.resolveTenant(c.ctx, c.header)
		name := fmt.Sprintf("enabled %v header %q", c.enabled, c.header)
		if c.code != 0 {
			var te *tenantError
			require.ErrorAs(t, err, &te, name)
			require.Equal(t, c.code, te.httpCode, name)
			continue
		}
		require.NoError(t, err, name)
		require.Equal(t, c.want, got, name)
	}
}

// Two tenants and the default one, through the HTTP port's Loki push and query: each
// reads its own logs only; each tenant's stores are in its directory; tenants.max refuses
// one more; a restarted server opens the tenants it has data for.
func TestTenantsKeepLogsApart(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.ListenConfig{HTTP: "127.0.0.1:0", OTLPGRPC: "127.0.0.1:0", OTLPHTTP: "127.0.0.1:0"}
	cfg.Statsd.UDPAddr, cfg.Statsd.TCPAddr = "", ""
	cfg.Tenants.Enabled, cfg.Tenants.Max = true, 2
	require.NoError(t, cfg.Validate())
	start := func() *Server {
		s := New(cfg, nil, slog.New(slog.DiscardHandler))
		require.NoError(t, s.Start(context.Background()))
		return s
	}
	s := start()
	base := "http://" + s.HTTPAddr()
	do := func(method, path, orgID, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		if orgID != "" {
			req.Header.Set(tenant.Header, orgID)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	now := time.Now().UnixNano()
	for _, org := range []string{"", "team-a", "team-b"} {
		body := fmt.Sprintf(`{"streams":[{"stream":{"service_name":"svc"},"values":[["%d","line of tenant [%s]"]]}]}`, now, org)
		code, msg := do("POST", "/loki/api/v1/push", org, body)
		require.Equal(t, http.StatusNoContent, code, msg)
	}
	query := "/loki/api/v1/query_range?query=%7Bservice_name%3D%22svc%22%7D&limit=10"
	for _, org := range []string{"", "team-a", "team-b"} {
		code, body := do("GET", query, org, "")
		require.Equal(t, http.StatusOK, code, body)
		for _, other := range []string{"", "team-a", "team-b"} {
			line := fmt.Sprintf("line of tenant [%s]", other)
			require.Equal(t, other == org, strings.Contains(body, line), "tenant %q reading %q: %s", org, other, body)
		}
	}
	for _, org := range []string{"team-a", "team-b"} {
		_, err := os.Stat(filepath.Join(cfg.DataDir, "tenants", org, "loupe.duckdb"))
		require.NoError(t, err)
	}
	// A tenant's status names the ports it is reached by: the server's.
	code, body := do("GET", "/api/loupe/v1/status", "team-a", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"otlp_http":"`+s.receiver.HTTPAddr()+`"`)
	require.Contains(t, body, `"tenant":"team-a"`)
	code, body = do("GET", "/api/v1/labels", "team-c", "")
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "tenants.max = 2")
	code, body = do("GET", "/api/v1/labels", "a/b", "")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "X-Scope-OrgID: tenant id \"a/b\"")
	require.NoError(t, s.Shutdown(context.Background()))

	s = start()
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	require.Len(t, s.tenants.open, 2, "the tenants with data are open after a restart")
	base = "http://" + s.HTTPAddr()
	code, body = do("GET", query, "team-b", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "line of tenant [team-b]")
}

// A Sentry SDK's DSN key made for a tenant (`loupe sentry-dsn create --tenant`) files its
// events in that tenant, also when the key was made while the server ran.
func TestTenantsSentryKeyChoosesTenant(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.ListenConfig{HTTP: "127.0.0.1:0", OTLPGRPC: "127.0.0.1:0", OTLPHTTP: "127.0.0.1:0"}
	cfg.Statsd.UDPAddr, cfg.Statsd.TCPAddr = "", ""
	cfg.Tenants.Enabled = true
	s := New(cfg, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	base := "http://" + s.HTTPAddr()

	// Both keys made before the first event: a key the server was asked for less than a
	// second ago is seen a second later (sentry.Projects).
	keyA, err := sentry.CreateKey(cfg.SentryKeysPath("team-a"), nil, "api")
	require.NoError(t, err)
	keyDefault, err := sentry.CreateKey(cfg.SentryKeysPath(""), nil, "api")
	require.NoError(t, err)
	send := func(p sentry.Project, message string) {
		t.Helper()
		env := fmt.Sprintf("{}\n{\"type\":\"event\"}\n{\"event_id\":\"%032x\",\"level\":\"error\",\"platform\":\"go\",\"exception\":{\"values\":[{\"type\":\"%s\",\"value\":\"boom\"}]}}\n",
			time.Now().UnixNano(), message)
		req, err := http.NewRequest("POST", base+"/api/"+p.ID+"/envelope/", strings.NewReader(env))
		require.NoError(t, err)
		req.Header.Set("X-Sentry-Auth", "Sentry sentry_version=7, sentry_key="+p.Keys[0])
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	}
	send(keyA, "TeamAError") // a tenant with no directory before its key
	send(keyDefault, "DefaultError")
	issues := func(org string) string { return get(t, s, "/api/loupe/v1/issues", org) }
	require.Eventually(t, func() bool { return strings.Contains(issues("team-a"), "TeamAError") }, 10*time.Second, 50*time.Millisecond)
	require.NotContains(t, issues("team-a"), "DefaultError")
	require.Eventually(t, func() bool { return strings.Contains(issues(""), "DefaultError") }, 10*time.Second, 50*time.Millisecond)
	require.NotContains(t, issues(""), "TeamAError")
}
