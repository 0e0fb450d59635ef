package otlp

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/pipeline"
)

// memStore is an in-memory store writer that keeps a copy of everything written. When
// hold is set, writes wait for it to close.
type memStore struct {
	mu      sync.Mutex
	logs    plog.Logs
	traces  ptrace.Traces
	metrics pmetric.Metrics
	hold    chan struct{}
	entered chan struct{}
}

func newMemStore() *memStore {
	return &memStore{
		logs:    plog.NewLogs(),
		traces:  ptrace.NewTraces(),
		metrics: pmetric.NewMetrics(),
		entered: make(chan struct{}, 1000),
	}
}

func (s *memStore) wait(ctx context.Context) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	if s.hold == nil {
		return nil
	}
	select {
	case <-s.hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *memStore) WriteLogs(ctx context.Context, ld plog.Logs) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ld.ResourceLogs().CopyTo(s.logs.ResourceLogs())
	return nil
}

func (s *memStore) WriteTraces(ctx context.Context, td ptrace.Traces) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range td.ResourceSpans().All() {
		rs.CopyTo(s.traces.ResourceSpans().AppendEmpty())
	}
	return nil
}

func (s *memStore) WriteMetrics(ctx context.Context, md pmetric.Metrics) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rm := range md.ResourceMetrics().All() {
		rm.CopyTo(s.metrics.ResourceMetrics().AppendEmpty())
	}
	return nil
}

func (s *memStore) snapshotTraces() ptrace.Traces {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := ptrace.NewTraces()
	s.traces.CopyTo(c)
	return c
}

func (s *memStore) snapshotLogs() plog.Logs {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := plog.NewLogs()
	s.logs.CopyTo(c)
	return c
}

func (s *memStore) snapshotMetrics() pmetric.Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := pmetric.NewMetrics()
	s.metrics.CopyTo(c)
	return c
}

// testEnv is a real pipeline over a memStore and a receiver on random loopback ports.
type testEnv struct {
	store    *memStore
	pipeline *pipeline.Pipeline
	recv     *Receiver
	reg      *prometheus.Registry
}

func startEnv(t testing.TB, pcfg pipeline.Config, rcfg Config, st *memStore) *testEnv {
	t.Helper()
	if st == nil {
		st = newMemStore()
	}
	reg := prometheus.NewRegistry()
	p := pipeline.New(pcfg, pipeline.Writers{Logs: st, Spans: st, Metrics: st}, nil, reg)
	require.NoError(t, p.Start(context.Background()))
	rcfg.GRPCAddr, rcfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	r := New(rcfg, p, nil, reg)
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() {
		if st.hold != nil {
			select {
			case <-st.hold:
			default:
				close(st.hold)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, r.Shutdown(ctx))
		require.NoError(t, p.Shutdown(ctx))
	})
	return &testEnv{store: st, pipeline: p, recv: r, reg: reg}
}
