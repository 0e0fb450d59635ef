package promscrape

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

type nopWriter struct{}

func (nopWriter) WriteLogs(context.Context, plog.Logs) error       { return nil }
func (nopWriter) WriteTraces(context.Context, ptrace.Traces) error { return nil }

// With the metric ingest budget taken (by remote write here), a scrape waits its bounded
// time, then fails with the queue-full error on its target and is counted; once room is
// freed, scrapes store their samples again. Before, scrapes appended whatever the budget.
func TestScrapeAdmission(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "adm_scraped 1")
	}))
	defer target.Close()
	st := openStore(t)
	cfg := pipeline.DefaultConfig()
	cfg.QueueItems = 16
	reg := prometheus.NewRegistry()
	p := pipeline.New(cfg, pipeline.Writers{Logs: nopWriter{}, Spans: nopWriter{}, Metrics: st}, nil, reg)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	release, err := p.AdmitMetrics(context.Background(), pipeline.PathRemoteWrite, 16, false)
	require.NoError(t, err)

	opts := testOptions()
	opts.Admission = p
	opts.AdmissionWait = 50 * time.Millisecond
	s, err := New(mustConfig(t, fmt.Sprintf(`
scrape_interval: 1s
scrape_timeout: 1s
scrape_configs: [{job_name: adm, static_configs: [{targets: [%q]}]}]
`, strings.TrimPrefix(target.URL, "http://"))), st, opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })

	throttled := func() float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == "loupe_ingest_throttled_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	eventually(t, "a scrape refused for want of room", func() bool { return throttled() > 0 })
	eventually(t, "the refusal on the target", func() bool {
		for _, ts := range s.Targets(context.Background()).TargetsActive() {
			for _, tg := range ts {
				if err := tg.LastError(); err != nil && strings.Contains(err.Error(), "ingest queue full") {
					return true
				}
			}
		}
		return false
	})
	q := newQuerier(t, st)
	_, ok := q.scalar("adm_scraped")
	require.False(t, ok, "a refused scrape was stored")

	release()
	eventually(t, "scrapes stored once room is freed", func() bool {
		v, ok := q.scalar("adm_scraped")
		return ok && v == 1
	})
}
