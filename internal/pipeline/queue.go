package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// signalOps adapts one signal's pdata type to the generic queue and writer.
type signalOps[T any] struct {
	count    func(T) int // items: log records, spans or data points
	size     func(T) int // OTLP protobuf bytes, for the tenant's max_bytes_per_day
	validate func(validator, T, *tally)
	write    func(context.Context, T) error
	// Merging is optional: without it every request is its own store write.
	newBatch  func() T
	resources func(T) int                      // resource entries, the unit moved when merging
	moveAll   func(src, dst T)                 // append every resource of src to dst
	moveRange func(src T, from, to int, dst T) // move resources [from, to) of src back into dst
}

func (o signalOps[T]) mergeable() bool { return o.newBatch != nil }

// Request states. A request is claimed by the writer or abandoned by its caller, never both.
const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

type request[T any] struct {
	data  T
	items int
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on a caller that left
}

// signalPipe is the queue and the writer goroutine of one signal.
type signalPipe[T any] struct {
	signal string
	ops    signalOps[T]
	cfg    Config
	v      validator
	m      *selfMetrics
	logger *slog.Logger

	mu     sync.Mutex
	queue  []*request[T]
	queued int // items in queue
	// reserved is what AdmitMetrics granted to paths appending to the store themselves
	// (admission.go); it shares QueueItems with queued. freed, when not nil, is closed
	// when room is freed, to wake the callers waiting for it.
	reserved int
	freed    chan struct{}
	open     bool // accepting requests
	closed   bool // no more requests will come; the writer exits when the queue is empty
	wake     chan struct{}
	exited   chan struct{}
}

func newSignalPipe[T any](signal string, ops signalOps[T], cfg Config, m *selfMetrics, logger *slog.Logger) *signalPipe[T] {
	return &signalPipe[T]{
		signal: signal,
		ops:    ops,
		cfg:    cfg,
		v:      validator{l: cfg.Limits, now: time.Now},
		m:      m,
		logger: logger.With("signal", signal),
		wake:   make(chan struct{}, 1),
		exited: make(chan struct{}),
	}
}

// consume validates data, queues what is left and waits for its write.
func (s *signalPipe[T]) consume(ctx context.Context, data T) error {
	total := s.ops.count(data)
	if total == 0 {
		return nil
	}
	var t tally
	s.ops.validate(s.v, data, &t)
	for p := ok + 1; p < numProblems; p++ {
		if t[p] > 0 {
			s.m.rejected.WithLabelValues(s.signal, p.label()).Add(float64(t[p]))
		}
	}
	rejected := t.err(s.cfg.Limits)
	items := total - int(t.total())
	if items <= 0 {
		return rejected
	}
	// The tenant's limits (tenantlimit.go), given back when the request goes no further.
	var bytes int64
	if lim := s.cfg.Tenant; lim != nil {
		if lim.CountsBytes() {
			bytes = int64(s.ops.size(data))
		}
		if err := admitTenant(lim, s.m, s.signal, items, bytes); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		s.cfg.Tenant.Refund(items, bytes)
		s.m.rejected.WithLabelValues(s.signal, reasonCanceled).Add(float64(items))
		return err
	}
	req := &request[T]{data: data, items: items, done: make(chan error, 1)}
	if err := s.push(req); err != nil {
		s.cfg.Tenant.Refund(items, bytes)
		return err
	}
	var err error
	select {
	case err = <-req.done:
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqAbandoned) {
			s.cfg.Tenant.Refund(items, bytes)
			s.m.rejected.WithLabelValues(s.signal, reasonCanceled).Add(float64(items))
			return ctx.Err()
		}
		// The write has started and reads data: wait for it (WriteTimeout bounds it), so
		// that the caller owns data again when this returns.
		err = <-req.done
	}
	return joinPartial(rejected, err)
}

