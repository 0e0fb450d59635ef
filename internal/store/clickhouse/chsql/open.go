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
// (or "default") is used only to create database when it does not exist yet; or
// chdb:///dir for chDB (binaries built with -tags chdb). cluster, when set, creates the
// database ON CLUSTER.
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
		return nil, badDSN(err)
	}
	withDB, err := dsnWithDatabase(dsn, database)
	if err != nil {
		return nil, err
	}
	c, err := OpenNative(ctx, withDB)
	if err == nil {
		return c, nil
	}
	// A connection cannot name a database that does not exist yet (the first start):
	// connect to the DSN's own database ("default" when it names none, or names ours),
	// create ours, and connect again. Whatever failed, a failed bootstrap reports the
	// first error, which names the server.
	bootDB := opts.Auth.Database
	if bootDB == "" || bootDB == database {
		bootDB = "default"
	}
	bootDSN, _ := dsnWithDatabase(dsn, bootDB) // parsed above
	boot, bootErr := OpenNative(ctx, bootDSN)
	if bootErr != nil {
		return nil, err
	}
	bootErr = boot.Exec(ctx, Schema{Database: database, Cluster: cluster}.Expand("CREATE DATABASE IF NOT EXISTS {db}{on_cluster}"))
	_ = boot.Close()
	if bootErr != nil {
		return nil, fmt.Errorf("%w; creating database %s failed too: %v", err, database, bootErr)
	}
	return OpenNative(ctx, withDB)
}

// dsnWithDatabase returns dsn naming database in its path.
func dsnWithDatabase(dsn, database string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", badDSN(err)
	}
	u.Path, u.RawPath = "/"+database, ""
	return u.String(), nil
}

// badDSN reports a DSN that does not parse without repeating it: it may hold a password
// (url.Error quotes the whole URL).
func badDSN(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("clickhouse: bad DSN: %v", ue.Err)
	}
	return fmt.Errorf("clickhouse: bad DSN: %w", err)
}
