package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

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
