// Package tsdb stores metrics in an embedded Prometheus TSDB, translating OTLP metrics to
// Prometheus series exactly as Prometheus' own OTLP receiver does.
package tsdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/compression"
	"go.opentelemetry.io/collector/processor"

	"github.com/loupe-dev/loupe/internal/store"
)

// Translation strategies, with the meaning of Prometheus' otlp.translation_strategy.
const (
	// UnderscoreEscapingWithSuffixes escapes metric and label names to [a-zA-Z0-9_:] and
	// adds unit and type suffixes (http.server.duration, unit s -> http_server_duration_seconds).
	UnderscoreEscapingWithSuffixes = "UnderscoreEscapingWithSuffixes"
	// NoUTF8EscapingWithSuffixes keeps UTF-8 names and adds unit and type suffixes.
	NoUTF8EscapingWithSuffixes = "NoUTF8EscapingWithSuffixes"
	// NoTranslation keeps names exactly as sent.
	NoTranslation = "NoTranslation"
)

// Options configure the metric store. Start from DefaultOptions.
type Options struct {
	// Retention is how long samples are kept. Whole blocks are dropped, so data up to one
	// block range older may remain.
	Retention time.Duration
	// MaxBytes caps the size of the stored blocks; 0 means no cap.
	MaxBytes int64
	// OutOfOrderTimeWindow accepts samples this much older than the newest sample of their
	// series. OTLP pushers retry and batch, so strictly in-order input cannot be assumed.
	OutOfOrderTimeWindow time.Duration
	// MaxExemplars is the size of the in-memory exemplar ring (exemplars link metrics to
	// traces); 0 disables exemplar storage.
	MaxExemplars int64
	// WALCompression compresses the write-ahead log with snappy.
	WALCompression bool
	// MinFreeBytes is the free space on the metric store's file system below which metric
	// writes are refused with ErrDiskFull (503), before the TSDB meets a full disk, which it
	// does not survive. 0 turns the guard off.
	MinFreeBytes int64
	// MinBlockDuration and MaxBlockDuration set the TSDB block ranges; zero means the
	// Prometheus defaults (2h, and 10% of retention capped at 31d for the maximum).
	MinBlockDuration time.Duration
	MaxBlockDuration time.Duration

	// TranslationStrategy is one of the constants above.
	TranslationStrategy string
	// PromoteResourceAttributes are resource attributes copied onto every series as labels,
	// as Prometheus' otlp.promote_resource_attributes. All resource attributes are always
	// on target_info.
	PromoteResourceAttributes []string
	// PromoteAllResourceAttributes promotes every resource attribute except
	// IgnoreResourceAttributes. It cannot be combined with PromoteResourceAttributes.
	PromoteAllResourceAttributes bool
	IgnoreResourceAttributes     []string
	// KeepIdentifyingResourceAttributes keeps service.name, service.namespace and
	// service.instance.id on target_info besides mapping them to job and instance.
	KeepIdentifyingResourceAttributes bool
	// ConvertHistogramsToNHCB stores explicit-bucket histograms as native histograms with
	// custom buckets instead of classic _bucket/_sum/_count series.
	ConvertHistogramsToNHCB bool
	// ConvertDelta turns delta sums and histograms into cumulative ones in memory before
	// storing them (Prometheus' otlp-deltatocumulative feature), so rate() and increase()
	// work on them. When false, delta points are rejected, as Prometheus does by default.
	ConvertDelta bool
}

// DefaultOptions returns the options Loupe uses unless configured otherwise.
func DefaultOptions() Options {
	return Options{
		Retention:            7 * 24 * time.Hour,
		OutOfOrderTimeWindow: 10 * time.Minute,
		MaxExemplars:         100_000,
		WALCompression:       true,
		MinFreeBytes:         DefaultMinFreeBytes,
		TranslationStrategy:  UnderscoreEscapingWithSuffixes,
		ConvertDelta:         true,
	}
}

