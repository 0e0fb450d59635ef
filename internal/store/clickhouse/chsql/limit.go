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
	return &limitedConn{Conn: c, l: l, signal: signal, slots: make(chan struct{}, l.limits.Concurrency)}
}

type limitedConn struct {
	Conn
	l       *InsertLimiter
	signal  string
	slots   chan struct{}
	callers atomic.Int64 // waiting or in flight
}

func (c *limitedConn) Insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return c.Conn.Insert(ctx, table, cols, rows)
	}
	return c.limit(ctx, table, func(ctx context.Context) error { return c.Conn.Insert(ctx, table, cols, rows) })
}

func (c *limitedConn) Exec(ctx context.Context, q string) error {
	if !isInsert(q) {
		return c.Conn.Exec(ctx, q)
	}
	return c.limit(ctx, "", func(ctx context.Context) error { return c.Conn.Exec(ctx, q) })
}

// isInsert reports whether q is an INSERT statement.
func isInsert(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n")
	return len(q) >= 6 && strings.EqualFold(q[:6], "INSERT")
}

// limit runs insert in a slot, within the deadline.
func (c *limitedConn) limit(ctx context.Context, table string, insert func(context.Context) error) error {
	lim := c.l.limits
	if n := c.callers.Add(1); n > int64(lim.Concurrency+lim.Queue) {
		c.callers.Add(-1)
		return c.refuse(refusedQueue, fmt.Errorf("%d inserts in flight and %d waiting (storage.clickhouse.insert_concurrency %d, insert_queue %d)",
			lim.Concurrency, lim.Queue, lim.Concurrency, lim.Queue))
	}
	defer c.callers.Add(-1)

	dctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	waiting := c.l.waiting.WithLabelValues(c.signal)
	waiting.Inc()
	select {
	case c.slots <- struct{}{}:
		waiting.Dec()
	case <-dctx.Done():
		waiting.Dec()
		if err := ctx.Err(); err != nil { // the caller gave up or has a shorter deadline
			return err
		}
		return c.refuse(refusedWait, fmt.Errorf("no insert slot free within storage.clickhouse.insert_timeout %s: %d in flight (storage.clickhouse.insert_concurrency) did not finish",
			lim.Timeout, lim.Concurrency))
	}
	inFlight := c.l.inFlight.WithLabelValues(c.signal)
	inFlight.Inc()
	err := insert(dctx)
	inFlight.Dec()
	<-c.slots
	if err != nil && ctx.Err() == nil && errors.Is(dctx.Err(), context.DeadlineExceeded) {
		what := "insert"
		if table != "" {
			what = "insert into " + table
		}
		return c.refuse(refusedTimeout, fmt.Errorf("%s did not finish within storage.clickhouse.insert_timeout %s: %w", what, lim.Timeout, err))
	}
	return err
}

func (c *limitedConn) refuse(reason string, err error) error {
	c.l.refused.WithLabelValues(c.signal, reason).Inc()
	return fmt.Errorf("%w: clickhouse %s inserts: %w", store.ErrBusy, c.signal, err)
}
