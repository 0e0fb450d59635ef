package sentry

import (
	"math"
	"sync"
	"time"
)

// rateLimiter is a token bucket per project: rate items per second, up to burst at once.
// Safe for concurrent use.
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter() *rateLimiter { return &rateLimiter{buckets: map[string]*bucket{}} }

// take takes n tokens of the project's bucket at now. When there are not enough, it takes
// none and returns how long until there will be (at least one second, as Retry-After
// counts whole seconds). A rate of 0 never limits; n above the burst waits for a full bucket
// and is then let through, so that one large envelope is not refused forever.
func (l *rateLimiter) take(p Project, n int, now time.Time) (time.Duration, bool) {
	rate := p.EventsPerSecond
	if rate <= 0 || n <= 0 {
		return 0, true
	}
	burst := float64(p.Burst)
	if burst <= 0 {
		burst = math.Max(1, math.Ceil(rate))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[p.ID]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		l.buckets[p.ID] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(burst, b.tokens+el*rate)
		b.last = now
	}
	need := math.Min(float64(n), burst)
	if b.tokens >= need {
		b.tokens -= float64(n) // may go below zero for an envelope above the burst
		return 0, true
	}
	wait := time.Duration(math.Ceil((need-b.tokens)/rate)) * time.Second
	return max(wait, time.Second), false
}
