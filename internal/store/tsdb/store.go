// Package tsdb stores metrics in an embedded Prometheus TSDB, translating OTLP metrics to
// Prometheus series exactly as Prometheus' own OTLP receiver does.
package tsdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
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
	// MaxSeries bounds the series of the head: samples of new series beyond it are
	// refused with a *tenant.LimitError naming Tenant (serieslimit.go); 0 means no limit.
	MaxSeries int
	// Tenant is the tenant whose store this is, for MaxSeries' refusals.
	Tenant string
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
	case o.MaxSeries < 0:
		return fmt.Errorf("max series must not be negative, got %d", o.MaxSeries)
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
	// mu guards db and view. db is nil while the store is read-only (opened on a nearly
	// full disk, readonly.go); view is then the read-only view, or nil when even that could
	// not be loaded.
	mu       sync.RWMutex
	db       *promtsdb.DB
	view     *readOnlyView
	dbStats  *promtsdb.DBStats
	topts    *promtsdb.Options
	dir      string
	reg      prometheus.Registerer
	deps     storeDeps
	stop     chan struct{} // closed by Close: ends reopenLoop
	done     chan struct{} // closed when reopenLoop has returned
	opts     Options
	logger   *slog.Logger
	metrics  *writeMetrics
	meta     *metadataStore
	delta    processor.Metrics // nil unless Options.ConvertDelta
	guard    *diskGuard
	settings translationSettings
	// exemplars sizes the exemplar ring to its use (exemplars.go); nil when
	// Options.MaxExemplars is 0.
	exemplars *exemplarRing
	// series refuses new series beyond Options.MaxSeries (serieslimit.go); nil without.
	series *seriesLimit

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

// storeDeps are what tests replace.
type storeDeps struct {
	free        func(dir string) (int64, error) // store.FreeBytes
	tempDir     string                          // os.TempDir(): the read-only view's sandbox
	reopenEvery time.Duration                   // how often a read-only store checks for space
}

// Open opens (or creates) the TSDB in dir and replays its write-ahead log. reg receives the
// TSDB's prometheus_tsdb_* metrics and Loupe's loupe_metrics_* metrics; it may be nil.
//
// On a disk with less than Options.MinFreeBytes free, Open does not open the TSDB for
// writing (replaying its WAL would write chunks and panic on the full disk): the store
// serves queries read-only from the blocks and the WAL, refuses writes with ErrDiskFull,
// and opens for writing by itself once that much space is free again (readonly.go).
func Open(dir string, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	return openStore(dir, opts, logger, reg, storeDeps{})
}

func openStore(dir string, opts Options, logger *slog.Logger, reg prometheus.Registerer, deps storeDeps) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("metric store options: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if deps.free == nil {
		deps.free = store.FreeBytes
	}
	if deps.tempDir == "" {
		deps.tempDir = os.TempDir()
	}
	if deps.reopenEvery <= 0 {
		deps.reopenEvery = 5 * time.Second
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create metric store dir: %w", err)
	}
	meta, err := openMetadataStore(dir)
	if err != nil {
		return nil, err
	}

	s := &Store{
		dir:      dir,
		reg:      reg,
		deps:     deps,
		topts:    tsdbOptions(opts),
		dbStats:  promtsdb.NewDBStats(),
		opts:     opts,
		logger:   logger,
		meta:     meta,
		settings: newTranslationSettings(opts),
		guard:    &diskGuard{dir: dir, reserve: opts.MinFreeBytes, free: deps.free, logger: logger},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if opts.MaxSeries > 0 {
		s.series = &seriesLimit{max: opts.MaxSeries, tenant: opts.Tenant, s: s}
		s.topts.SeriesLifecycleCallback = s.series
	}
	if opts.MaxExemplars > 0 {
		s.exemplars = &exemplarRing{max: opts.MaxExemplars, ooo: s.topts.OutOfOrderTimeWindow, logger: logger}
	}
	// Writes the pending head chunks early on a nearly full disk (diskguard.go).
	s.guard.flush = func() {
		if db := s.DB(); db != nil {
			db.ForceHeadMMap()
		}
	}
	if s.metrics, err = newWriteMetrics(reg); err != nil {
		return nil, err
	}
	if err := s.guard.check(); err != nil {
		logger.Error("metric store opened read-only on a nearly full disk: queries served, metric writes refused until space is freed", "err", err)
		s.openReadOnly()
		go s.reopenLoop()
	} else {
		close(s.done)
		if err := s.openWritable(); err != nil {
			return nil, err
		}
	}
	if opts.ConvertDelta {
		if s.delta, err = newDeltaToCumulative(s); err != nil {
			return nil, errors.Join(err, s.Close())
		}
	}
	return s, nil
}

