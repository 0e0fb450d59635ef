package prom

import (
	"context"
	"errors"

	"github.com/prometheus/prometheus/promql"
)

// queryLimiter is a promql.QueryTracker that only bounds how many queries evaluate at once
// (Prometheus' --query.max-concurrency). Prometheus' own tracker also logs active queries
// to an mmapped file to report them after a crash; Loupe does without.
type queryLimiter struct {
	slots chan struct{}
}

func newQueryLimiter(maxConcurrent int) *queryLimiter {
	return &queryLimiter{slots: make(chan struct{}, maxConcurrent)}
}

func (l *queryLimiter) GetMaxConcurrent() int { return cap(l.slots) }

// Insert waits for a free slot or for ctx to end.
func (l *queryLimiter) Insert(ctx context.Context, _ string) (int, error) {
	select {
	case l.slots <- struct{}{}:
		return 0, nil
	case <-ctx.Done():
		// Typed as the engine's own errors, so that the API answers a query that timed out
		// waiting as one that timed out evaluating (503 "timeout", not 422 "execution").
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, slotWaitError{promql.ErrQueryTimeout("waiting for a query slot"), ctx.Err()}
		}
		return 0, slotWaitError{promql.ErrQueryCanceled("waiting for a query slot"), ctx.Err()}
	}
}

// slotWaitError reads as the engine's error and is also the context's.
type slotWaitError struct {
	engine error // promql.ErrQueryTimeout or ErrQueryCanceled
	ctx    error
}

func (e slotWaitError) Error() string   { return e.engine.Error() }
func (e slotWaitError) Unwrap() []error { return []error{e.engine, e.ctx} }

func (l *queryLimiter) Delete(int) { <-l.slots }

func (l *queryLimiter) Close() error { return nil }
