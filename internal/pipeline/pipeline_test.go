package pipeline

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/store"
)

func TestConsumeCommitsEverySignal(t *testing.T) {
	fs := newFakeStore()
	p, reg := startPipeline(t, DefaultConfig(), fs)
	ctx := context.Background()

	require.NoError(t, p.ConsumeLogs(ctx, logsOf("a", "b")))
	require.NoError(t, p.ConsumeTraces(ctx, tracesOf(3)))
	require.NoError(t, p.ConsumeMetrics(ctx, gaugeOf("up", 1, 2, 3, 4)))

	require.Equal(t, []string{"a", "b"}, fs.logBodies())
	require.Len(t, fs.traces, 1)
	require.Equal(t, 3, fs.traces[0].SpanCount())
	require.Len(t, fs.metrics, 1)
	require.Equal(t, 4, fs.metrics[0].DataPointCount())

	require.Equal(t, 2.0, testutil.ToFloat64(p.logs.m.items.WithLabelValues("logs")))
	require.Equal(t, 3.0, testutil.ToFloat64(p.logs.m.items.WithLabelValues("spans")))
	require.Equal(t, 4.0, testutil.ToFloat64(p.logs.m.items.WithLabelValues("metrics")))
	n, err := testutil.GatherAndCount(reg, "loupe_store_write_duration_seconds", "loupe_pipeline_queue_depth")
	require.NoError(t, err)
	require.Equal(t, 6, n)
}

func TestEmptyRequestIsNotWritten(t *testing.T) {
	fs := newFakeStore()
	p, _ := startPipeline(t, DefaultConfig(), fs)
	require.NoError(t, p.ConsumeLogs(context.Background(), plog.NewLogs()))
	require.Equal(t, 0, fs.writeCalls())
}

func TestConsumeBeforeStartAndAfterShutdown(t *testing.T) {
	fs := newFakeStore()
	p := New(DefaultConfig(), Writers{Logs: fs, Spans: fs, Metrics: fs}, nil, nil)
	err := p.ConsumeLogs(context.Background(), logsOf("x"))
	require.ErrorIs(t, err, ErrNotRunning)
	require.True(t, IsRetryable(err))
	d, ok := RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, time.Second, d)

	require.NoError(t, p.Start(context.Background()))
	require.NoError(t, p.ConsumeLogs(context.Background(), logsOf("x")))
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()), "second Shutdown")
	require.ErrorIs(t, p.ConsumeLogs(context.Background(), logsOf("y")), ErrNotRunning)
	require.Error(t, p.Start(context.Background()), "Start after Shutdown")
}

func TestShutdownWithoutStart(t *testing.T) {
	p := New(DefaultConfig(), Writers{}, nil, nil)
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestStartRefusesBadConfigAndNilWriters(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueueItems = 0
	fs := newFakeStore()
	err := New(cfg, Writers{Logs: fs, Spans: fs, Metrics: fs}, nil, nil).Start(context.Background())
	require.ErrorContains(t, err, "pipeline.QueueItems: 0")

	err = New(DefaultConfig(), Writers{Logs: fs}, nil, nil).Start(context.Background())
	require.ErrorContains(t, err, "required")
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	cfg := DefaultConfig()
	cfg.Limits.MaxAttributes = -1
	cfg.WriteTimeout = 0
	err := cfg.Validate()
	require.ErrorContains(t, err, "pipeline.Limits.MaxAttributes: -1")
	require.ErrorContains(t, err, "pipeline.WriteTimeout: 0s")
	cfg = DefaultConfig()
	cfg.Limits = Limits{} // zero disables every limit
	require.NoError(t, cfg.Validate())
}

func TestQueueFullFailsFast(t *testing.T) {
	fs := newFakeStore()
	hold := make(chan struct{})
	fs.setHold(hold)
	cfg := DefaultConfig()
	cfg.QueueItems = 4
	cfg.RetryAfter = 3 * time.Second
	p, _ := startPipeline(t, cfg, fs)
	ctx := context.Background()

	// The first request is taken by the writer, which blocks; the next ones fill the queue.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	send := func(bodies ...string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- p.ConsumeLogs(ctx, logsOf(bodies...))
		}()
	}
	send("first")
	waitEntered(t, fs)
	send("q1", "q2")
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 2 }, 10*time.Second, time.Millisecond)
	send("q3", "q4")
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 4 }, 10*time.Second, time.Millisecond)
	require.Equal(t, 4.0, testutil.ToFloat64(p.logs.m.queueDepth.WithLabelValues("logs")))

	err := p.ConsumeLogs(ctx, logsOf("overflow"))
	require.ErrorIs(t, err, ErrQueueFull)
	require.True(t, IsRetryable(err))
	d, ok := RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, 3*time.Second, d)
	require.ErrorContains(t, err, "logs queue holds 4 items, limit 4")

	close(hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.ElementsMatch(t, []string{"first", "q1", "q2", "q3", "q4"}, fs.logBodies())
	n := testutil.ToFloat64(p.logs.m.rejected.WithLabelValues("logs", "queue_full"))
	require.Equal(t, 1.0, n)
}

