// Package querylimit bounds the work the read APIs may do at once, so that queries cannot
// starve ingest: an admission limiter (concurrent queries, a bounded queue, a bounded wait)
// with a per-query deadline, and a cheap check of query expressions before they are parsed.
package querylimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/selfmetrics"
	"github.com/loupe-dev/loupe/internal/store"
)

// Config bounds the queries of every read API together. The server fills it from the
// query: section of its configuration (config.QueryConfig, where max_concurrent defaults
// to half the CPU cores); DefaultConfig is a fixed set for tests and other callers:
//
//	MaxConcurrent  4     queries evaluated at once, over all read APIs
//	MaxQueued      64    queries waiting for a slot; more are refused at once (429)
//	QueueTimeout   10s   longest wait for a slot; then 503
//	Timeout        2m    deadline of one query, from admission (Prometheus' query.timeout)
//	MaxTails       10    live tails (Loki's /tail websockets) open at once; more are
//	                     refused (429). 0: no limit. Loki's max_concurrent_tail_requests.
type Config struct {
	MaxConcurrent int
	MaxQueued     int
	QueueTimeout  time.Duration
	Timeout       time.Duration
	MaxTails      int
}

// DefaultConfig returns the values listed on Config.
func DefaultConfig() Config {
	return Config{MaxConcurrent: 4, MaxQueued: 64, QueueTimeout: 10 * time.Second, Timeout: 2 * time.Minute, MaxTails: 10}
}

// Validate reports every invalid field, naming it with its configuration key.
func (c Config) Validate() error {
	var errs []error
	if c.MaxConcurrent <= 0 {
		errs = append(errs, fmt.Errorf("query.max_concurrent: %d, must be positive", c.MaxConcurrent))
	}
	if c.MaxQueued < 0 {
		errs = append(errs, fmt.Errorf("query.max_queued: %d, must be 0 or positive", c.MaxQueued))
	}
	if c.QueueTimeout < 0 {
		errs = append(errs, fmt.Errorf("query.queue_timeout: %s, must be 0 or positive", c.QueueTimeout))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("query.timeout: %s, must be positive", c.Timeout))
	}
	if c.MaxTails < 0 {
		errs = append(errs, fmt.Errorf("query.max_tails: %d, must be 0 (no limit) or positive", c.MaxTails))
	}
	return errors.Join(errs...)
}

// Errors of Acquire. The HTTP middleware answers ErrQueueFull with 429 and ErrQueueTimeout
// with 503, both with Retry-After.
var (
	ErrQueueFull    = errors.New("too many queries waiting")
	ErrQueueTimeout = errors.New("timed out waiting for a query slot")
	// ErrTooManyTails refuses a live tail beyond MaxTails (429).
	ErrTooManyTails = errors.New("too many live tails")
)

// Limiter admits at most MaxConcurrent queries at once; up to MaxQueued more wait, each at
// most QueueTimeout. Safe for concurrent use.
type Limiter struct {
	cfg    Config
	slots  chan struct{}
	logger *slog.Logger

	mu     sync.Mutex
	queued int
	tails  int // open live tails

	running  prometheus.Gauge
	waiting  prometheus.Gauge
	tailing  prometheus.Gauge
	rejected *prometheus.CounterVec
	wait     prometheus.Histogram
}

// New returns a limiter for cfg, which must be valid. A nil logger discards logs; a nil reg
// registers no metrics.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) *Limiter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{
		cfg:    cfg,
		slots:  make(chan struct{}, max(cfg.MaxConcurrent, 1)),
		logger: logger,
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loupe_query_running", Help: "Queries being evaluated by the read APIs (limit query.max_concurrent).",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loupe_query_queued", Help: "Queries waiting for a query slot (limit query.max_queued).",
		}),
		tailing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loupe_query_tails_open", Help: "Live tails (Loki /tail websockets) open (limit query.max_tails).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_query_rejected_total",
			Help: "Queries refused before evaluation, by reason (queue_full, queue_timeout, too_many_tails, too_long, too_deep).",
		}, []string{"reason"}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "loupe_query_queue_wait_seconds", Help: "Time admitted queries waited for a query slot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
	}
	l.running = selfmetrics.Register(reg, logger, l.running)
	l.waiting = selfmetrics.Register(reg, logger, l.waiting)
	l.tailing = selfmetrics.Register(reg, logger, l.tailing)
	l.rejected = selfmetrics.Register(reg, logger, l.rejected)
	l.wait = selfmetrics.Register(reg, logger, l.wait)
	return l
}

// Config returns the limiter's configuration.
func (l *Limiter) Config() Config { return l.cfg }

