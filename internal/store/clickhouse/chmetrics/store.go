// Package chmetrics stores metrics in ClickHouse for Prometheus' PromQL engine: a
// storage.Queryable whose label matchers and time range run as SQL, a storage.Appendable
// for remote write, scraping and rules, and a store.MetricWriter for OTLP metrics through
// Prometheus' own OTLP translator.
//
// Supported: float samples (with staleness markers), classic histograms and summaries
// (they are float series), exemplars, label names and values with matchers. Refused with
// an error: native histograms (AppendHistogram). Any timestamp is accepted (there is no
// out-of-order window); a sample written twice for the same series and time is read once,
// with the value written first, as a Prometheus TSDB keeps.
package chmetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/prometheus/storage"
	prw "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// Options configure the store.
type Options struct {
	// Tenant is written in every row and filters every query; "" until tenants exist.
	Tenant string
	// Retention is how long samples are kept (the tables' TTL, set at every start; whole
	// parts expire). 0 keeps them until DropBefore drops them.
	Retention time.Duration
	// Translation are the OTLP-to-Prometheus translator settings of WriteMetrics, the same
	// as the embedded store's. Delta temporality is rejected (not converted).
	Translation prw.Settings
	// MaxKnownSeries bounds the cache of series rows already written (one entry per series
	// and day, ~50 bytes each); when full it is cleared and the series rows are written
	// again, which reads deduplicate. 0 means 1,000,000.
	MaxKnownSeries int
}

// Store is a Prometheus storage over ClickHouse. Safe for concurrent use.
type Store struct {
	conn   chsql.Conn
	schema chsql.Schema
	opts   Options
	logger *slog.Logger

	mu    sync.Mutex
	known map[seriesDay]struct{} // series rows written by this process
	ver   uint64                 // last version given to a batch of samples
}

type seriesDay struct {
	id  uint64
	day int32
}

var (
	_ storage.Queryable         = (*Store)(nil)
	_ storage.ChunkQueryable    = (*Store)(nil)
	_ storage.ExemplarQueryable = (*Store)(nil)
	_ storage.Appendable        = (*Store)(nil)
	_ store.MetricWriter        = (*Store)(nil)
	_ store.Retainer            = (*Store)(nil)
	_ store.Sizer               = (*Store)(nil)
)

// New migrates the metric tables of conn's database and returns the store. The caller
// closes conn.
func New(ctx context.Context, conn chsql.Conn, schema chsql.Schema, opts Options, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxKnownSeries <= 0 {
		opts.MaxKnownSeries = 1_000_000
	}
	if err := chsql.Migrate(ctx, conn, schema, component, migrations, logger); err != nil {
		return nil, fmt.Errorf("metric store schema: %w", err)
	}
	s := &Store{conn: conn, schema: schema, opts: opts, logger: logger, known: map[seriesDay]struct{}{}}
	if err := s.setTTL(ctx, opts.Retention); err != nil {
		return nil, err
	}
	return s, nil
}

// Close releases nothing: the connection belongs to the caller.
func (s *Store) Close() error { return nil }

// Querier implements storage.Queryable.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{s: s, mint: mint, maxt: maxt}, nil
}

// ChunkQuerier implements storage.ChunkQueryable (remote read) by encoding the samples
// that Querier reads.
func (s *Store) ChunkQuerier(mint, maxt int64) (storage.ChunkQuerier, error) {
	return chunkQuerier{querier{s: s, mint: mint, maxt: maxt}}, nil
}

// ExemplarQuerier implements storage.ExemplarQueryable.
func (s *Store) ExemplarQuerier(ctx context.Context) (storage.ExemplarQuerier, error) {
	return exemplarQuerier{s: s, ctx: ctx}, nil
}

// StartTime is the time of the oldest sample, in milliseconds (math.MaxInt64 when empty).
func (s *Store) StartTime() (int64, error) {
	rows, err := s.conn.Query(context.Background(), fmt.Sprintf(
		"SELECT count(), min(ts_ms) FROM %s WHERE tenant = %s", samplesTable, chsql.String(s.opts.Tenant)))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n uint64
	var t int64
	if rows.Next() {
		if err := rows.Scan(&n, &t); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if n == 0 {
		return math.MaxInt64, nil
	}
	return t, nil
}

// DiskBytes implements store.Sizer: the compressed bytes of the metric tables (on every
// server of a cluster, replicas included).
func (s *Store) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	n, err := chsql.DiskBytes(ctx, s.conn, s.schema, tables...)
	if err != nil {
		return nil, err
	}
	return map[store.Signal]int64{store.SignalMetrics: n}, nil
}

var errNativeHistograms = errors.New("native histograms are not supported by the ClickHouse metric store yet; send classic histograms (for OTLP, explicit-bucket histograms without convert_histograms_to_nhcb)")
