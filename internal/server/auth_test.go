package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/auth"
)

func TestClassifyHTTP(t *testing.T) {
	const open = auth.Scope("open")
	for _, c := range []struct {
		method, path string
		want         auth.Scope
	}{
		{"GET", "/-/healthy", open},
		{"GET", "/-/ready", open},
		{"POST", "/api/1/envelope/", open}, // Sentry: its DSN key
		{"POST", "/api/42/store/", open},
		{"POST", "/api/v1/write", auth.ScopeIngest},
		{"POST", "/api/v1/otlp/v1/metrics", auth.ScopeIngest},
		{"POST", "/loki/api/v1/push", auth.ScopeIngest},
		{"POST", "/api/prom/push", auth.ScopeIngest},
		{"GET", "/api/v1/query", auth.ScopeRead},
		{"POST", "/api/v1/query_range", auth.ScopeRead}, // Grafana queries by POST
		{"GET", "/loki/api/v1/query_range", auth.ScopeRead},
		{"GET", "/api/search", auth.ScopeRead},
		{"GET", "/api/loupe/v1/issues", auth.ScopeRead},
		{"PUT", "/api/loupe/v1/issues/3/status", auth.ScopeRead},
		{"GET", "/api/loupe/v1/profiles/pprof", auth.ScopeRead},
		{"POST", "/querier.v1.QuerierService/SelectMergeStacktraces", auth.ScopeRead}, // Grafana's Pyroscope data source
		{"GET", "/metrics", auth.ScopeRead},
		{"GET", "/", auth.ScopeRead},
		{"GET", "/assets/index.js", auth.ScopeRead},
		{"GET", "/alertmanager/api/v2/silences", auth.ScopeRead},
		{"POST", "/alertmanager/api/v2/silences", auth.ScopeAdmin},
		{"DELETE", "/alertmanager/api/v2/silence/x", auth.ScopeAdmin},
		{"GET", "/api/loupe/v1/dashboards", auth.ScopeRead},
		{"GET", "/api/loupe/v1/dashboards/web/export", auth.ScopeRead},
		{"POST", "/api/loupe/v1/dashboards", auth.ScopeAdmin},
		{"PUT", "/api/loupe/v1/dashboards/web", auth.ScopeAdmin},
		{"DELETE", "/api/loupe/v1/dashboards/web", auth.ScopeAdmin},
		{"POST", "/api/loupe/v1/dashboards/import", auth.ScopeAdmin},
		{"POST", "/-/reload", auth.ScopeAdmin},
		{"GET", "/debug/pprof/", auth.ScopeAdmin},
		{"POST", "/api/v1/admin/tsdb/delete_series", auth.ScopeAdmin},
	} {
		scope, isOpen := classifyHTTP(httptest.NewRequest(c.method, c.path, nil))
		if isOpen {
			scope = open
		}
		require.Equal(t, c.want, scope, "%s %s", c.method, c.path)
	}
}

func TestClassifyWithUI(t *testing.T) {
	mux := http.NewServeMux()
	h := http.NotFoundHandler()
	for _, p := range []string{"/", "/api/loupe/v1/", "/api/v1/", auth.SessionPath, "GET /metrics"} {
		mux.Handle(p, h)
	}
	classify := classifyWithUI(mux)
	for _, c := range []struct {
		method, path string
		open         bool
	}{
		{"GET", "/", true}, // the UI's page and assets: no data, and the sign-in page must load
		{"GET", "/logs", true},
		{"HEAD", "/index.html", true},
		{"GET", "/assets/index-abc.js", true},
		{"GET", auth.SessionPath, true},
		{"POST", auth.SessionPath, true}, // sign-in checks what it is sent itself
		{"POST", "/", false},
		{"GET", "/api/loupe/v1/logs", false},
		{"GET", "/api/nothing-here", false}, // an unknown API path does not say it is unknown
		{"GET", "/alertmanager/api/v2/alerts", false},
		{"GET", "/metrics", false},
	} {
		_, open := classify(httptest.NewRequest(c.method, c.path, nil))
		require.Equal(t, c.open, open, "%s %s", c.method, c.path)
	}
}

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:0": true, "localhost:7070": true, "[::1]:4317": true, "127.1.2.3:1": true,
		"0.0.0.0:7070": false, ":7070": false, "[::]:4317": false, "192.0.2.1:80": false, "example.com:80": false,
	} {
		require.Equal(t, want, loopbackAddr(addr), addr)
	}
}
