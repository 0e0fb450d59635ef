package ui

import (
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

	for _, p := range []string{"/assets/missing-abc.js", "/api/nope", "/api"} {
		res = get(t, Handler(), p)
		require.Equal(t, http.StatusNotFound, res.StatusCode, p)
	}
}

func TestHandlerRejectsWrites(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/logs", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