func TestOversizedRequestAcceptedWhenQueueEmpty(t *testing.T) {
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.QueueItems = 2
	p, _ := startPipeline(t, cfg, fs)
	require.NoError(t, p.ConsumeLogs(context.Background(), logsOf("a", "b", "c", "d")))
	require.Len(t, fs.logBodies(), 4)
}

// While the writer is busy, queued requests are merged into one store write.
func TestGroupCommitMergesQueuedRequests(t *testing.T) {
	fs := newFakeStore()
	hold := make(chan struct{})
	fs.setHold(hold)
	p, _ := startPipeline(t, DefaultConfig(), fs)

	var wg sync.WaitGroup
	consume := func(bodies ...string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, p.ConsumeLogs(context.Background(), logsOf(bodies...)))
		}()
	}
	consume("first")
	waitEntered(t, fs)
	consume("a1", "a2")
	consume("b1")
	consume("c1", "c2", "c3")
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 6 }, 10*time.Second, time.Millisecond)
	close(hold)
	wg.Wait()

	require.Equal(t, 2, fs.writeCalls(), "one write for the first request, one for the three merged")
	require.Equal(t, 3, fs.logs[1].ResourceLogs().Len())
	require.ElementsMatch(t, []string{"a1", "a2", "b1", "c1", "c2", "c3"}, bodiesOf(fs.logs[1]))
	h := testutil.CollectAndCount(p.logs.m.batchRequests)
	require.Equal(t, 1, h)
}

func TestGroupCommitRespectsMaxBatchItems(t *testing.T) {
	fs := newFakeStore()
	hold := make(chan struct{})
	fs.setHold(hold)
	cfg := DefaultConfig()
	cfg.MaxBatchItems = 3
	p, _ := startPipeline(t, cfg, fs)

	var wg sync.WaitGroup
	consume := func(bodies ...string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, p.ConsumeLogs(context.Background(), logsOf(bodies...)))
		}()
	}
	consume("first")
	waitEntered(t, fs)
	consume("a1", "a2")
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 2 }, 10*time.Second, time.Millisecond)
	consume("b1", "b2")
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 4 }, 10*time.Second, time.Millisecond)
	close(hold)
	wg.Wait()
	require.Equal(t, 3, fs.writeCalls(), "2+2 items exceed MaxBatchItems 3: two writes")
}

// A merged write that fails is retried request by request, so that only the request the
// store refuses fails.
func TestFailedMergedWriteIsRetriedPerRequest(t *testing.T) {
	fs := newFakeStore()
	hold := make(chan struct{})
	fs.setHold(hold)
	p, _ := startPipeline(t, DefaultConfig(), fs)

	var wg sync.WaitGroup
	results := map[string]error{}
	var mu sync.Mutex
	consume := func(name string, bodies ...string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.ConsumeLogs(context.Background(), logsOf(bodies...))
			mu.Lock()
			results[name] = err
			mu.Unlock()
		}()
	}
	consume("first", "first")
	waitEntered(t, fs)
	consume("good1", "g1", "g2")
	consume("bad", "x", "poison")
	consume("good2", "g3")
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 5 }, 10*time.Second, time.Millisecond)
	close(hold)
	wg.Wait()

	require.NoError(t, results["first"])
	require.NoError(t, results["good1"])
	require.NoError(t, results["good2"])
	require.ErrorContains(t, results["bad"], "write logs: poisoned batch")
	require.True(t, IsRetryable(results["bad"]))
	require.ElementsMatch(t, []string{"first", "g1", "g2", "g3"}, fs.logBodies())
	require.Equal(t, 1.0, testutil.ToFloat64(p.logs.m.splitRetries.WithLabelValues("logs")))
	require.Equal(t, 2.0, testutil.ToFloat64(p.logs.m.rejected.WithLabelValues("logs", "write_failed")))
	require.Equal(t, 4.0, testutil.ToFloat64(p.logs.m.items.WithLabelValues("logs")))
}

