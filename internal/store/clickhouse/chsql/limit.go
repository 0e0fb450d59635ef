package chsql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/selfmetrics"
	"github.com/loupe-dev/loupe/internal/store"
)

// InsertLimits bound how long ingest waits on a slow or unreachable ClickHouse, per
// signal (storage.clickhouse.insert_*; docs/scale-out.md). Without them, a slow server
// holds every writer of a signal for as long as its inserts take: the pipeline's queue
// fills (its own bound), and the paths that write to the stores themselves (Sentry events,
// profiles, check-ins, remote write, scrapes, StatsD) pile up one goroutine per request.
//
// Defaults:
//
//	Concurrency  4     inserts of one signal in flight at once
//	Queue        64    callers waiting for a slot; one more is refused at once
//	Timeout      10s   from the call: the wait for a slot plus the insert
type InsertLimits struct {
	Concurrency int
	Queue       int
	Timeout     time.Duration
}

// DefaultInsertLimits returns the documented defaults.
func DefaultInsertLimits() InsertLimits {
	return InsertLimits{Concurrency: 4, Queue: 64, Timeout: 10 * time.Second}
}

// Reasons of loupe_clickhouse_inserts_refused_total.
const (
	refusedQueue   = "queue"   // insert_queue callers already waiting
	refusedWait    = "wait"    // no slot free within insert_timeout
	refusedTimeout = "timeout" // the insert itself did not finish within insert_timeout
)

// InsertLimiter makes the Conns of InsertLimiter.Conn, sharing the self-metrics.
type InsertLimiter struct {
	limits   InsertLimits
	inFlight *prometheus.GaugeVec
	waiting  *prometheus.GaugeVec
	refused  *prometheus.CounterVec
}

// NewInsertLimiter returns a limiter with limits: Concurrency > 0, Queue >= 0, Timeout > 0
// (the configuration checks them). A nil reg registers no metrics.
func NewInsertLimiter(limits InsertLimits, reg prometheus.Registerer, logger *slog.Logger) *InsertLimiter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &InsertLimiter{
		limits: limits,
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loupe_clickhouse_inserts_in_flight",
			Help: "ClickHouse inserts running, by signal (at most storage.clickhouse.insert_concurrency each).",
		}, []string{"signal"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loupe_clickhouse_inserts_waiting",
			Help: "ClickHouse inserts waiting for a slot, by signal (at most storage.clickhouse.insert_queue each).",
		}, []string{"signal"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_clickhouse_inserts_refused_total",
			Help: "ClickHouse inserts refused as the server is slow, by signal and reason: queue (insert_queue callers already waiting), wait (no slot within insert_timeout), timeout (the insert did not finish within insert_timeout). Clients got a throttling answer (HTTP 429, gRPC UNAVAILABLE).",
		}, []string{"signal", "reason"}),
	}
	l.inFlight = selfmetrics.Register(reg, logger, l.inFlight)
	l.waiting = selfmetrics.Register(reg, logger, l.waiting)
	l.refused = selfmetrics.Register(reg, logger, l.refused)
	return l
}

// Conn returns c with the inserts of one signal limited: Insert, and Exec of an INSERT
// statement. Queries and other statements (DDL, retention's ALTERs) pass through. Give
// each signal's store its own Conn: each has its own slots.
//
// An insert refused by a limit returns an error wrapping store.ErrBusy that names the
// limit. An insert whose deadline passed but that succeeded anyway (chDB cannot stop a
// statement once it runs) succeeds: it is stored.
func (l *InsertLimiter) Conn(c Conn, signal string) Conn {
	return &limitedConn{Conn: c, g: l.Gate(signal)}
}

// Gate returns slots of their own for signal, under the same limits, for a write that is
// more than its inserts: the errors store reads the events and issue states it dedupes
// against before it inserts, and those reads wait on a slow ClickHouse too. Run the whole
// write in the Gate, on a Conn that is not limited again (nested slots of one size could
// wait on each other).
func (l *InsertLimiter) Gate(signal string) *Gate {
	return &Gate{l: l, signal: signal, slots: make(chan struct{}, l.limits.Concurrency)}
}

// Gate bounds the calls of one signal: see InsertLimiter.Gate.
type Gate struct {
	l       *InsertLimiter
	signal  string
	slots   chan struct{}
	callers atomic.Int64 // waiting or in flight
}

type limitedConn struct {
	Conn
	g *Gate
}

func (c *limitedConn) Insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return c.Conn.Insert(ctx, table, cols, rows)
	}
	return c.g.Run(ctx, "insert into "+table, func(ctx context.Context) error { return c.Conn.Insert(ctx, table, cols, rows) })
}

func (c *limitedConn) Exec(ctx context.Context, q string) error {
	if !isInsert(q) {
		return c.Conn.Exec(ctx, q)
	}
	return c.g.Run(ctx, "insert", func(ctx context.Context) error { return c.Conn.Exec(ctx, q) })
}

// isInsert reports whether q is an INSERT statement.
func isInsert(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n")
	return len(q) >= 6 && strings.EqualFold(q[:6], "INSERT")
}

// Run runs write (what names it in errors) in a slot, within insert_timeout from now. A
// refusal wraps store.ErrBusy and names the limit; when ctx ends first, its error is
// returned.
func (g *Gate) Run(ctx context.Context, what string, write func(context.Context) error) error {
	lim := g.l.limits
	if n := g.callers.Add(1); n > int64(lim.Concurrency+lim.Queue) {
		g.callers.Add(-1)
		return g.refuse(refusedQueue, fmt.Errorf("%d inserts in flight and %d waiting (storage.clickhouse.insert_concurrency %d, insert_queue %d)",
			lim.Concurrency, lim.Queue, lim.Concurrency, lim.Queue))
	}
	defer g.callers.Add(-1)

	dctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	waiting := g.l.waiting.WithLabelValues(g.signal)
	waiting.Inc()
	select {
	case g.slots <- struct{}{}:
		waiting.Dec()
	case <-dctx.Done():
		waiting.Dec()
		if err := ctx.Err(); err != nil { // the caller gave up or has a shorter deadline
			return err
		}
		return g.refuse(refusedWait, fmt.Errorf("no insert slot free within storage.clickhouse.insert_timeout %s: %d in flight (storage.clickhouse.insert_concurrency) did not finish",
			lim.Timeout, lim.Concurrency))
	}
	inFlight := g.l.inFlight.WithLabelValues(g.signal)
	inFlight.Inc()
	err := write(dctx)
	inFlight.Dec()
	<-g.slots
	if err != nil && ctx.Err() == nil && errors.Is(dctx.Err(), context.DeadlineExceeded) {
		// %v, not %w: the deadline is ours, and a caller that sees context.DeadlineExceeded
		// in the chain would take it for its own (gRPC answers it DEADLINE_EXCEEDED).
		return g.refuse(refusedTimeout, fmt.Errorf("%s did not finish within storage.clickhouse.insert_timeout %s: %v", what, lim.Timeout, err))
	}
	return err
}

func (g *Gate) refuse(reason string, err error) error {
	g.l.refused.WithLabelValues(g.signal, reason).Inc()
	return fmt.Errorf("%w: clickhouse %s inserts: %w", store.ErrBusy, g.signal, err)
}