// tsdbOptions are the Prometheus TSDB options for opts.
func tsdbOptions(opts Options) *promtsdb.Options {
	topts := promtsdb.DefaultOptions()
	topts.RetentionDuration = opts.Retention.Milliseconds()
	topts.MaxBytes = opts.MaxBytes
	topts.OutOfOrderTimeWindow = opts.OutOfOrderTimeWindow.Milliseconds()
	topts.EnableNativeHistograms = true
	// The head's series map is sharded in stripes, each with its lock and two maps
	// allocated at open: Prometheus' 16,384 stripes are 2.3 MiB of the idle server's heap
	// (go tool pprof of /debug/pprof/heap 10 s after ready). 4,096 stripes still leave
	// thousands of locks for the few appenders one machine runs at once.
	topts.StripeSize = 1 << 12
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
	return topts
}

// openWritable opens the TSDB for writing (replaying its WAL) and makes it the store's.
func (s *Store) openWritable() error {
	db, err := promtsdb.Open(s.dir, s.logger.With("component", "tsdb"), s.reg, s.topts, s.dbStats)
	if err != nil {
		return fmt.Errorf("open tsdb: %w", err)
	}
	if s.exemplars != nil {
		if err := s.exemplars.opened(db); err != nil {
			s.logger.Warn("exemplar ring kept at its full size", "err", err)
		}
	}
	s.mu.Lock()
	s.db = db
	view := s.view
	s.view = nil
	s.mu.Unlock()
	if view != nil {
		// Queries already running on the view finish first.
		go func() {
			if err := view.close(); err != nil {
				s.logger.Warn("close the read-only metric store", "err", err)
			}
		}()
	}
	return nil
}

// readOnlyMargin is the free space the read-only view needs in its sandbox beyond the size
// of the WAL it replays.
const readOnlyMargin = 8 << 20

// openReadOnly loads the read-only view when the sandbox's file system has room for the
// replayed chunks; else queries answer errNotLoaded until the store opens for writing.
func (s *Store) openReadOnly() {
	// The replay m-maps the WAL's samples as chunks, smaller than the WAL records; the
	// margin is for the 128 KiB preallocated per chunk file and for other writers.
	need := FilesSize(filepath.Join(s.dir, "wal")) + readOnlyMargin
	if free, err := s.deps.free(s.deps.tempDir); err == nil && free < need {
		s.logger.Error("metric store not loaded: the temporary directory has no room to replay the WAL read-only",
			"temp_dir", s.deps.tempDir, "free_bytes", free, "need_bytes", need)
		return
	}
	view, err := openReadOnlyView(s.dir, s.deps.tempDir, s.topts, s.logger.With("component", "tsdb-readonly"))
	if err != nil {
		s.logger.Error("metric store not loaded read-only", "err", err)
		return
	}
	s.view = view
}

// reopenLoop opens the store for writing once the disk has room, then returns.
func (s *Store) reopenLoop() {
	defer close(s.done)
	t := time.NewTicker(s.deps.reopenEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.guard.check() != nil {
			continue
		}
		if err := s.openWritable(); err != nil {
			s.logger.Error("open the metric store for writing", "err", err)
			continue
		}
		s.logger.Info("metric store opened for writing: free disk space recovered")
		return
	}
}

// FilesSize is the size of the files under dir, skipping what cannot be read (0 when dir
// cannot). The server reports it as the metric store's disk usage.
func FilesSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// notWritable is the error of writes while the store is read-only.
func (s *Store) notWritable() error {
	if err := s.guard.check(); err != nil {
		return err
	}
	return fmt.Errorf("%w: the metric store is still read-only after a full disk; it opens for writing within %s", ErrDiskFull, s.deps.reopenEvery)
}