func TestCancelledWhileQueuedIsNotWritten(t *testing.T) {
	fs := newFakeStore()
	hold := make(chan struct{})
	fs.setHold(hold)
	p, _ := startPipeline(t, DefaultConfig(), fs)

	done := make(chan error, 1)
	go func() { done <- p.ConsumeLogs(context.Background(), logsOf("first")) }()
	waitEntered(t, fs)

	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() { cancelled <- p.ConsumeLogs(ctx, logsOf("gone")) }()
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-cancelled, context.Canceled)

	close(hold)
	require.NoError(t, <-done)
	// A later request proves the writer went past the abandoned one.
	require.NoError(t, p.ConsumeLogs(context.Background(), logsOf("after")))
	require.Equal(t, []string{"first", "after"}, fs.logBodies())
	require.Equal(t, 1.0, testutil.ToFloat64(p.logs.m.rejected.WithLabelValues("logs", "canceled")))
}

func TestShutdownDrainsQueuedRequests(t *testing.T) {
	fs := newFakeStore()
	hold := make(chan struct{})
	fs.setHold(hold)
	p := New(DefaultConfig(), Writers{Logs: fs, Spans: fs, Metrics: fs}, nil, nil)
	require.NoError(t, p.Start(context.Background()))

	var wg sync.WaitGroup
	for _, b := range []string{"first", "second", "third"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, p.ConsumeLogs(context.Background(), logsOf(b)))
		}()
		if b == "first" {
			waitEntered(t, fs)
		}
	}
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 2 }, 10*time.Second, time.Millisecond)

	shut := make(chan error, 1)
	go func() { shut <- p.Shutdown(context.Background()) }()
	require.Eventually(t, func() bool {
		p.logs.mu.Lock()
		defer p.logs.mu.Unlock()
		return !p.logs.open
	}, 10*time.Second, time.Millisecond)
	require.ErrorIs(t, p.ConsumeLogs(context.Background(), logsOf("late")), ErrNotRunning)
	close(hold)
	require.NoError(t, <-shut)
	wg.Wait()
	require.ElementsMatch(t, []string{"first", "second", "third"}, fs.logBodies())
}

func TestShutdownTimeoutFailsWhatIsLeft(t *testing.T) {
	fs := newFakeStore()
	fs.setHold(make(chan struct{})) // never released: writes end only when cancelled
	p := New(DefaultConfig(), Writers{Logs: fs, Spans: fs, Metrics: fs}, nil, nil)
	require.NoError(t, p.Start(context.Background()))

	inflight := make(chan error, 1)
	go func() { inflight <- p.ConsumeLogs(context.Background(), logsOf("inflight")) }()
	waitEntered(t, fs)
	queued := make(chan error, 1)
	go func() { queued <- p.ConsumeLogs(context.Background(), logsOf("queued")) }()
	require.Eventually(t, func() bool { return queuedItems(p.logs) == 1 }, 10*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Shutdown(ctx), context.DeadlineExceeded)
	err := <-inflight
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, IsRetryable(err))
	require.ErrorIs(t, <-queued, ErrNotRunning)
	require.Empty(t, fs.logBodies())
}

func TestLimitsRejectItemsAndKeepTheRest(t *testing.T) {
	fs := newFakeStore()
	p, _ := startPipeline(t, DefaultConfig(), fs)

	ld := logsOf("ok1", "many-attrs", "long-value", "ok2", "long-key", "deep")
	recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := range 129 {
		recs.At(1).Attributes().PutInt("k"+strings.Repeat("x", i), int64(i))
	}
	recs.At(2).Attributes().PutStr("big", strings.Repeat("v", 16<<10+1))
	recs.At(4).Attributes().PutBool(strings.Repeat("k", 257), true)
	v := recs.At(5).Attributes().PutEmptyMap("nest")
	for range 20 {
		v = v.PutEmptyMap("n")
	}
	big := logsOf(strings.Repeat("b", 256<<10+1))
	big.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().MoveAndAppendTo(recs)

	err := p.ConsumeLogs(context.Background(), ld)
	requirePartial(t, err, 5,
		"more than 128 attributes (limit max_attributes) (1)",
		"attribute value longer than 16384 bytes",
		"attribute key longer than 256 bytes",
		"value nested deeper than 16 levels",
		"log body longer than 262144 bytes")
	require.False(t, IsRetryable(err))
	require.Equal(t, []string{"ok1", "ok2"}, fs.logBodies())
	require.Equal(t, 1.0, testutil.ToFloat64(p.logs.m.rejected.WithLabelValues("logs", "too_many_attributes")))
	require.Equal(t, 2.0, testutil.ToFloat64(p.logs.m.items.WithLabelValues("logs")))
}

