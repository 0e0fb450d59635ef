package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2/mapping"
)

// Each signal lives in one table per UTC day (logs_20261122, spans_20261122). Retention
// drops whole tables, and queries read only the days that overlap their time range.

const nsPerDay = int64(24 * time.Hour)

// tableSchema describes the partitions of one signal.
type tableSchema struct {
	prefix  string // table name prefix, e.g. "logs"
	columns string // column definitions for CREATE TABLE
}

// columnTypes returns the DuckDB type of each column in a CREATE TABLE column list.
func columnTypes(columns string) ([]mapping.Type, error) {
	names := map[string]mapping.Type{
		"BIGINT": mapping.TypeBigInt, "TINYINT": mapping.TypeTinyInt, "INTEGER": mapping.TypeInteger,
		"UINTEGER": mapping.TypeUInteger, "VARCHAR": mapping.TypeVarchar,
	}
	var out []mapping.Type
	for _, def := range strings.Split(columns, ",") {
		f := strings.Fields(def)
		if len(f) < 2 {
			return nil, fmt.Errorf("column definition %q", strings.TrimSpace(def))
		}
		typ, ok := names[f[1]]
		if !ok {
			return nil, fmt.Errorf("column %s: type %s not supported by the appender", f[0], f[1])
		}
		out = append(out, typ)
	}
	return out, nil
}

// zstdStrings reports whether the database file's storage version (1.2 or later) lets
// DuckDB compress text columns with zstd.
func zstdStrings(ctx context.Context, db *sql.DB) (bool, error) {
	var tags string
	err := db.QueryRowContext(ctx,
		`SELECT coalesce(tags['storage_version'], '') FROM duckdb_databases() WHERE database_name = current_database()`).Scan(&tags)
	if err != nil {
		return false, fmt.Errorf("read storage version: %w", err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(tags, "v%d.%d", &major, &minor); err != nil {
		return false, nil // unknown: keep DuckDB's own choice
	}
	return major > 1 || (major == 1 && minor >= 2), nil
}

// dayOf returns the UTC day number (days since the Unix epoch) of a nanosecond timestamp.
func dayOf(ns int64) int64 {
	d := ns / nsPerDay
	if ns < 0 && ns%nsPerDay != 0 {
		d--
	}
	return d
}

func dayName(prefix string, day int64) string {
	return prefix + "_" + time.Unix(day*86400, 0).UTC().Format("20060102")
}

// signalTables tracks the day partitions of one signal and serialises its writers.
type signalTables struct {
	schema tableSchema
	types  []mapping.Type // of schema.columns, for the appender
	db     *sql.DB
	// zstd is what {zstd} in schema.columns becomes in CREATE TABLE (see schema.go).
	zstd string
	// blocks are the appenders' string blocks, kept between batches (under writeMu).
	blocks [][]byte

	// writeMu serialises writes, partition creation and drops of this signal. DuckDB
	// would allow concurrent appends, but catalog changes from two transactions conflict,
	// and the pipeline above already merges requests into large batches.
	writeMu sync.Mutex
	wconn   *sql.Conn  // writer connection, created on first write
	guard   *diskGuard // refuses batches on a nearly full disk; nil for none
	closed  bool

	mu   sync.RWMutex
	days []int64 // sorted ascending

	// committed, when set, is called with the days of each batch after it commits and
	// the rows appended to each (rows[i] to days[i]); rows is nil after a COMMIT that
	// failed, which may still have committed. It must not block.
	committed func(days []int64, rows []int64)
}

func openSignalTables(ctx context.Context, db *sql.DB, schema tableSchema) (*signalTables, error) {
	types, err := columnTypes(schema.columns)
	if err != nil {
		return nil, fmt.Errorf("%s schema: %w", schema.prefix, err)
	}
	t := &signalTables{schema: schema, types: types, db: db}
	if zstd, err := zstdStrings(ctx, db); err != nil {
		return nil, err
	} else if zstd {
		t.zstd = "USING COMPRESSION zstd"
	}
	rows, err := db.QueryContext(ctx,
		`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND starts_with(table_name, ?)`,
		schema.prefix+"_")
	if err != nil {
		return nil, fmt.Errorf("list %s partitions: %w", schema.prefix, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list %s partitions: %w", schema.prefix, err)
		}
		d, err := time.Parse("20060102", strings.TrimPrefix(name, schema.prefix+"_"))
		if err != nil {
			continue // not one of ours
		}
		t.days = append(t.days, d.Unix()/86400)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s partitions: %w", schema.prefix, err)
	}
	slices.Sort(t.days)
	// Partitions written before record attributes were split into attr_keys and
	// attr_vals (attrcols.go) have one attributes column, and partitions before
	// log_resources.go and span_resources.go their own resource column (spans also an
	// end_ns column); refuse them
	// clearly rather than fail on every query.
	var old string
	err = db.QueryRowContext(ctx,
		`SELECT table_name FROM duckdb_columns() WHERE schema_name = 'main' AND starts_with(table_name, ?)
			AND column_name IN ('attributes', 'resource', 'end_ns') LIMIT 1`,
		schema.prefix+"_").Scan(&old)
	if err == nil {
		return nil, fmt.Errorf("partition %s has the attribute layout of an older Loupe, which this version cannot read: move the database file away to start afresh", old)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("check %s partitions: %w", schema.prefix, err)
	}
	return t, nil
}

// tables returns the partitions overlapping [start, end) in nanoseconds, newest first.
// end <= 0 means unbounded.
func (t *signalTables) tables(startNs, endNs int64) []string {
	days := t.daysIn(startNs, endNs)
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = dayName(t.schema.prefix, d)
	}
	return out
}

// daysIn returns the days of the partitions tables returns, in the same order.
func (t *signalTables) daysIn(startNs, endNs int64) []int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []int64
	for i := len(t.days) - 1; i >= 0; i-- {
		d := t.days[i]
		if endNs > 0 && d*nsPerDay >= endNs {
			continue
		}
		if (d+1)*nsPerDay <= startNs {
			break
		}
		out = append(out, d)
	}
	return out
}

