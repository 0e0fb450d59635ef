package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// A tenant's own rules (tenants.rules_dir/ID) are evaluated over its data only, listed by
// its rules API only, and their alerts reach the server's Alertmanagers labelled with the
// tenant.
func TestTenantRules(t *testing.T) {
	var mu sync.Mutex
	var posted []string
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	t.Cleanup(am.Close)
	rulesDir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(rulesDir, "team-a", "logql"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rulesDir, "team-a", "r.yml"), []byte(`groups:
  - name: team-a
    interval: 200ms
    rules:
      - alert: TeamAUp
        expr: vector(1)
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(rulesDir, "team-a", "logql", "l.yml"), []byte(`groups:
  - name: team-a-logs
    interval: 200ms
    rules:
      - record: teama:lines:count1m
        expr: sum(count_over_time({service_name="svc"}[1m]))
`), 0o644))

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.ListenConfig{HTTP: "127.0.0.1:0", OTLPGRPC: "127.0.0.1:0", OTLPHTTP: "127.0.0.1:0"}
	cfg.Statsd.UDPAddr, cfg.Statsd.TCPAddr = "", ""
	cfg.Tenants.Enabled, cfg.Tenants.RulesDir = true, rulesDir
	cfg.Alerting.Alertmanagers = []string{am.URL}
	require.NoError(t, cfg.Validate())
	s := New(cfg, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })

	require.Contains(t, get(t, s, "/api/v1/rules", "team-a"), "TeamAUp", "the first request opens team-a")
	require.NotContains(t, get(t, s, "/api/v1/rules", ""), "TeamAUp")
	require.NotContains(t, get(t, s, "/api/v1/rules", "team-b"), "TeamAUp")
	require.Contains(t, get(t, s, "/loki/api/v1/rules", "team-a"), "teama:lines:count1m")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range posted {
			if strings.Contains(p, `"alertname":"TeamAUp"`) && strings.Contains(p, `"tenant":"team-a"`) {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "team-a's alert, labelled with its tenant, at the Alertmanager")
	require.Contains(t, get(t, s, "/api/v1/alerts", "team-a"), "TeamAUp")
	require.NotContains(t, get(t, s, "/api/v1/alerts", ""), "TeamAUp")
}