func TestValueSizeCountsNestedStrings(t *testing.T) {
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.Limits.MaxAttributeValueLength = 10
	p, _ := startPipeline(t, cfg, fs)
	ld := logsOf("arr", "ok")
	s := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutEmptySlice("a")
	s.AppendEmpty().SetStr("123456")
	s.AppendEmpty().SetStr("123456")
	requirePartial(t, p.ConsumeLogs(context.Background(), ld), 1, "attribute value longer than 10 bytes")
	require.Equal(t, []string{"ok"}, fs.logBodies())
}

// A run record (loupe run's whole record as JSON) is limited like a log body, not like an
// attribute value: a run from a conda environment with a thousand packages must be kept.
func TestRunRecordAttributeHasTheBodyLimit(t *testing.T) {
	fs := newFakeStore()
	p, _ := startPipeline(t, DefaultConfig(), fs)
	td := tracesOf(2)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(0).Attributes().PutStr("loupe.run.record", strings.Repeat("x", 100<<10))
	spans.At(1).Attributes().PutStr("loupe.run.record", strings.Repeat("x", 300<<10))
	requirePartial(t, p.ConsumeTraces(context.Background(), td), 1, "loupe.run.record attribute longer than 262144 bytes (limit max_body_length) (1)")
	require.Len(t, fs.traces, 1)
	require.Equal(t, 1, fs.traces[0].SpanCount())

	ld := logsOf("big")
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutStr("other", strings.Repeat("x", 100<<10))
	requirePartial(t, p.ConsumeLogs(context.Background(), ld), 1, "attribute value longer than 16384 bytes")
}

func TestResourceOverLimitRejectsAllItsItems(t *testing.T) {
	fs := newFakeStore()
	p, _ := startPipeline(t, DefaultConfig(), fs)
	ld := logsOf("a", "b", "c")
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("huge", strings.Repeat("x", 20000))
	keep := logsOf("d")
	keep.ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
	requirePartial(t, p.ConsumeLogs(context.Background(), ld), 3, "attribute value longer than 16384 bytes (limit max_attribute_value_length) (3)")
	require.Equal(t, []string{"d"}, fs.logBodies())
}

func TestAllItemsRejectedIsPartialWithoutWrite(t *testing.T) {
	fs := newFakeStore()
	p, _ := startPipeline(t, DefaultConfig(), fs)
	td := tracesOf(2)
	for _, s := range td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().All() {
		s.SetTraceID([16]byte{})
	}
	requirePartial(t, p.ConsumeTraces(context.Background(), td), 2, "span trace_id is all zeros (2)")
	require.Equal(t, 0, fs.writeCalls())
}

func TestSpanValidation(t *testing.T) {
	fs := newFakeStore()
	p, _ := startPipeline(t, DefaultConfig(), fs)
	td := tracesOf(7)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(0).SetTraceID([16]byte{})
	spans.At(1).SetSpanID([8]byte{})
	spans.At(2).SetEndTimestamp(1)
	spans.At(3).SetName(strings.Repeat("n", 1025))
	for range 129 {
		spans.At(4).Events().AppendEmpty().SetName("e")
	}
	spans.At(5).Links().AppendEmpty().Attributes().PutStr("x", strings.Repeat("v", 20000))
	err := p.ConsumeTraces(context.Background(), td)
	requirePartial(t, err, 6,
		"span trace_id is all zeros (1)",
		"span span_id is all zeros (1)",
		"end_time_unix_nano is before start_time_unix_nano (1)",
		"name longer than 1024 bytes",
		"more than 128 span events",
		"attribute value longer than 16384 bytes")
	require.Len(t, fs.traces, 1)
	require.Equal(t, 1, fs.traces[0].SpanCount())
}

func TestMetricValidation(t *testing.T) {
	fs := newFakeStore()
	p, _ := startPipeline(t, DefaultConfig(), fs)
	md := gaugeOf("good", 1, 2)
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	gaugeOf("", 1, 2, 3).ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().MoveAndAppendTo(ms)
	h := ms.AppendEmpty()
	h.SetName("latency")
	hdp := h.SetEmptyHistogram().DataPoints()
	okPoint := hdp.AppendEmpty()
	okPoint.ExplicitBounds().FromRaw([]float64{1, 2})
	okPoint.BucketCounts().FromRaw([]uint64{1, 0, 1})
	badLen := hdp.AppendEmpty()
	badLen.ExplicitBounds().FromRaw([]float64{1, 2})
	badLen.BucketCounts().FromRaw([]uint64{1, 0})
	badOrder := hdp.AppendEmpty()
	badOrder.ExplicitBounds().FromRaw([]float64{2, 1})
	badOrder.BucketCounts().FromRaw([]uint64{1, 0, 1})
	ms.At(0).Gauge().DataPoints().At(0).Attributes().PutStr("v", strings.Repeat("x", 20000))

	err := p.ConsumeMetrics(context.Background(), md)
	requirePartial(t, err, 6, "metric name is empty (3)", "histogram explicit_bounds", "(2)", "attribute value longer")
	require.Len(t, fs.metrics, 1)
	require.Equal(t, 2, fs.metrics[0].DataPointCount())
}

