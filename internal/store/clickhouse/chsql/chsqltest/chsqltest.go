//go:build chdb

// Package chsqltest gives tests of the ClickHouse stores a database of their own on chDB
// (ClickHouse in-process). Build with -tags chdb and CHDB_LIB_PATH naming libchdb.so
// (scripts/test-deps.sh installs it; the Makefile passes it).
package chsqltest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

var (
	dirOnce sync.Once
	dataDir string
	dirErr  error
	seq     atomic.Int64
)

// sessionDir is the chDB data directory of this test process: $TMPDIR/loupe-chdb-<pid>.
// A process cannot remove it on exit (tests have no hook after the last test), so each
// process removes those of processes that are gone.
func sessionDir() (string, error) {
	dirOnce.Do(func() {
		tmp := os.TempDir()
		old, _ := filepath.Glob(filepath.Join(tmp, "loupe-chdb-*"))
		for _, d := range old {
			pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "loupe-chdb-"))
			if err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
				_ = os.RemoveAll(d)
			}
		}
		dataDir = filepath.Join(tmp, "loupe-chdb-"+strconv.Itoa(os.Getpid()))
		dirErr = os.MkdirAll(dataDir, 0o755)
	})
	return dataDir, dirErr
}

// DSN returns the chdb:// DSN of this process's chDB session and a new, empty database
// on it (dropped at the end of the test), for tests that start a whole server on chDB:
// a process has one chDB session, on one directory, which every such test must share.
func DSN(t testing.TB) (dsn, database string) {
	t.Helper()
	dir, err := sessionDir()
	if err != nil {
		t.Fatalf("chsqltest: %v", err)
	}
	return chsql.ChDBScheme + dir, Open(t).Database()
}

// Open returns a Conn on a new, empty database (test_<n>), dropped at the end of the test.
func Open(t testing.TB) chsql.Conn {
	t.Helper()
	return open(t, fmt.Sprintf("test_%d", seq.Add(1)))
}

// OpenDir returns a Conn on the database of dir: the same dir gives the same database, so
// a store closed and opened again on one dir sees its data, as the conformance suites'
// "reopen" cases expect of a backend. The database is dropped at the end of the test.
func OpenDir(t testing.TB, dir string) chsql.Conn {
	t.Helper()
	sum := sha256.Sum256([]byte(dir))
	return open(t, "test_dir_"+hex.EncodeToString(sum[:8]))
}

// Schema is the schema of a Conn from Open: its database, no cluster.
func Schema(c chsql.Conn) chsql.Schema {
	return chsql.Schema{Database: c.Database()}
}

func open(t testing.TB, database string) chsql.Conn {
	t.Helper()
	dir, err := sessionDir()
	if err != nil {
		t.Fatalf("chsqltest: %v", err)
	}
	c, err := chsql.OpenChDB(dir, database)
	if err != nil {
		t.Fatalf("chsqltest: %v", err)
	}
	t.Cleanup(func() {
		admin, err := chsql.OpenChDB(dir, "default")
		if err != nil {
			t.Errorf("chsqltest: %v", err)
			return
		}
		defer admin.Close()
		if err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+chsql.Ident(database)+" SYNC"); err != nil {
			t.Errorf("chsqltest: drop %s: %v", database, err)
		}
	})
	return c
}
