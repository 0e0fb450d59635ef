package otlp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

// A request that declares a large Content-Length but has sent no body yet must not make
// the handler allocate that length: before, readBody grew its buffer to the declared 16
// MiB at once, and 400 such connections held 5-6.5 GB.
func TestReadBodyDoesNotAllocateDeclaredLength(t *testing.T) {
	h := &httpHandler{maxBytes: 16 << 20}
	r := httptest.NewRequest(http.MethodPost, "/v1/traces", io.MultiReader()) // no bytes at all
	r.ContentLength = 16 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var buf bytes.Buffer
	err := h.readBody(r, &buf)
	runtime.ReadMemStats(&after)
	require.NoError(t, err) // an empty body; the size mismatch is the server's to report
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "allocated before the body arrived")
	require.Less(t, buf.Cap(), 1<<20)

	// A body that does arrive is still read whole.
	body := bytes.Repeat([]byte("x"), 1<<20)
	r = httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
	buf.Reset()
	require.NoError(t, h.readBody(r, &buf))
	require.Equal(t, body, buf.Bytes())
}

// The HTTP listener's timeouts come from the configuration (the server passes the
// limits.http_* keys).
func TestHTTPTimeoutsFromConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr = "", "127.0.0.1:0"
	cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.IdleTimeout = 3*time.Second, 4*time.Second, 5*time.Second
	r := New(cfg, pipeline.New(pipeline.DefaultConfig(), pipeline.Writers{Logs: nopStore{}, Spans: nopStore{}, Metrics: nopStore{}}, nil, nil), nil, nil)
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Shutdown(context.Background())) }()
	require.Equal(t, 3*time.Second, r.httpSrv.ReadHeaderTimeout)
	require.Equal(t, 4*time.Second, r.httpSrv.ReadTimeout)
	require.Equal(t, 5*time.Second, r.httpSrv.IdleTimeout)

	cfg.IdleTimeout = 0
	require.ErrorContains(t, cfg.Validate(), "otlp.IdleTimeout")
}
