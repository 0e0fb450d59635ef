package chsql

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ChDBScheme starts the DSN of ClickHouse in-process (chDB): chdb:///path/to/dir. Only
// binaries built with -tags chdb open it; it is for tests.
const ChDBScheme = "chdb://"

// Open connects to the ClickHouse of dsn with database as the Conn's database (every
// unqualified table name), creating the database when missing. dsn is clickhouse-go's
// (clickhouse://user:password@host:9000[,host2:9000][/db][?options]), whose own database
// is used only to connect before database exists; or chdb:///dir for chDB (binaries built
// with -tags chdb). cluster, when set, creates the database ON CLUSTER.
func Open(ctx context.Context, dsn, database, cluster string) (Conn, error) {
	if database == "" {
		return nil, errors.New("clickhouse: no database")
	}
	if dir, ok := strings.CutPrefix(dsn, ChDBScheme); ok {
		if dir == "" {
			return nil, errors.New("clickhouse: chdb:// needs a directory: chdb:///path/to/dir")
		}
		return openChDB(dir, database)
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: bad DSN: %w", err)
	}
	if opts.Auth.Database == database {
		return OpenNative(ctx, dsn)
	}
	// Connect to the DSN's database (default: "default"), create ours, and connect again
	// naming it: a connection cannot name a database that does not exist yet.
	boot, err := OpenNative(ctx, dsn)
	if err != nil {
		return nil, err
	}
	err = boot.Exec(ctx, Schema{Database: database, Cluster: cluster}.Expand("CREATE DATABASE IF NOT EXISTS {db}{on_cluster}"))
	_ = boot.Close()
	if err != nil {
		return nil, fmt.Errorf("clickhouse: create database %s: %w", database, err)
	}
	withDB, err := dsnWithDatabase(dsn, database)
	if err != nil {
		return nil, err
	}
	return OpenNative(ctx, withDB)
}

// dsnWithDatabase returns dsn naming database in its path.
func dsnWithDatabase(dsn, database string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("clickhouse: bad DSN: %w", err)
	}
	u.Path, u.RawPath = "/"+database, ""
	return u.String(), nil
}
