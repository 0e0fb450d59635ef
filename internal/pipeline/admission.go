package pipeline

import (
	"context"
	"fmt"
	"sync"
)

// Metric paths that append to the metric store themselves (Prometheus remote write,
// scraping, StatsD) rather than through ConsumeMetrics. They take their capacity from the
// metrics queue's QueueItems with AdmitMetrics, so that a flood on one of them cannot use
// unbounded memory while OTLP metrics are throttled: both compete for one budget.
const (
	PathRemoteWrite = "remote_write"
	PathScrape      = "scrape"
	PathStatsD      = "statsd"
)

// AdmitMetrics reserves room for items metric samples that the caller is about to append
// to the metric store itself. It counts against Config.QueueItems together with the OTLP
// metrics waiting in the queue; as for them, a reservation larger than QueueItems is
// granted when nothing else is queued or reserved.
//
// Without wait, a reservation that does not fit fails at once with a *ThrottleError
// (ErrQueueFull) carrying RetryAfter, for a client that will retry. With wait, it waits
// for room until ctx is done, for callers that cannot be retried (a scrape, a StatsD
// flush); bound ctx. Before Start and after Shutdown it fails with ErrNotRunning.
//
// On success, call release once the samples are committed or rolled back; calling it
// more than once is harmless. Refusals are counted in
// loupe_ingest_throttled_total{path}. Safe for concurrent use.
func (p *Pipeline) AdmitMetrics(ctx context.Context, path string, items int, wait bool) (release func(), err error) {
	if err := p.metrics.admit(ctx, items, 0, wait); err != nil {
		p.metrics.m.throttled.WithLabelValues(path).Inc()
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { p.metrics.release(items) }) }, nil
}

// admit reserves items. held is what the caller holds already (a growing reservation):
// it does not count as someone else's when deciding whether an oversize request may pass.
// Refusals are counted by the caller.
func (s *signalPipe[T]) admit(ctx context.Context, items, held int, wait bool) error {
	for {
		s.mu.Lock()
		if !s.open {
			s.mu.Unlock()
			return &ThrottleError{Err: ErrNotRunning, RetryAfter: s.cfg.RetryAfter}
		}
		inUse := s.queued + s.reserved
		if inUse-held == 0 || inUse+items <= s.cfg.QueueItems {
			s.reserved += items
			s.m.admitted.WithLabelValues(s.signal).Set(float64(s.reserved))
			s.mu.Unlock()
			return nil
		}
		if !wait {
			err := s.fullError(inUse, items)
			s.mu.Unlock()
			return err
		}
		if s.freed == nil {
			s.freed = make(chan struct{})
		}
		freed := s.freed
		s.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			s.mu.Lock()
			err := s.fullError(s.queued+s.reserved, items)
			s.mu.Unlock()
			return fmt.Errorf("waited for room until %w: %w", ctx.Err(), err)
		}
	}
}

// fullError is the refusal of items when inUse are queued or reserved. The caller holds
// s.mu (reserved is read).
func (s *signalPipe[T]) fullError(inUse, items int) error {
	msg := fmt.Sprintf("%s queue holds %d items, limit %d", s.signal, inUse, s.cfg.QueueItems)
	if s.reserved > 0 {
		msg += fmt.Sprintf(", of which %d reserved by remote write, scrape or StatsD", s.reserved)
	}
	return &ThrottleError{
		Err:        fmt.Errorf("%w: %s; %d more do not fit (limits.queue_items)", ErrQueueFull, msg, items),
		RetryAfter: s.cfg.RetryAfter,
	}
}

// release returns a reservation.
func (s *signalPipe[T]) release(items int) {
	s.mu.Lock()
	s.reserved -= items
	s.m.admitted.WithLabelValues(s.signal).Set(float64(s.reserved))
	s.wakeWaitersLocked()
	s.mu.Unlock()
}

// wakeWaitersLocked tells the callers waiting in admit that room was freed. s.mu is held.
func (s *signalPipe[T]) wakeWaitersLocked() {
	if s.freed != nil {
		close(s.freed)
		s.freed = nil
	}
}