// allDays returns the days of every partition, oldest first.
func (t *signalTables) allDays() []int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Clone(t.days)
}

func (t *signalTables) hasDay(day int64) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := slices.BinarySearch(t.days, day)
	return ok
}

// writer returns the writer connection. Called with writeMu held.
func (t *signalTables) writer(ctx context.Context) (*sql.Conn, error) {
	if t.closed {
		return nil, errors.New("store is closed")
	}
	if t.wconn == nil {
		c, err := t.db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("writer connection: %w", err)
		}
		t.wconn = c
	}
	return t.wconn, nil
}

// ensure creates the partition for day if it does not exist. Called with writeMu held,
// outside the batch transaction: an empty table left by a failed batch is harmless.
func (t *signalTables) ensure(ctx context.Context, conn *sql.Conn, day int64) error {
	if t.hasDay(day) {
		return nil
	}
	name := dayName(t.schema.prefix, day)
	columns := strings.ReplaceAll(t.schema.columns, "{zstd}", t.zstd)
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+name+" ("+columns+")"); err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	t.mu.Lock()
	i, found := slices.BinarySearch(t.days, day)
	if !found {
		t.days = slices.Insert(t.days, i, day)
	}
	t.mu.Unlock()
	return nil
}

// writeBatch appends one batch atomically: appendDay is called once per day partition with
// an Appender on that partition, then finish runs on the same connection, and everything
// commits in one transaction. DuckDB appenders append into the connection's open
// transaction, so a failure anywhere rolls back the whole batch. settled, when not nil,
// runs after the COMMIT, still under writeMu (no other batch in between), with whether it
// succeeded; a COMMIT that fails may still have committed.
func (t *signalTables) writeBatch(ctx context.Context, days []int64,
	appendDay func(day int64, a *chunkAppender) error,
	finish func(conn *sql.Conn) error,
	settled func(conn *sql.Conn, committed bool),
) error {
	return t.writeRows(ctx, days, -1, appendDay, finish, settled)
}