// joinPartial adds the validation rejections to the write result. A failed write fails
// the whole request (the client will retry it), so then only the write error counts.
func joinPartial(rejected, writeErr error) error {
	if writeErr == nil {
		return rejected
	}
	if rejected == nil {
		return writeErr
	}
	var wp *store.PartialError
	if !errors.As(writeErr, &wp) {
		return writeErr
	}
	var rp *store.PartialError
	errors.As(rejected, &rp)
	joined := &store.PartialError{Rejected: rp.Rejected + wp.Rejected, Msg: rp.Msg + "; " + wp.Msg}
	if errors.Is(rejected, ErrStreamLimit) {
		return &streamLimitError{joined}
	}
	if le, ok := tenant.AsLimit(writeErr); ok { // the metric store's max_series
		return &tenantPartialError{joined, le}
	}
	return joined
}

func (s *signalPipe[T]) push(req *request[T]) error {
	s.mu.Lock()
	switch {
	case !s.open:
		s.mu.Unlock()
		s.m.rejected.WithLabelValues(s.signal, reasonNotRunning).Add(float64(req.items))
		return &ThrottleError{Err: ErrNotRunning, RetryAfter: s.cfg.RetryAfter}
	case s.queued+s.reserved > 0 && s.queued+s.reserved+req.items > s.cfg.QueueItems:
		err := s.fullError(s.queued+s.reserved, req.items)
		s.mu.Unlock()
		s.m.rejected.WithLabelValues(s.signal, reasonQueueFull).Add(float64(req.items))
		return err
	}
	s.queue = append(s.queue, req)
	s.queued += req.items
	s.m.queueDepth.WithLabelValues(s.signal).Set(float64(s.queued))
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// start opens the queue and runs the writer until close.
func (s *signalPipe[T]) start(ctx context.Context) {
	s.mu.Lock()
	s.open = true
	s.mu.Unlock()
	go func() {
		defer close(s.exited)
		for {
			batch, more := s.take()
			if !more {
				return
			}
			s.process(ctx, batch)
		}
	}()
}

// close stops accepting requests; the writer drains the queue and exits.
func (s *signalPipe[T]) close() {
	s.mu.Lock()
	s.open = false
	s.closed = true
	s.wakeWaitersLocked()
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// abort fails every request still queued (shutdown ran out of time).
func (s *signalPipe[T]) abort() {
	s.mu.Lock()
	queue := s.queue
	s.queue, s.queued = nil, 0
	s.m.queueDepth.WithLabelValues(s.signal).Set(0)
	s.wakeWaitersLocked()
	s.mu.Unlock()
	for _, r := range queue {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			s.m.rejected.WithLabelValues(s.signal, reasonNotRunning).Add(float64(r.items))
			r.done <- &ThrottleError{Err: ErrNotRunning, RetryAfter: s.cfg.RetryAfter}
		}
	}
}

// take waits for queued requests and claims what is there now, up to MaxBatchItems
// (always at least one request). It never waits for more to arrive: a lone request is
// written at once. It returns false when the pipe is closed and empty.
func (s *signalPipe[T]) take() ([]*request[T], bool) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			n, items := 0, 0
			for n < len(s.queue) {
				r := s.queue[n]
				if n > 0 && (!s.ops.mergeable() || items+r.items > s.cfg.MaxBatchItems) {
					break
				}
				items += r.items
				n++
			}
			batch := slices.Clone(s.queue[:n])
			clear(s.queue[:n])
			s.queue = s.queue[n:]
			s.queued -= items
			s.m.queueDepth.WithLabelValues(s.signal).Set(float64(s.queued))
			s.wakeWaitersLocked()
			s.mu.Unlock()

			live := batch[:0]
			for _, r := range batch {
				if r.state.CompareAndSwap(reqQueued, reqTaken) {
					live = append(live, r)
				}
			}
			if len(live) > 0 {
				return live, true
			}
			continue
		}
		if s.closed {
			s.mu.Unlock()
			return nil, false
		}
		s.mu.Unlock()
		<-s.wake
	}
}

