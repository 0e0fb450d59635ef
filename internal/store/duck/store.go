// Package duck stores logs and spans in one embedded DuckDB database file, partitioned into
// one table per signal per UTC day.
package duck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/store"
)

// Options tune the embedded database.
type Options struct {
	// MemoryLimit caps DuckDB's buffer pool, in DuckDB syntax ("512MB", "2GB"). Idle RSS
	// stays well below it; large queries spill or fail instead of growing past it.
	MemoryLimit string
	// Threads is the number of DuckDB worker threads; 0 lets DuckDB use every core.
	Threads int
	// CheckpointThreshold is the WAL size ("128MB") at which DuckDB folds the WAL into the
	// database file, compressing what was appended since the last checkpoint. Frequent
	// checkpoints recompress the partly filled last row group again and again: on 400k
	// log records DuckDB's default of 16MB cost twice the CPU per record (~30 vs ~15 µs)
	// and twice the bytes on disk (~233 vs ~120 B) of 128MB. The price of a large value
	// is memory (appended rows stay uncompressed in memory until the checkpoint) and
	// WAL replay time after a crash. Empty keeps DuckDB's default.
	CheckpointThreshold string
	// MinFreeBytes is the free space, on top of the WAL's size, below which writes are
	// refused with an error wrapping store.ErrDiskFull (503) and the checkpoint at Close is
	// skipped, so that DuckDB never meets a full disk (diskguard.go). 0 turns the guard off.
	MinFreeBytes int64
	// QueryNice is added to the nice value (at most 19) of the threads that run DuckDB's work for reads
	// marked store.LowPriority and of DuckDB's worker threads, so that the writers go
	// first when queries and ingest compete for the CPU (priority.go). 0 gives them the
	// writers' priority.
	QueryNice int

	// blockRows overrides defaultBlockRows of the block indexes (tests use small blocks).
	blockRows int64
	// freeBytes overrides the guard's statfs (tests fake a full disk).
	freeBytes func(dir string) (int64, error)
}

// DefaultOptions returns modest settings for a small machine.
func DefaultOptions() Options {
	return Options{MemoryLimit: "512MB", Threads: 2, CheckpointThreshold: "128MB", MinFreeBytes: DefaultMinFreeBytes, QueryNice: 10}
}

// Store is the DuckDB backend for logs and spans. It implements store.LogWriter,
// store.LogReader, store.SpanWriter, store.TraceReader, store.Retainer and store.Sizer.
// All methods are safe for concurrent use.
//
// Layout: one table per signal per UTC day (partitions.go), columns in schema.go.
// Writes: each batch is appended with DuckDB's Appender inside one transaction on a
// per-signal writer connection (writers of one signal are serialised; logs and spans
// write in parallel). Reads: plain SQL over the partitions overlapping the time range,
// user values always as parameters.
type Store struct {
	path   string
	logger *slog.Logger
	conn   *duckdb.Connector
	db     *sql.DB

	logs *signalTables
	// logResources and spanNames remember catalog entries already committed.
	logResources  committedSet[int64, logResource]
	spanNames     committedSet[spanName, struct{}]
	spanResources committedSet[int64, spanResource]
	spans         *signalTables
	bodyIndex     *blockIndex   // log body search (grams_index.go)
	openBodies    *openBlocks   // its blocks in progress, fed by WriteLogs (grams_write.go)
	termIndex     *blockIndex   // log body tokens and attribute values (terms.go)
	openTerms     *openBlocks   // its blocks in progress
	traceIndex    *blockIndex   // trace ids of spans (trace_filter.go)
	indexer       *blockIndexer // builds the block indexes (blockindex.go)

	guard   *diskGuard // refuses writes on a nearly full disk (diskguard.go)
	metrics *metrics
	runsMu  sync.Mutex // serialises writes to the runs table (runs.go)
	// errorsMu serialises writes to the error tables (errors.go) and guards errState, what
	// the write path remembers of the rows it committed (errors_cache.go).
	errorsMu sync.Mutex
	errState errorState

	profiles *profileTables // continuous profiles (profiles.go)

	// spanResourceRows caches the span_resources rows trace lookups read (span_resources.go).
	spanResourceRows spanResourceCache
	// streamSpans summarises the streams of the logs partitions for LogQL (log_streams.go).
	streamSpans streamSpans

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.LogWriter   = (*Store)(nil)
	_ store.LogReader   = (*Store)(nil)
	_ store.SpanWriter  = (*Store)(nil)
	_ store.TraceReader = (*Store)(nil)
	_ store.Retainer    = (*Store)(nil)
	_ store.Sizer       = (*Store)(nil)

	_ store.ProfileWriter = (*Store)(nil)
	_ store.ProfileReader = (*Store)(nil)
)