// writeRows is writeBatch for a batch of a known number of rows (-1: unknown). A batch
// of at most chunkRows rows on one day with no finish is appended without BEGIN and
// COMMIT (appendSmall): the appender's flush at Close commits it in a transaction of its
// own. Each SQL statement costs DuckDB's executor a round through its task queue, where
// the calling thread spins (Executor::ExecuteTask, pthread_mutex_lock) while a worker
// thread runs the statement, the COMMIT's fsync included; for the 512-record batches of
// an OpenTelemetry SDK that spinning was a large part of the server's CPU (see
// docs/performance.md, 2026-12-07).
func (t *signalTables) writeRows(ctx context.Context, days []int64, rows int,
	appendDay func(day int64, a *chunkAppender) error,
	finish func(conn *sql.Conn) error,
	settled func(conn *sql.Conn, committed bool),
) (err error) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	// Checked under writeMu, before anything (a new partition too) goes to the WAL: a
	// batch admitted here cannot be followed by another that used up the room.
	if t.guard != nil {
		if err := t.guard.check(); err != nil {
			return err
		}
	}
	conn, err := t.writer(ctx)
	if err != nil {
		return err
	}
	for _, d := range days {
		if err := t.ensure(ctx, conn, d); err != nil {
			return err
		}
	}
	if len(days) == 1 && finish == nil && rows >= 0 && rows <= chunkRows {
		return t.appendSmall(conn, days[0], appendDay, settled)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		t.resetWriter()
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Use a fresh context: the caller's may be what failed.
		if _, rbErr := conn.ExecContext(context.Background(), "ROLLBACK"); rbErr != nil {
			t.resetWriter()
		}
	}()
	appended := make([]int64, len(days))
	for i, d := range days {
		name := dayName(t.schema.prefix, d)
		err := conn.Raw(func(dc any) error {
			a, err := newChunkAppender(dc.(driver.Conn), name, t.types, t.blocks)
			if err != nil {
				return err
			}
			err = appendDay(d, a)
			appended[i] = a.total
			err = errors.Join(err, a.Close())
			t.blocks = a.Blocks()
			return err
		})
		if err != nil {
			return fmt.Errorf("append to %s: %w", name, err)
		}
	}
	if finish != nil {
		if err := finish(conn); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		if settled != nil {
			settled(conn, false)
		}
		if t.committed != nil {
			t.committed(days, nil)
		}
		return fmt.Errorf("commit: %w", err)
	}
	if settled != nil {
		settled(conn, true)
	}
	if t.committed != nil {
		t.committed(days, appended)
	}
	return nil
}

// appendSmall appends a batch that fits one chunk (appendDay ends at most chunkRows rows)
// with no transaction open, so that the appender's flush at Close is the batch's
// transaction: all of its rows or none. Until Close nothing reaches DuckDB (a chunk is
// handed over when full, and a full chunk is the last row of the batch), so a failure
// of appendDay discards the rows and commits nothing. A flush that fails is treated as
// a COMMIT that failed: it may have committed. Called with writeMu held.
func (t *signalTables) appendSmall(conn *sql.Conn, day int64,
	appendDay func(day int64, a *chunkAppender) error,
	settled func(conn *sql.Conn, committed bool),
) error {
	name := dayName(t.schema.prefix, day)
	var appended int64
	flushed := false
	err := conn.Raw(func(dc any) error {
		a, err := newChunkAppender(dc.(driver.Conn), name, t.types, t.blocks)
		if err != nil {
			return err
		}
		if err := appendDay(day, a); err != nil {
			return errors.Join(err, a.Discard())
		}
		appended = a.total
		flushed = true
		err = a.Close()
		t.blocks = a.Blocks()
		return err
	})
	if err != nil {
		if flushed {
			if settled != nil {
				settled(conn, false)
			}
			if t.committed != nil {
				t.committed([]int64{day}, nil)
			}
			return fmt.Errorf("append to %s: commit: %w", name, err)
		}
		return fmt.Errorf("append to %s: %w", name, err)
	}
	if settled != nil {
		settled(conn, true)
	}
	if t.committed != nil {
		t.committed([]int64{day}, []int64{appended})
	}
	return nil
}

// resetWriter drops a writer connection left in an unknown state. Called with writeMu held.
func (t *signalTables) resetWriter() {
	if t.wconn != nil {
		_ = t.wconn.Close()
		t.wconn = nil
	}
}

// dropBefore drops partitions whose day ends at or before cutoffNs, then, when it dropped
// any, runs after on the writer connection (to prune catalogs and block filters, which
// have rows only for days with partitions). Returns the dropped table names.
func (t *signalTables) dropBefore(ctx context.Context, cutoffNs int64, after func(conn *sql.Conn, cutoffDay int64) error) ([]string, error) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	conn, err := t.writer(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	var old []int64
	for _, d := range t.days {
		if (d+1)*nsPerDay <= cutoffNs {
			old = append(old, d)
		}
	}
	t.mu.RUnlock()
	var dropped []string
	for _, d := range old {
		name := dayName(t.schema.prefix, d)
		// Forget the partition first so new queries stop reading it.
		t.mu.Lock()
		if i, ok := slices.BinarySearch(t.days, d); ok {
			t.days = slices.Delete(t.days, i, i+1)
		}
		t.mu.Unlock()
		if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
			return dropped, fmt.Errorf("drop partition %s: %w", name, err)
		}
		dropped = append(dropped, name)
	}
	if after != nil && len(dropped) > 0 {
		if err := after(conn, dayOf(cutoffNs)); err != nil {
			return dropped, err
		}
	}
	return dropped, nil
}

func (t *signalTables) close() error {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.closed = true
	if t.wconn == nil {
		return nil
	}
	err := t.wconn.Close()
	t.wconn = nil
	return err
}
