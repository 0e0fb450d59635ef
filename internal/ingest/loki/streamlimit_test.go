package loki

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

// nopStore takes every write.
type nopStore struct{ noMetrics }

func (nopStore) WriteLogs(context.Context, plog.Logs) error       { return nil }
func (nopStore) WriteTraces(context.Context, ptrace.Traces) error { return nil }

// Entries of streams beyond limits.max_log_streams are answered 429 naming the limit, as
// Loki answers its stream limit; it was 400 before.
func TestPushStreamLimit429(t *testing.T) {
	cfg := pipeline.DefaultConfig()
	cfg.Limits.MaxLogStreams = 1
	cfg.Limits.StreamIdle = time.Hour
	p := pipeline.New(cfg, pipeline.Writers{Logs: nopStore{}, Spans: nopStore{}, Metrics: noMetrics{}}, nil, nil)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	h := NewPushHandler(p, DefaultOptions(), nil, prometheus.NewRegistry())

	now := time.Now().UnixNano()
	line := func(svc string) string {
		return `{"stream":{"service_name":"` + svc + `"},"values":[["` + strconv.FormatInt(now, 10) + `","line"]]}`
	}
	code, _, msg := post(t, h, []byte(`{"streams":[`+line("a")+`,`+line("b")+`]}`), "Content-Type", "application/json")
	require.Equal(t, http.StatusTooManyRequests, code, msg)
	require.Contains(t, msg, "1 of 2 entries rejected (the others are stored)")
	require.Contains(t, msg, "stream limit exceeded")
	require.Contains(t, msg, "limits.max_log_streams")

	code, _, msg = post(t, h, []byte(`{"streams":[`+line("a")+`]}`), "Content-Type", "application/json")
	require.Equal(t, http.StatusNoContent, code, msg)
}
