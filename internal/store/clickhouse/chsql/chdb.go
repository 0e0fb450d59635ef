//go:build chdb

package chsql

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	chdb "github.com/chdb-io/chdb-go/chdb-purego"
)

// chDB is ClickHouse as a library (libchdb.so, found through CHDB_LIB_PATH). Its Go
// binding panics at init when the library is missing, which is why this file is behind the
// chdb build tag: the loupe binary never imports it.
//
// A process has one chDB session (the library keeps one engine per process; a second
// connect replaces the first), so it is opened once, for one data directory, and shared by
// every Conn; each Conn is that session plus a database. Queries are serialised: the
// session's current database is session state (USE), and chDB runs the queries of a
// connection one at a time anyway (chdb.h: chdb_query is thread-safe and hands queries to
// the connection's query queue; 4 goroutines querying without this mutex got right
// answers, but USE must not interleave). The wait for the session ends with the query's
// ctx, so that a long query (or a slow insert) holding the engine bounds the wait of the
// others by their deadlines, as a ClickHouse server's queries do (the insert limits of
// limit.go rely on it).
var chdbSession = chdbProcess{turn: make(chan struct{}, 1)}

type chdbProcess struct {
	turn chan struct{} // holding the session: a token in turn
	conn chdb.ChdbConn
	path string
}

// lock takes the session, giving up when ctx ends first.
func (s *chdbProcess) lock(ctx context.Context) error {
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *chdbProcess) unlock() { <-s.turn }

// Session settings: times in UTC (DateTime64 text without a zone is read as UTC by
// JSONRows), and NaN/Inf written as strings rather than null.
const chdbSettings = "?session_timezone=UTC&output_format_json_quote_denormals=1"

// OpenChDB returns a Conn on database of the process's chDB session, whose data lives in
// dir (opened at the first call; later calls must name the same dir). The database is
// created if missing. Close releases the Conn, not the session, which lives as long as the
// process.
func OpenChDB(dir, database string) (Conn, error) {
	if database == "" {
		return nil, errors.New("chdb: no database")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("chdb: %w", err)
	}
	s := &chdbSession
	_ = s.lock(context.Background())
	defer s.unlock()
	switch {
	case s.conn == nil:
		c, err := chdb.NewConnectionFromConnString(abs + chdbSettings)
		if err != nil {
			return nil, fmt.Errorf("chdb: open %s: %w", abs, err)
		}
		s.conn, s.path = c, abs
	case s.path != abs:
		return nil, fmt.Errorf("chdb: the process's session is open on %s; cannot open %s too", s.path, abs)
	}
	if _, err := s.run("CREATE DATABASE IF NOT EXISTS " + Ident(database)); err != nil {
		return nil, fmt.Errorf("chdb: %w", err)
	}
	return &chdbConn{database: database}, nil
}

// run runs one statement with the session held and returns a copy of its output.
func (s *chdbProcess) run(query string) ([]byte, error) {
	res, err := s.conn.Query(query, JSONFormat)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, nil
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return nil, err
	}
	// Buf points into memory that Free releases.
	return append([]byte(nil), res.Buf()...), nil
}

type chdbConn struct {
	database string
	mu       sync.Mutex
	closed   bool
}

func (c *chdbConn) Database() string { return c.database }

func (c *chdbConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

// query runs q in c's database.
func (c *chdbConn) query(ctx context.Context, q string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, errors.New("chdb: connection closed")
	}
	s := &chdbSession
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	// USE before every query rather than when the database changes: a test may drop and
	// create again the session's current database, and USE costs little next to a query.
	if _, err := s.run("USE " + Ident(c.database)); err != nil {
		return nil, fmt.Errorf("chdb: use %s: %w", c.database, err)
	}
	// A chDB query cannot be cancelled once started; ctx is checked again after the wait
	// for the session.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := s.run(q)
	if err != nil {
		return nil, fmt.Errorf("chdb: %w", err)
	}
	return out, nil
}

func (c *chdbConn) Exec(ctx context.Context, q string) error {
	_, err := c.query(ctx, q)
	return err
}

func (c *chdbConn) Query(ctx context.Context, q string) (Rows, error) {
	out, err := c.query(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := NewJSONRows(out)
	if err != nil {
		return nil, fmt.Errorf("chdb: %w", err)
	}
	return rows, nil
}

func (c *chdbConn) Insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	q, err := InsertValues(table, cols, rows)
	if err != nil {
		return err
	}
	return c.Exec(ctx, q)
}
