package chsql

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// OpenNative connects to a ClickHouse server over the native protocol with LZ4
// compression, and checks the connection with a ping. dsn is clickhouse-go's:
// clickhouse://user:password@host:9000/database?dial_timeout=5s (several hosts separated by
// commas). The database defaults to "default".
//
// This path is not run by the tests of this repository (there is no ClickHouse server
// here): they cover DSN parsing and connection errors; the SQL it carries is the same as
// chDB's, which they run.
func OpenNative(ctx context.Context, dsn string) (Conn, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: bad DSN: %w", err)
	}
	if len(opts.Addr) == 0 {
		return nil, errors.New("clickhouse: bad DSN: no host")
	}
	opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	if opts.Auth.Database == "" {
		opts.Auth.Database = "default"
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("clickhouse: connect to %v: %w", opts.Addr, err)
	}
	return &nativeConn{conn: conn, database: opts.Auth.Database}, nil
}

type nativeConn struct {
	conn     driver.Conn
	database string
}

func (c *nativeConn) Database() string { return c.database }

func (c *nativeConn) Close() error { return c.conn.Close() }

func (c *nativeConn) Exec(ctx context.Context, q string) error {
	if err := c.conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return nil
}

func (c *nativeConn) Query(ctx context.Context, q string) (Rows, error) {
	rows, err := c.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return rows, nil
}

// Insert sends rows as one block: PrepareBatch, Append per row, Send. The server
// acknowledges once the block is written (insert_quorum and async inserts are server
// settings).
func (c *nativeConn) Insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	q := "INSERT INTO " + TableName(table) + " ("
	for i, col := range cols {
		if i > 0 {
			q += ", "
		}
		q += Ident(col)
	}
	batch, err := c.conn.PrepareBatch(ctx, q+")")
	if err != nil {
		return fmt.Errorf("clickhouse: insert into %s: %w", table, err)
	}
	for i, row := range rows {
		if len(row) != len(cols) {
			_ = batch.Abort()
			return fmt.Errorf("clickhouse: insert into %s: row %d has %d values for %d columns", table, i, len(row), len(cols))
		}
		if err := batch.Append(row...); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("clickhouse: insert into %s: row %d: %w", table, i, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: insert into %s: %w", table, err)
	}
	return nil
}
