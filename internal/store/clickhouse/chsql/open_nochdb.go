//go:build !chdb

package chsql

import "errors"

// openChDB refuses chdb:// DSNs: chDB's Go binding needs libchdb.so at start, so only
// binaries built with -tags chdb (for tests) carry it.
func openChDB(string, string) (Conn, error) {
	return nil, errors.New("clickhouse: a chdb:// DSN (ClickHouse in-process, for tests) needs a loupe built with -tags chdb " +
		"(go build -tags chdb ./cmd/loupe, and CHDB_LIB_PATH naming libchdb.so); this binary speaks the native protocol: clickhouse://host:9000")
}
