package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBrowserGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	serve := func(h http.Handler, method, host string, header map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://"+host+"/loki/api/v1/push", strings.NewReader("{}"))
		for k, v := range header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	loopback := browserGuard(ok, "127.0.0.1:7070", []string{"loupe.internal"})
	for _, host := range []string{"127.0.0.1:7070", "localhost:7070", "LOCALHOST", "[::1]:7070", "app.localhost:7070", "loupe.internal:7070"} {
		require.Equal(t, http.StatusNoContent, serve(loopback, http.MethodGet, host, nil).Code, host)
	}
	for _, host := range []string{"evil.example:7070", "evil.example", "10.0.0.1:7070"} {
		w := serve(loopback, http.MethodGet, host, nil)
		require.Equal(t, http.StatusMisdirectedRequest, w.Code, host)
		require.Contains(t, w.Body.String(), "listen.allowed_hosts")
	}

	// A port listening beyond loopback answers any name unless names are listed.
	require.Equal(t, http.StatusNoContent, serve(browserGuard(ok, "0.0.0.0:7070", nil), http.MethodGet, "evil.example", nil).Code)
	require.Equal(t, http.StatusMisdirectedRequest, serve(browserGuard(ok, "0.0.0.0:7070", []string{"loupe.example"}), http.MethodGet, "evil.example", nil).Code)
	require.Equal(t, http.StatusNoContent, serve(browserGuard(ok, "127.0.0.1:7070", []string{"*"}), http.MethodGet, "evil.example", nil).Code)

	// A cross-site write from a browser is refused; the same request from a program (no
	// Sec-Fetch-Site, no Origin) and a same-origin one from Loupe's UI are not.
	w := serve(loopback, http.MethodPost, "127.0.0.1:7070", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Contains(t, w.Body.String(), "cross-origin POST refused")
	w = serve(loopback, http.MethodPost, "127.0.0.1:7070", map[string]string{"Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, w.Code, "browsers without Sec-Fetch-Site send Origin")
	require.Equal(t, http.StatusNoContent, serve(loopback, http.MethodPost, "127.0.0.1:7070", nil).Code)
	require.Equal(t, http.StatusNoContent, serve(loopback, http.MethodPost, "127.0.0.1:7070", map[string]string{"Sec-Fetch-Site": "same-origin"}).Code)
	require.Equal(t, http.StatusNoContent, serve(loopback, http.MethodGet, "127.0.0.1:7070", map[string]string{"Sec-Fetch-Site": "cross-site"}).Code,
		"reads are not state-changing; the browser does not let the page see the answer")
}

func TestLoopbackOnly(t *testing.T) {
	h := loopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	for addr, want := range map[string]int{"127.0.0.1:5000": 200, "[::1]:5000": 200, "10.1.2.3:5000": 403, "192.168.1.5:1": 403} {
		r := httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, want, w.Code, addr)
	}
}
