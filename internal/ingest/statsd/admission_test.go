package statsd

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

type nopWriter struct{}

func (nopWriter) WriteLogs(context.Context, plog.Logs) error          { return nil }
func (nopWriter) WriteTraces(context.Context, ptrace.Traces) error    { return nil }
func (nopWriter) WriteMetrics(context.Context, pmetric.Metrics) error { return nil }

// With the metric ingest budget taken (by remote write here), a flush waits up to the
// flush interval, then drops its samples, counted as refused; once room is freed, flushes
// store again. Before, flushes appended whatever the budget.
func TestFlushAdmission(t *testing.T) {
	cfg := pipeline.DefaultConfig()
	cfg.QueueItems = 16
	p := pipeline.New(cfg, pipeline.Writers{Logs: nopWriter{}, Spans: nopWriter{}, Metrics: nopWriter{}}, nil, nil)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	release, err := p.AdmitMetrics(context.Background(), pipeline.PathRemoteWrite, 16, false)
	require.NoError(t, err)

	h := newHarness(t, func(c *Config) {
		c.Admission = p
		c.FlushInterval = model.Duration(50 * time.Millisecond) // also the longest wait
	})
	h.sendUDP("adm.gauge:5|g")
	h.waitLines(1)
	require.GreaterOrEqual(t, testutil.ToFloat64(h.r.metrics.samplesRejected), 1.0)
	require.Empty(t, h.query("adm_gauge"))

	release()
	h.sendUDP("adm.gauge:6|g")
	h.waitLines(2)
	require.Equal(t, 6.0, h.value("adm_gauge"))
}
