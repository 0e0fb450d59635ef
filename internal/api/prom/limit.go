package prom

import (
	"context"
	"fmt"
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
		return 0, fmt.Errorf("waiting for a query slot: %w", ctx.Err())
	}
}

func (l *queryLimiter) Delete(int) { <-l.slots }

func (l *queryLimiter) Close() error { return nil }
