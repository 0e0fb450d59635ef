package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Sentry's browser SDK posts from other sites' pages: the two Sentry ingest paths accept
// cross-origin POSTs (they are authenticated by the DSN key), every other write stays
// guarded, and the Host check still applies to them.
func TestBrowserGuardSentryExemption(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	g := browserGuard(ok, "127.0.0.1:7070", nil)
	serve := func(path, host string) int {
		r := httptest.NewRequest(http.MethodPost, "http://"+host+path, strings.NewReader("{}"))
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", "https://shop.example")
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		return w.Code
	}
	for _, p := range []string{"/api/1/envelope/", "/api/42/store/", "/api/7/envelope?sentry_key=abc"} {
		require.Equal(t, http.StatusNoContent, serve(p, "127.0.0.1:7070"), p)
	}
	for _, p := range []string{"/api/v1/write", "/api/v1/envelope/", "/api/loupe/v1/runs", "/loki/api/v1/push", "/api/1/envelope/x", "/api/1/minidump/"} {
		require.Equal(t, http.StatusForbidden, serve(p, "127.0.0.1:7070"), p)
	}
	require.Equal(t, http.StatusMisdirectedRequest, serve("/api/1/envelope/", "evil.example"), "DNS rebinding is still refused")
}