func TestMetricWriterPartialIsJoinedWithLimits(t *testing.T) {
	fs := newFakeStore()
	fs.metricsErr = &store.PartialError{Rejected: 1, Msg: "delta temporality not supported"}
	p, _ := startPipeline(t, DefaultConfig(), fs)
	md := gaugeOf("up", 1, 2, 3)
	gaugeOf("", 1).ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
	err := p.ConsumeMetrics(context.Background(), md)
	requirePartial(t, err, 2, "metric name is empty (1)", "delta temporality not supported")
	require.Equal(t, 2.0, testutil.ToFloat64(p.metrics.m.items.WithLabelValues("metrics")))
	require.Equal(t, 1.0, testutil.ToFloat64(p.metrics.m.rejected.WithLabelValues("metrics", "store_rejected")))
}

func TestDisabledLimitsAcceptEverything(t *testing.T) {
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.Limits = Limits{}
	p, _ := startPipeline(t, cfg, fs)
	ld := logsOf(strings.Repeat("b", 1<<20))
	for i := range 300 {
		ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutInt(strings.Repeat("k", i+1), 1)
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
}

func TestWriterPanicFailsTheWrite(t *testing.T) {
	fs := newFakeStore()
	fs.panicOn = "boom"
	p, _ := startPipeline(t, DefaultConfig(), fs)
	err := p.ConsumeLogs(context.Background(), logsOf("boom"))
	require.ErrorContains(t, err, "store writer panicked")
	require.NoError(t, p.ConsumeLogs(context.Background(), logsOf("fine")))
}

func TestReadOnlyDataIsCopied(t *testing.T) {
	fs := newFakeStore()
	p, _ := startPipeline(t, DefaultConfig(), fs)
	ld := logsOf("ro")
	ld.MarkReadOnly()
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	require.Equal(t, []string{"ro"}, fs.logBodies())
}

func TestManyConcurrentCallers(t *testing.T) {
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.MaxBatchItems = 50
	p, _ := startPipeline(t, cfg, fs)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				require.NoError(t, p.ConsumeLogs(context.Background(), logsOf("x", "y")))
				require.NoError(t, p.ConsumeTraces(context.Background(), tracesOf(2)))
				if (i+j)%3 == 0 {
					require.NoError(t, p.ConsumeMetrics(context.Background(), gaugeOf("m", 1)))
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, fs.logBodies(), 800)
	require.Equal(t, 800.0, testutil.ToFloat64(p.logs.m.items.WithLabelValues("logs")))
	require.Equal(t, 800.0, testutil.ToFloat64(p.logs.m.items.WithLabelValues("spans")))
	require.Equal(t, 0.0, testutil.ToFloat64(p.logs.m.queueDepth.WithLabelValues("logs")))
}

func bodiesOf(ld plog.Logs) []string {
	var out []string
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				out = append(out, lr.Body().Str())
			}
		}
	}
	return out
}

func TestInvalidUTF8IsRejected(t *testing.T) {
	fs := newFakeStore()
	cfg := DefaultConfig()
	cfg.Limits = Limits{} // rejected even with every limit off
	p, _ := startPipeline(t, cfg, fs)
	ctx := context.Background()

	ld := logsOf("ok", "bad\xff", "attr", "nested")
	recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	recs.At(2).Attributes().PutStr("k\xfe", "v")
	recs.At(3).Attributes().PutEmptySlice("s").AppendEmpty().SetStr("\xc3")
	requirePartial(t, p.ConsumeLogs(ctx, ld), 3, "not valid UTF-8 (3)")
	require.Equal(t, []string{"ok"}, fs.logBodies())

	td := tracesOf(2)
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).SetName("GET /\xff")
	requirePartial(t, p.ConsumeTraces(ctx, td), 1, "not valid UTF-8 (1)")

	md := gaugeOf("up\xff", 1, 2)
	requirePartial(t, p.ConsumeMetrics(ctx, md), 2, "not valid UTF-8 (2)")
	require.Equal(t, 2.0, testutil.ToFloat64(p.logs.m.rejected.WithLabelValues("metrics", "invalid_utf8")))
}