// Validate reports the first problem with the options, naming the field.
func (o Options) Validate() error {
	switch {
	case o.Retention <= 0:
		return fmt.Errorf("retention must be positive, got %s", o.Retention)
	case o.MaxBytes < 0:
		return fmt.Errorf("max bytes must not be negative, got %d", o.MaxBytes)
	case o.MinFreeBytes < 0:
		return fmt.Errorf("min free bytes must not be negative, got %d", o.MinFreeBytes)
	case o.OutOfOrderTimeWindow < 0:
		return fmt.Errorf("out-of-order time window must not be negative, got %s", o.OutOfOrderTimeWindow)
	case o.MaxExemplars < 0:
		return fmt.Errorf("max exemplars must not be negative, got %d", o.MaxExemplars)
	case o.MinBlockDuration < 0 || o.MaxBlockDuration < 0:
		return fmt.Errorf("block durations must not be negative, got %s and %s", o.MinBlockDuration, o.MaxBlockDuration)
	case o.MaxBlockDuration > 0 && o.MaxBlockDuration < o.MinBlockDuration:
		return fmt.Errorf("max block duration %s is below min block duration %s", o.MaxBlockDuration, o.MinBlockDuration)
	}
	switch o.TranslationStrategy {
	case UnderscoreEscapingWithSuffixes, NoUTF8EscapingWithSuffixes, NoTranslation:
	default:
		return fmt.Errorf("unknown translation strategy %q (want %s, %s or %s)", o.TranslationStrategy,
			UnderscoreEscapingWithSuffixes, NoUTF8EscapingWithSuffixes, NoTranslation)
	}
	if o.PromoteAllResourceAttributes && len(o.PromoteResourceAttributes) > 0 {
		return errors.New("promote all resource attributes and a list of promoted resource attributes cannot be combined")
	}
	if !o.PromoteAllResourceAttributes && len(o.IgnoreResourceAttributes) > 0 {
		return errors.New("ignored resource attributes need promote all resource attributes")
	}
	for _, list := range [][]string{o.PromoteResourceAttributes, o.IgnoreResourceAttributes} {
		for i, a := range list {
			if a == "" {
				return errors.New("empty resource attribute name in promoted or ignored list")
			}
			if slices.Contains(list[:i], a) {
				return fmt.Errorf("resource attribute %q listed twice", a)
			}
		}
	}
	return nil
}

// Store is a Prometheus TSDB that takes OTLP metrics. It is a storage.Queryable,
// storage.ChunkQueryable, storage.ExemplarQueryable and storage.Appendable for the PromQL
// engine, the HTTP API and the Prometheus-protocol receivers, and a store.MetricWriter for
// OTLP receivers. All methods are safe for concurrent use.
type Store struct {
	db       *promtsdb.DB
	dbStats  *promtsdb.DBStats
	opts     Options
	logger   *slog.Logger
	metrics  *writeMetrics
	meta     *metadataStore
	delta    processor.Metrics // nil unless Options.ConvertDelta
	guard    *diskGuard
	settings translationSettings

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.MetricWriter        = (*Store)(nil)
	_ storage.Queryable         = (*Store)(nil)
	_ storage.ChunkQueryable    = (*Store)(nil)
	_ storage.ExemplarQueryable = (*Store)(nil)
	_ storage.Appendable        = (*Store)(nil)
)

