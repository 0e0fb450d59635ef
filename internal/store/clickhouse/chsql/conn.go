// Package chsql is how the ClickHouse backend talks to ClickHouse. The backend stores every
// signal in ClickHouse, for deployments that outgrow one machine: one package per signal
// beside this one (chlogs, chspans, chmetrics, ...), each implementing the same store
// interfaces as the embedded backend (internal/store/duck, internal/store/tsdb) and passing
// the same conformance suites.
//
// All SQL goes through a Conn, which has two implementations:
//   - clickhouse-go (native protocol, compression), for a real server or cluster;
//   - chDB, the ClickHouse engine in-process (build tag chdb), used by the tests on
//     machines without a ClickHouse server.
//
// Both see the same statements: values are inlined into the SQL text with the quoting
// helpers of this package (never by string concatenation of raw input), and bulk rows go
// through Conn.Insert.
package chsql

import "context"

// Conn runs SQL on one ClickHouse database. Implementations are safe for concurrent use.
type Conn interface {
	// Exec runs a statement that returns no rows (DDL, ALTER, INSERT ... SELECT).
	Exec(ctx context.Context, query string) error
	// Query runs a statement that returns rows. The caller must Close the Rows.
	Query(ctx context.Context, query string) (Rows, error)
	// Insert appends rows to table in one INSERT, so they land in one part and become
	// visible together. Each row has one value per column, in the order of cols, of these
	// Go types: string, bool, int8..int64, uint8..uint64, float64, time.Time (for
	// DateTime64), []string, []int64, []uint64, []float64 and map[string]string.
	Insert(ctx context.Context, table string, cols []string, rows [][]any) error
	// Database is the database every unqualified table name refers to.
	Database() string
	Close() error
}

// Rows iterates over a query result, as database/sql's Rows does.
type Rows interface {
	Next() bool
	// Scan copies the current row's columns into dest, which point to values of the Go
	// types Insert accepts (and *time.Time for DateTime/DateTime64 columns).
	Scan(dest ...any) error
	// Err is the error that ended Next, if any.
	Err() error
	Close() error
}
