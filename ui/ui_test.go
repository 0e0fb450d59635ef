package ui

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Result()
}

func TestHandlerServesIndexForClientRoutes(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/logs", "/traces/4bf92f3577b34da6a3ce929d0e0e4736", "/services/a%2Fb", "/index.html"} {
		res := get(t, h, p)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
		require.Equal(t, "no-cache", res.Header.Get("Cache-Control"), p)
		body, _ := io.ReadAll(res.Body)
		require.Contains(t, string(body), `<div id="root">`, p)
	}
}

func TestHandlerCachesAssets(t *testing.T) {
	index, err := os.ReadFile("dist/index.html")
	require.NoError(t, err)
	m := regexp.MustCompile(`/assets/[^"]+\.js`).Find(index)
	require.NotNil(t, m, "index.html references a script under assets/")
	res := get(t, Handler(), string(m))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.Header.Get("Cache-Control"), "immutable")
	require.Contains(t, res.Header.Get("Content-Type"), "javascript")

	for _, p := range []string{"/assets/missing-abc.js", "/api/nope", "/api",
		"/loki/api/v1/nope", "/jaeger/api/nope", "/debug/nope"} {
		res = get(t, Handler(), p)
		require.Equal(t, http.StatusNotFound, res.StatusCode, p)
	}
}

func TestHandlerRejectsWrites(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/logs", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

// TestSecurityHeaders: every answer of the UI carries the policy, and the policy allows the
// inline theme script of index.html by its hash (a browser would refuse it otherwise; the
// browser tests fail on the console error that refusal logs).
func TestSecurityHeaders(t *testing.T) {
	index, err := os.ReadFile("dist/index.html")
	require.NoError(t, err)
	script := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindSubmatch(index)
	require.NotNil(t, script, "index.html has its inline theme script")
	sum := sha256.Sum256(script[1])
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	asset := string(regexp.MustCompile(`/assets/[^"]+\.js`).Find(index))
	for _, p := range []string{"/", "/logs", asset, "/assets/missing.js"} {
		res := get(t, Handler(), p)
		csp := res.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "script-src 'self' "+hash, p)
		require.Contains(t, csp, "frame-ancestors 'none'", p)
		require.NotContains(t, csp, "unsafe-eval", p)
		require.Equal(t, "DENY", res.Header.Get("X-Frame-Options"), p)
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), p)
		require.Equal(t, "same-origin", res.Header.Get("Referrer-Policy"), p)
	}
}