// Open opens (or creates) the TSDB in dir and replays its write-ahead log. reg receives the
// TSDB's prometheus_tsdb_* metrics and Loupe's loupe_metrics_* metrics; it may be nil.
func Open(dir string, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("metric store options: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create metric store dir: %w", err)
	}
	meta, err := openMetadataStore(dir)
	if err != nil {
		return nil, err
	}

	topts := promtsdb.DefaultOptions()
	topts.RetentionDuration = opts.Retention.Milliseconds()
	topts.MaxBytes = opts.MaxBytes
	topts.OutOfOrderTimeWindow = opts.OutOfOrderTimeWindow.Milliseconds()
	topts.EnableNativeHistograms = true
	topts.EnableExemplarStorage = opts.MaxExemplars > 0
	topts.MaxExemplars = opts.MaxExemplars
	if opts.WALCompression {
		topts.WALCompression = compression.Snappy
	}
	if opts.MinBlockDuration > 0 {
		topts.MinBlockDuration = opts.MinBlockDuration.Milliseconds()
	}
	// Prometheus sizes the largest block at 10% of retention, capped at 31 days.
	topts.MaxBlockDuration = min(topts.RetentionDuration/10, int64(31*24*time.Hour/time.Millisecond))
	if opts.MaxBlockDuration > 0 {
		topts.MaxBlockDuration = opts.MaxBlockDuration.Milliseconds()
	}
	topts.MaxBlockDuration = max(topts.MaxBlockDuration, topts.MinBlockDuration)

	guard := &diskGuard{dir: dir, reserve: opts.MinFreeBytes, free: store.FreeBytes, logger: logger}
	// Opening on a nearly full disk works (the guard keeps the TSDB from writing), but say
	// so at once rather than at the first refused write.
	if err := guard.check(); err != nil {
		logger.Warn("metric store opened on a nearly full disk: metric writes refused, queries served", "err", err)
	}
	stats := promtsdb.NewDBStats()
	db, err := promtsdb.Open(dir, logger.With("component", "tsdb"), reg, topts, stats)
	if err != nil {
		return nil, fmt.Errorf("open tsdb: %w", err)
	}

	s := &Store{
		db:       db,
		dbStats:  stats,
		opts:     opts,
		logger:   logger,
		meta:     meta,
		settings: newTranslationSettings(opts),
		guard:    guard,
	}
	guard.flush = db.ForceHeadMMap
	if s.metrics, err = newWriteMetrics(reg); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if opts.ConvertDelta {
		if s.delta, err = newDeltaToCumulative(s); err != nil {
			return nil, errors.Join(err, db.Close())
		}
	}
	return s, nil
}

// Close flushes and closes the TSDB. Writes acknowledged before Close survive a restart.
// Close is safe to call twice.
func (s *Store) Close() error {
	// tsdb.DB.Close panics when called twice.
	s.closeOnce.Do(func() {
		var errs []error
		if s.delta != nil {
			errs = append(errs, s.delta.Shutdown(context.Background()))
		}
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close tsdb: %w", err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Querier implements storage.Queryable.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return s.db.Querier(mint, maxt)
}

// ChunkQuerier implements storage.ChunkQueryable (used by remote read).
func (s *Store) ChunkQuerier(mint, maxt int64) (storage.ChunkQuerier, error) {
	return s.db.ChunkQuerier(mint, maxt)
}

// ExemplarQuerier implements storage.ExemplarQueryable.
func (s *Store) ExemplarQuerier(ctx context.Context) (storage.ExemplarQuerier, error) {
	return s.db.ExemplarQuerier(ctx)
}

// Appender implements storage.Appendable for Prometheus-protocol receivers (remote write,
// scraping). Appends through it bypass OTLP translation and metric metadata.
// Its Commit fails with ErrDiskFull when the disk is nearly full.
func (s *Store) Appender(ctx context.Context) storage.Appender {
	return s.guardedAppender(ctx)
}

// StartTime returns the oldest timestamp stored, in milliseconds.
func (s *Store) StartTime() (int64, error) {
	return s.db.StartTime()
}

// DB gives access to the underlying TSDB, for compaction in benchmarks and for admin tools.
func (s *Store) DB() *promtsdb.DB {
	return s.db
}

// Retention returns the configured retention, for status pages.
func (s *Store) Retention() time.Duration {
	return s.opts.Retention
}

// The methods below make Store a web/api/v1.TSDBAdminStats, so that /api/v1/status/tsdb
// and the admin endpoints work on it.

// Stats returns head block statistics for /api/v1/status/tsdb.
func (s *Store) Stats(statsByLabelName string, limit int) (*promtsdb.Stats, error) {
	return s.db.Head().Stats(statsByLabelName, limit), nil
}

// WALReplayStatus reports the progress of the WAL replay done by Open.
func (s *Store) WALReplayStatus() (promtsdb.WALReplayStatus, error) {
	return s.dbStats.Head.WALReplayStatus.GetWALReplayStatus(), nil
}

// Snapshot writes a consistent copy of the data to dir.
func (s *Store) Snapshot(dir string, withHead bool) error {
	return s.db.Snapshot(dir, withHead)
}

// Delete marks the matching samples in [mint, maxt] as deleted.
func (s *Store) Delete(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error {
	return s.db.Delete(ctx, mint, maxt, ms...)
}

// CleanTombstones rewrites blocks without the deleted samples.
func (s *Store) CleanTombstones() error {
	return s.db.CleanTombstones()
}