// Acquire waits for a query slot. It returns a release function to call once when the
// query is done, or ErrQueueFull, ErrQueueTimeout (both wrapped with the limits in words)
// or ctx's error.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
		return l.admitted(0), nil
	default:
	}
	l.mu.Lock()
	if l.queued >= l.cfg.MaxQueued {
		l.mu.Unlock()
		l.rejected.WithLabelValues("queue_full").Inc()
		return nil, fmt.Errorf("%w: %d queries running (limit query.max_concurrent) and %d waiting (limit query.max_queued); retry later",
			ErrQueueFull, l.cfg.MaxConcurrent, l.cfg.MaxQueued)
	}
	l.queued++
	l.waiting.Inc()
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.queued--
		l.waiting.Dec()
		l.mu.Unlock()
	}()

	start := time.Now()
	timer := time.NewTimer(l.cfg.QueueTimeout)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
		return l.admitted(time.Since(start)), nil
	case <-timer.C:
		l.rejected.WithLabelValues("queue_timeout").Inc()
		return nil, fmt.Errorf("%w: waited %s (limit query.queue_timeout) while %d queries ran (limit query.max_concurrent); retry later",
			ErrQueueTimeout, l.cfg.QueueTimeout, l.cfg.MaxConcurrent)
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a query slot: %w", ctx.Err())
	}
}

func (l *Limiter) admitted(waited time.Duration) func() {
	l.running.Inc()
	l.wait.Observe(waited.Seconds())
	var once sync.Once
	return func() {
		once.Do(func() {
			l.running.Dec()
			<-l.slots
		})
	}
}

// AcquireTail takes one of the MaxTails live tail slots, without waiting: a tail holds its
// slot as long as its client stays connected, so waiting would rarely help. It returns a
// release function to call once when the tail ends, or an error wrapping ErrTooManyTails.
func (l *Limiter) AcquireTail() (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.MaxTails > 0 && l.tails >= l.cfg.MaxTails {
		l.rejected.WithLabelValues("too_many_tails").Inc()
		return nil, fmt.Errorf("%w: %d live tails are open (limit query.max_tails); close one or retry later",
			ErrTooManyTails, l.tails)
	}
	l.tails++
	l.tailing.Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.tails--
			l.tailing.Dec()
			l.mu.Unlock()
		})
	}, nil
}

// Wrap returns h behind the limiter: each request waits for a slot (or is refused with 429
// or 503, Retry-After and a plain-text message naming the limit) and runs with a context
// that ends after Timeout. Requests for which exempt returns true (ingest endpoints under a
// read API's prefix) pass through untouched; exempt may be nil. Websocket upgrades (Loki's
// tail, a stream rather than a query, with no deadline) take a live tail slot instead
// (AcquireTail), held until the stream ends; beyond MaxTails they are refused with 429.
func (l *Limiter) Wrap(h http.Handler, exempt func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt != nil && exempt(r) {
			h.ServeHTTP(w, r)
			return
		}
		// Queries give way to ingest for the CPU (store.LowPriority).
		r = r.WithContext(store.LowPriority(r.Context()))
		if isWebsocket(r) {
			release, err := l.AcquireTail()
			if err != nil {
				l.refuse(w, r, err)
				return
			}
			defer release()
			h.ServeHTTP(w, r)
			return
		}
		release, err := l.Acquire(r.Context())
		if err != nil {
			l.refuse(w, r, err)
			return
		}
		defer release()
		ctx, cancel := context.WithTimeoutCause(r.Context(), l.cfg.Timeout, &TimeoutError{Limit: l.cfg.Timeout})
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (l *Limiter) refuse(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusServiceUnavailable
	switch {
	case errors.Is(err, ErrQueueFull), errors.Is(err, ErrTooManyTails):
		code = http.StatusTooManyRequests
	case errors.Is(err, ErrQueueTimeout):
	default: // the client went away while waiting; nobody reads the answer
		code = 499
	}
	if code != 499 {
		l.logger.Warn("query refused", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(l.cfg.QueueTimeout.Seconds()))))
	}
	http.Error(w, err.Error(), code)
}

// TimeoutError is the cause of the context of a query that ran past Config.Timeout. It
// wraps context.DeadlineExceeded.
type TimeoutError struct {
	Limit time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("query timed out after %s (limit query.timeout)", e.Limit)
}

func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Timeout returns err, the error of a query that ran out of time, with a message naming
// the configuration key to raise (query.timeout, and its value when ctx is the context
// Wrap gave the query), so that every read API says the same.
func Timeout(ctx context.Context, err error) error {
	var te *TimeoutError
	if errors.As(context.Cause(ctx), &te) {
		return fmt.Errorf("%s; raise query.timeout to let such queries finish: %w", te.Error(), err)
	}
	return fmt.Errorf("query timed out (limit query.timeout): %w", err)
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