// process writes a batch of requests with one store write (group commit) and releases
// every caller with the result. When a merged write fails, the requests are written one
// by one, so that one request the store refuses does not fail the others.
func (s *signalPipe[T]) process(ctx context.Context, batch []*request[T]) {
	if len(batch) == 1 {
		r := batch[0]
		s.finish(r, s.write(ctx, r.data, r.items, 1))
		return
	}
	merged := s.ops.newBatch()
	ends := make([]int, len(batch))
	items := 0
	for i, r := range batch {
		s.ops.moveAll(r.data, merged)
		ends[i] = s.ops.resources(merged)
		items += r.items
	}
	err := s.write(ctx, merged, items, len(batch))
	if err == nil {
		for _, r := range batch {
			s.finish(r, nil)
		}
		return
	}
	if pe, isPartial := err.(*store.PartialError); isPartial {
		// Only a MetricWriter may commit partially, and metrics are not merged. Should a
		// log or span writer do it anyway, the count cannot be attributed to a request:
		// each caller gets it, capped at its own size, with a note.
		for _, r := range batch {
			s.finish(r, &store.PartialError{
				Rejected: min(pe.Rejected, int64(r.items)),
				Msg:      fmt.Sprintf("%s (count shared by %d requests written together)", pe.Msg, len(batch)),
			})
		}
		return
	}
	if errors.Is(err, store.ErrBusy) {
		// The store is too slow for any write now, not refusing one request's data:
		// writing them one by one would only make each caller wait for it again.
		for _, r := range batch {
			s.finish(r, err)
		}
		return
	}
	s.m.splitRetries.WithLabelValues(s.signal).Inc()
	s.logger.Warn("merged write failed, retrying request by request", "requests", len(batch), "items", items, "err", err)
	from := 0
	for i, r := range batch {
		s.ops.moveRange(merged, from, ends[i], r.data)
		from = ends[i]
	}
	for _, r := range batch {
		s.finish(r, s.write(ctx, r.data, r.items, 1))
	}
}

// write calls the store writer once, bounded by WriteTimeout, and records its duration.
// A panicking writer fails the write instead of the process.
func (s *signalPipe[T]) write(ctx context.Context, data T, items, requests int) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	s.m.batchItems.WithLabelValues(s.signal).Observe(float64(items))
	s.m.batchRequests.WithLabelValues(s.signal).Observe(float64(requests))
	start := time.Now()
	defer func() {
		s.m.writeDuration.WithLabelValues(s.signal).Observe(time.Since(start).Seconds())
		if v := recover(); v != nil {
			s.logger.Error("store writer panicked", "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("write %s: store writer panicked: %v", s.signal, v)
		}
	}()
	err = s.ops.write(ctx, data)
	switch {
	case err != nil && errors.Is(err, store.ErrBusy):
		// A slow store throttles like a full queue: the client retries after a delay.
		return &ThrottleError{Err: fmt.Errorf("write %s: %w", s.signal, err), RetryAfter: s.cfg.RetryAfter}
	case err != nil && !IsPartial(err):
		return fmt.Errorf("write %s: %w", s.signal, err)
	}
	return err
}

// finish counts the outcome of one request and releases its caller.
func (s *signalPipe[T]) finish(r *request[T], err error) {
	var pe *store.PartialError
	switch isPartial := errors.As(err, &pe); {
	case err == nil:
		s.m.items.WithLabelValues(s.signal).Add(float64(r.items))
	case isPartial:
		rejected := min(pe.Rejected, int64(r.items))
		s.m.items.WithLabelValues(s.signal).Add(float64(int64(r.items) - rejected))
		s.m.rejected.WithLabelValues(s.signal, reasonStore).Add(float64(rejected))
	case errors.Is(err, store.ErrBusy):
		s.m.rejected.WithLabelValues(s.signal, reasonStoreBusy).Add(float64(r.items))
	default:
		s.m.rejected.WithLabelValues(s.signal, reasonWriteFailed).Add(float64(r.items))
	}
	r.done <- err
}