// Open opens (creating if needed) the database file at path, e.g. <datadir>/loupe.duckdb.
func Open(path string, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MemoryLimit == "" {
		opts.MemoryLimit = DefaultOptions().MemoryLimit
	}
	if opts.Threads < 0 {
		return nil, fmt.Errorf("open duckdb: threads must be >= 0, got %d", opts.Threads)
	}
	if opts.MinFreeBytes < 0 {
		return nil, fmt.Errorf("open duckdb: min free bytes must not be negative, got %d", opts.MinFreeBytes)
	}
	if opts.QueryNice < 0 || opts.QueryNice > 19 {
		return nil, fmt.Errorf("open duckdb: query nice must be between 0 and 19, got %d", opts.QueryNice)
	}
	guard := newDiskGuard(path, opts.MinFreeBytes, logger)
	if opts.freeBytes != nil {
		guard.free = opts.freeBytes
	}
	// Opening on a nearly full disk works (the guard keeps DuckDB from writing), but say
	// so at once rather than at the first refused write.
	if err := guard.check(); err != nil {
		logger.Warn("logs and spans store opened on a nearly full disk: writes refused, queries served", "err", err)
	}
	// Settings go through SET statements run on every new connection rather than the DSN,
	// so that the values are validated by DuckDB with a clear error. The exception is the
	// storage version, which DuckDB reads when it creates the file: the latest one lets
	// the checkpoint pick DICT_FSST for strings (measured: spans 102 -> 95 B each on disk,
	// logs unchanged, CPU the same). A file created earlier keeps its version and opens
	// as before.
	//
	// DuckDB starts its worker threads when the database opens and again when threads is
	// set (in init): both happen on a thread with the queries' nice value, which the
	// workers inherit (priority.go).
	var s *Store
	open := func() error {
		connector, err := duckdb.NewConnector(path+"?storage_compatibility_version=latest", nil)
		if err != nil {
			return explainOpenError(path, err)
		}
		db := sql.OpenDB(priorityConnector{Connector: connector, nice: opts.QueryNice})
		s = &Store{path: path, logger: logger, conn: connector, db: db, guard: guard}
		if err := s.init(context.Background(), opts); err != nil {
			return errors.Join(err, db.Close(), connector.Close())
		}
		return nil
	}
	var openErr error
	if opts.QueryNice > 0 {
		if err := onNicedThread(opts.QueryNice, func() { openErr = open() }); err != nil {
			return nil, err
		}
	} else {
		openErr = open()
	}
	if openErr != nil {
		return nil, openErr
	}
	db, connector := s.db, s.conn
	m, err := newMetrics(reg)
	if err != nil {
		return nil, errors.Join(err, db.Close(), connector.Close())
	}
	s.metrics = m
	s.indexer.start()
	return s, nil
}