// writableDB returns the TSDB, or an ErrDiskFull error while the store is read-only.
func (s *Store) writableDB() (*promtsdb.DB, error) {
	s.mu.RLock()
	db := s.db
	s.mu.RUnlock()
	if db == nil {
		return nil, s.notWritable()
	}
	return db, nil
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
		close(s.stop)
		<-s.done
		s.mu.Lock()
		db, view := s.db, s.view
		s.mu.Unlock()
		if db != nil {
			if err := db.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close tsdb: %w", err))
			}
		}
		if view != nil {
			if err := view.close(); err != nil {
				errs = append(errs, fmt.Errorf("close read-only tsdb: %w", err))
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// current returns the TSDB, or nil and the read-only view (itself nil when not loaded).
// While the caller holds mu's read lock, neither is closed.
func (s *Store) current() (*promtsdb.DB, *readOnlyView) {
	return s.db, s.view
}

// Querier implements storage.Queryable.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	db, view := s.current()
	switch {
	case db != nil:
		return db.Querier(mint, maxt)
	case view != nil:
		return view.querier(mint, maxt)
	}
	return nil, s.notLoaded()
}

// ChunkQuerier implements storage.ChunkQueryable (used by remote read).
func (s *Store) ChunkQuerier(mint, maxt int64) (storage.ChunkQuerier, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	db, view := s.current()
	switch {
	case db != nil:
		return db.ChunkQuerier(mint, maxt)
	case view != nil:
		return view.chunkQuerier(mint, maxt)
	}
	return nil, s.notLoaded()
}

// ExemplarQuerier implements storage.ExemplarQueryable. A read-only store has none.
func (s *Store) ExemplarQuerier(ctx context.Context) (storage.ExemplarQuerier, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return noExemplars{}, nil
	}
	return s.db.ExemplarQuerier(ctx)
}

// notLoaded is the error of queries when the store is neither open nor loaded read-only.
func (s *Store) notLoaded() error {
	return fmt.Errorf("%w: %w (the disk of %s is nearly full and the temporary directory had no room to read it; free disk space)", errNotLoaded, ErrDiskFull, s.dir)
}

// Appender implements storage.Appendable for Prometheus-protocol receivers (remote write,
// scraping). Appends through it bypass OTLP translation and metric metadata.
// Its Commit fails with ErrDiskFull when the disk is nearly full or the store read-only.
func (s *Store) Appender(ctx context.Context) storage.Appender {
	return s.guardedAppender(ctx)
}

// StartTime returns the oldest timestamp stored, in milliseconds.
func (s *Store) StartTime() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	db, view := s.current()
	switch {
	case db != nil:
		return db.StartTime()
	case view != nil:
		return view.startTime(), nil
	}
	return math.MaxInt64, nil
}

// DB gives access to the underlying TSDB, for compaction in benchmarks and for admin tools.
// It is nil while the store is read-only after opening on a nearly full disk.
func (s *Store) DB() *promtsdb.DB {
	s.mu.RLock()
	defer s.mu.RUnlock()
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	db, view := s.current()
	switch {
	case db != nil:
		return db.Head().Stats(statsByLabelName, limit), nil
	case view != nil:
		return view.head.Stats(statsByLabelName, limit), nil
	}
	return nil, s.notLoaded()
}

// WALReplayStatus reports the progress of the WAL replay done by Open.
func (s *Store) WALReplayStatus() (promtsdb.WALReplayStatus, error) {
	return s.dbStats.Head.WALReplayStatus.GetWALReplayStatus(), nil
}

// Snapshot writes a consistent copy of the data to dir.
func (s *Store) Snapshot(dir string, withHead bool) error {
	db, err := s.writableDB()
	if err != nil {
		return err
	}
	return db.Snapshot(dir, withHead)
}

// Delete marks the matching samples in [mint, maxt] as deleted.
func (s *Store) Delete(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error {
	db, err := s.writableDB()
	if err != nil {
		return err
	}
	return db.Delete(ctx, mint, maxt, ms...)
}

// CleanTombstones rewrites blocks without the deleted samples.
func (s *Store) CleanTombstones() error {
	db, err := s.writableDB()
	if err != nil {
		return err
	}
	return db.CleanTombstones()
}
