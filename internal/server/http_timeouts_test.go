package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/config"
)

func TestHTTPServerTimeoutsFromConfig(t *testing.T) {
	cfg := config.Default()
	s := &Server{cfg: cfg}
	srv := s.newHTTPServer(http.NotFoundHandler()).srv
	require.Equal(t, 10*time.Second, srv.ReadHeaderTimeout)
	require.Equal(t, 2*time.Minute, srv.IdleTimeout)
	require.Zero(t, srv.ReadTimeout, "a server-wide ReadTimeout would cancel long queries")
}

// A client that stops sending its body is cut off after the body timeout (before, the
// HTTP port waited forever); a request whose body was sent in time, and one without a
// body, keep their context past the timeout.
func TestBodyDeadline(t *testing.T) {
	const d = 300 * time.Millisecond
	readErr := make(chan error, 1)
	h := bodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		if r.URL.Path == "/slow" {
			readErr <- err
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
			}
			return
		}
		require.NoError(t, err)
		// Outlive the body deadline: the context must stay alive.
		select {
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusInternalServerError)
		case <-time.After(3 * d):
			fmt.Fprint(w, "ok")
		}
	}), d)
	srv := httptest.NewServer(h)
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nonly a few bytes")
	require.NoError(t, err)
	select {
	case err := <-readErr:
		require.Error(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("body read never timed out")
	}

	for _, req := range []func() (*http.Response, error){
		func() (*http.Response, error) {
			return http.Post(srv.URL+"/fast", "text/plain", strings.NewReader("body"))
		},
		func() (*http.Response, error) { return http.Get(srv.URL + "/fast") },
	} {
		resp, err := req()
		require.NoError(t, err)
		b, _ := io.ReadAll(bufio.NewReader(resp.Body))
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	}
}

func TestLabelLimitsFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Limits.MaxAttributesPerItem = 7
	cfg.Limits.MaxAttributeValueBytes = 99
	l := (&Server{cfg: cfg}).labelLimits()
	require.Equal(t, 7, l.Labels)
	require.Equal(t, 99, l.ValueBytes)
	require.Equal(t, 256, l.NameBytes)
}