func (s *Store) init(ctx context.Context, opts Options) error {
	if err := s.checkFileSize(ctx); err != nil {
		return err
	}
	// memory_limit and threads are database-wide settings: setting them once applies to
	// every connection of this database instance.
	if _, err := s.db.ExecContext(ctx, "SET memory_limit = '"+sqlQuote(opts.MemoryLimit)+"'"); err != nil {
		return fmt.Errorf("set memory_limit %q: %w", opts.MemoryLimit, err)
	}
	if opts.Threads > 0 {
		if _, err := s.db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", opts.Threads)); err != nil {
			return fmt.Errorf("set threads %d: %w", opts.Threads, err)
		}
	}
	if opts.CheckpointThreshold != "" {
		if _, err := s.db.ExecContext(ctx, "SET checkpoint_threshold = '"+sqlQuote(opts.CheckpointThreshold)+"'"); err != nil {
			return fmt.Errorf("set checkpoint_threshold %q: %w", opts.CheckpointThreshold, err)
		}
	}
	// Insertion order is irrelevant to our queries (they sort explicitly); dropping it lets
	// DuckDB parallelise scans with less memory.
	if _, err := s.db.ExecContext(ctx, "SET preserve_insertion_order = false"); err != nil {
		return fmt.Errorf("set preserve_insertion_order: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, catalogDDL); err != nil {
		return fmt.Errorf("create catalog tables: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, logResourcesDDL); err != nil {
		return fmt.Errorf("create log resources table: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, spanResourcesDDL); err != nil {
		return fmt.Errorf("create span resources table: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, attrMacroDDL); err != nil {
		return fmt.Errorf("create attribute macro: %w", err)
	}
	if err := initRuns(ctx, s.db); err != nil {
		return err
	}
	if err := initErrors(ctx, s.db); err != nil {
		return err
	}
	var err error
	if s.logs, err = openSignalTables(ctx, s.db, logsSchema); err != nil {
		return err
	}
	if s.spans, err = openSignalTables(ctx, s.db, spansSchema); err != nil {
		return err
	}
	s.bodyIndex = newBodyIndex(s.logs, opts.blockRows)
	s.openBodies = newOpenBlocks(s.bodyIndex, newGramRows)
	s.termIndex = newTermIndex(s.logs, opts.blockRows)
	s.openTerms = newOpenBlocks(s.termIndex, newTermRows)
	s.traceIndex = newTraceIndex(s.spans, opts.blockRows)
	if s.profiles, err = initProfiles(ctx, s.db); err != nil {
		return err
	}
	s.logs.guard, s.spans.guard, s.profiles.samples.guard = s.guard, s.guard, s.guard
	s.indexer = newBlockIndexer(s.db, s.logger, s.bodyIndex, s.termIndex, s.traceIndex)
	s.indexer.guard = s.guard
	for _, ix := range s.indexer.indexes {
		if _, err := s.db.ExecContext(ctx, ix.ddl()); err != nil {
			return fmt.Errorf("create %s: %w", ix.table, err)
		}
	}
	s.logs.committed = func(days, rows []int64) {
		s.indexer.notify(s.bodyIndex, days, rows)
		s.indexer.notify(s.termIndex, days, rows)
	}
	s.spans.committed = func(days, rows []int64) { s.indexer.notify(s.traceIndex, days, rows) }
	return nil
}

// Close waits for running writes and closes the database. Safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.indexer != nil {
			s.indexer.stop()
		}
		var profiles *signalTables
		if s.profiles != nil {
			profiles = s.profiles.samples
		}
		for _, t := range []*signalTables{s.logs, s.spans, profiles} {
			if t != nil {
				errs = append(errs, t.close())
			}
		}
		// A checkpoint folds the WAL into the database file so that the next Open does not
		// replay it and the file size reflects what is stored. (FORCE CHECKPOINT, tried as
		// a fallback when it refused, waited forever for a transaction left open.) On a
		// nearly full disk it is skipped, and so is DuckDB's own at shutdown: a checkpoint
		// that meets a full disk is a FATAL error in DuckDB. The WAL holds every committed
		// batch and is replayed at the next Open.
		if free, need, ok := s.guard.room(); ok {
			if _, err := s.db.Exec("CHECKPOINT"); err != nil {
				errs = append(errs, fmt.Errorf("checkpoint: %w", err))
			}
		} else {
			s.logger.Warn("disk almost full: checkpoint skipped at close, the WAL is replayed at the next start",
				"dir", s.guard.dir, "free_bytes", free, "min_free_bytes", need)
			if _, err := s.db.Exec("PRAGMA disable_checkpoint_on_shutdown"); err != nil {
				errs = append(errs, fmt.Errorf("turn off the checkpoint at shutdown: %w", err))
			}
		}
		errs = append(errs, s.db.Close(), s.conn.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// sqlQuote escapes a value for a single-quoted SQL literal. It is used only for settings
// that DuckDB does not accept as parameters.
func sqlQuote(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}

type metrics struct {
	rows     *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	failures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_duckdb_rows_written_total",
			Help: "Rows committed to the DuckDB store, by signal.",
		}, []string{"signal"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loupe_duckdb_write_duration_seconds",
			Help:    "Time to append and commit one batch to the DuckDB store, by signal.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"signal"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_duckdb_write_failures_total",
			Help: "Batches the DuckDB store failed to commit, by signal.",
		}, []string{"signal"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.rows, m.latency, m.failures} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register duckdb metrics: %w", err)
		}
	}
	return m, nil
}

// insertIgnoringDuplicates inserts rows into a catalog table in one statement, skipping the
// rows whose key is already there. into is the table with its column list
// ("span_names (day, service, name)"), args the rows' values one row after the other,
// width values each.
func insertIgnoringDuplicates(ctx context.Context, conn *sql.Conn, into string, width int, args []any) error {
	if len(args) == 0 {
		return nil
	}
	query := "INSERT INTO " + into + " VALUES " + placeholderRows(len(args)/width, width) + " ON CONFLICT DO NOTHING"
	_, err := conn.ExecContext(ctx, query, args...)
	return err
}
