// Package chspans is the span store of the ClickHouse backend: store.SpanWriter,
// store.TraceReader, store.ServiceStatsReader, store.Retainer, store.Sizer, and the span
// attribute catalogs of the Tempo tag APIs (SpanAttributeKeys, SpanAttributeValues), over
// a chsql.Conn. schema.go describes the tables and why they are laid out so.
package chspans

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// Options configure a Store.
type Options struct {
	// Tenant is the value of the tenant column this store writes and reads ("" until
	// tenants exist, issue 12).
	Tenant string
	// Retention, when positive, is set as the tables' TTL: ClickHouse drops a day's parts
	// once the whole day is older than Retention (rounded up to days), in its background
	// merges, even when no Loupe node runs DropBefore. Zero removes a TTL set before.
	Retention time.Duration
}

// Store keeps spans in ClickHouse. It is safe for concurrent use.
type Store struct {
	conn   chsql.Conn
	schema chsql.Schema
	opts   Options
	logger *slog.Logger
	tenant string // opts.Tenant as a literal, for every query
}

// Interfaces this store implements; the Tempo API finds the tag catalogs by assertion.
var (
	_ store.SpanWriter         = (*Store)(nil)
	_ store.TraceReader        = (*Store)(nil)
	_ store.ServiceStatsReader = (*Store)(nil)
	_ store.Retainer           = (*Store)(nil)
	_ store.Sizer              = (*Store)(nil)
)

// New applies the span schema's migrations (schema.Database is conn's database) and
// returns the store. The store does not own conn: Close leaves it open for the other
// signals' stores.
func New(ctx context.Context, conn chsql.Conn, schema chsql.Schema, opts Options, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := chsql.Migrate(ctx, conn, schema, component, migrations(schema), logger); err != nil {
		return nil, fmt.Errorf("span schema: %w", err)
	}
	s := &Store{conn: conn, schema: schema, opts: opts, logger: logger, tenant: chsql.String(opts.Tenant)}
	if err := s.setTTL(ctx); err != nil {
		return nil, fmt.Errorf("span retention: %w", err)
	}
	return s, nil
}

// Close releases nothing: the connection belongs to the caller.
func (s *Store) Close() error { return nil }

// table returns the qualified name of one of this package's tables, through which every
// query reads (the Distributed table with a cluster).
func (s *Store) table(name string) string {
	return chsql.Ident(s.schema.Database) + "." + chsql.Ident(name)
}

// localTable returns the qualified name of the table holding name's data on each server
// (for partition operations), with the ON CLUSTER clause they need.
func (s *Store) localTable(name string) string {
	t := chsql.Ident(s.schema.Database) + "." + chsql.Ident(s.schema.Local(name))
	if s.schema.Cluster != "" {
		t += " ON CLUSTER " + chsql.Ident(s.schema.Cluster)
	}
	return t
}

// Time literals: DateTime64(9) holds 1900-01-01 to 2262-04-11, so query bounds outside
// are clamped (a zero time means unbounded and is not written at all).
var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC)
)

func timeLit(t time.Time) string {
	if t.Before(minTime) {
		t = minTime
	}
	if t.After(maxTime) {
		t = maxTime
	}
	return chsql.DateTime64(t)
}

// conds collects the conditions of a WHERE clause. Every value in them is written with
// the chsql quoting helpers.
type conds []string

func (c *conds) add(cond string) { *c = append(*c, cond) }

func (c conds) sql() string {
	if len(c) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c, " AND ")
}

// spanTimeConds starts the conditions on spans: this store's tenant and span start in
// [start, end), a zero time leaving that side open.
func (s *Store) spanTimeConds(start, end time.Time) conds {
	c := conds{"tenant = " + s.tenant}
	if !start.IsZero() {
		c.add("start >= " + timeLit(start))
	}
	if !end.IsZero() {
		c.add("start < " + timeLit(end))
	}
	return c
}

// strings runs a query of one String column.
func (s *Store) strings(ctx context.Context, query string) ([]string, error) {
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
