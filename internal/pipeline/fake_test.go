package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// fakeStore records every write. hold, when set, makes writes wait until it is closed
// (or the write ctx ends), and entered receives one value per write that started.
// A batch holding a log body "poison" fails. metricsErr is returned by WriteMetrics.
type fakeStore struct {
	mu         sync.Mutex
	logs       []plog.Logs
	traces     []ptrace.Traces
	metrics    []pmetric.Metrics
	calls      int
	hold       chan struct{}
	entered    chan struct{}
	metricsErr error
	panicOn    string
}

func newFakeStore() *fakeStore {
	return &fakeStore{entered: make(chan struct{}, 100)}
}

func (f *fakeStore) wait(ctx context.Context) error {
	select {
	case f.entered <- struct{}{}:
	default: // nobody watches; tests that do read it before it fills
	}
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold == nil {
		return nil
	}
	select {
	case <-hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeStore) WriteLogs(ctx context.Context, ld plog.Logs) error {
	if err := f.wait(ctx); err != nil {
		return err
	}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if lr.Body().Str() == "poison" {
					return errors.New("poisoned batch")
				}
				if f.panicOn != "" && lr.Body().Str() == f.panicOn {
					panic("writer bug")
				}
			}
		}
	}
	c := plog.NewLogs()
	ld.CopyTo(c)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.logs = append(f.logs, c)
	return nil
}

func (f *fakeStore) WriteTraces(ctx context.Context, td ptrace.Traces) error {
	if err := f.wait(ctx); err != nil {
		return err
	}
	c := ptrace.NewTraces()
	td.CopyTo(c)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.traces = append(f.traces, c)
	return nil
}

func (f *fakeStore) WriteMetrics(ctx context.Context, md pmetric.Metrics) error {
	if err := f.wait(ctx); err != nil {
		return err
	}
	c := pmetric.NewMetrics()
	md.CopyTo(c)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.metrics = append(f.metrics, c)
	return f.metricsErr
}

func (f *fakeStore) setHold(ch chan struct{}) {
	f.mu.Lock()
	f.hold = ch
	f.mu.Unlock()
}

// logBodies returns every stored log body, in write order.
func (f *fakeStore) logBodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, ld := range f.logs {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, lr.Body().Str())
				}
			}
		}
	}
	return out
}

func (f *fakeStore) writeCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// startPipeline starts a pipeline on fs with cfg and shuts it down at the end of the test.
func startPipeline(t testing.TB, cfg Config, fs *fakeStore) (*Pipeline, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	p := New(cfg, Writers{Logs: fs, Spans: fs, Metrics: fs}, nil, reg)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() {
		fs.mu.Lock()
		if fs.hold != nil {
			select {
			case <-fs.hold:
			default:
				close(fs.hold)
			}
		}
		fs.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, p.Shutdown(ctx))
	})
	return p, reg
}

// logsOf returns one resource with one log record per body.
func logsOf(bodies ...string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "test")
	sl := rl.ScopeLogs().AppendEmpty()
	for _, b := range bodies {
		sl.LogRecords().AppendEmpty().Body().SetStr(b)
	}
	return ld
}

func tracesOf(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := range n {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		s.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i + 1)})
		s.SetName("op")
		s.SetStartTimestamp(1000)
		s.SetEndTimestamp(2000)
	}
	return td
}

func gaugeOf(name string, values ...float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	g := m.SetEmptyGauge()
	for _, v := range values {
		dp := g.DataPoints().AppendEmpty()
		dp.SetDoubleValue(v)
		dp.SetTimestamp(1000)
	}
	return md
}

// queuedItems reads the number of items waiting in a pipe.
func queuedItems[T any](s *signalPipe[T]) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued
}

func waitEntered(t *testing.T, fs *fakeStore) {
	t.Helper()
	select {
	case <-fs.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no write started")
	}
}

func requirePartial(t *testing.T, err error, rejected int64, msgParts ...string) {
	t.Helper()
	var pe *store.PartialError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, rejected, pe.Rejected, pe.Msg)
	for _, part := range msgParts {
		require.True(t, strings.Contains(pe.Msg, part), "message %q lacks %q", pe.Msg, part)
	}
}
