package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/loupe-dev/loupe/internal/store"
)

// threadNice is a DuckDB scalar function answering the nice value of the thread that
// executes it, to see where a query ran.
type threadNice struct{}

func (threadNice) Config() duckdb.ScalarFuncConfig {
	ti, err := duckdb.NewTypeInfo(duckdb.TYPE_INTEGER)
	if err != nil {
		panic(err)
	}
	return duckdb.ScalarFuncConfig{ResultTypeInfo: ti, Volatile: true}
}

func (threadNice) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func([]driver.Value) (any, error) {
		prio, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
		return int32(20 - prio), err
	}}
}

func ownNice(t *testing.T) int {
	t.Helper()
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	require.NoError(t, err)
	return 20 - prio
}

// Reads marked store.LowPriority run DuckDB's work on a thread whose nice value is
// Options.QueryNice more than the process's; other statements run on the caller's.
func TestLowPriorityReadsRunNiced(t *testing.T) {
	opts := DefaultOptions()
	opts.Threads = 1 // no worker threads: the query runs on the calling thread alone
	opts.QueryNice = 7
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), opts, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	// Registered through the raw connector: duckdb-go's registration wants its own
	// connection type, and functions land in the database's catalog for every connection.
	raw := sql.OpenDB(s.conn)
	defer raw.Close()
	conn, err := raw.Conn(context.Background())
	require.NoError(t, err)
	require.NoError(t, duckdb.RegisterScalarUDF(conn, "thread_nice", threadNice{}))
	require.NoError(t, conn.Close())

	base := ownNice(t)
	var got int
	require.NoError(t, s.db.QueryRowContext(store.LowPriority(context.Background()),
		"SELECT thread_nice() FROM range(3) LIMIT 1").Scan(&got))
	require.Equal(t, min(19, base+7), got, "a low-priority read")
	require.NoError(t, s.db.QueryRowContext(context.Background(),
		"SELECT thread_nice() FROM range(3) LIMIT 1").Scan(&got))
	require.Equal(t, base, got, "an ordinary statement")
}

func TestOpenRefusesBadQueryNice(t *testing.T) {
	for _, n := range []int{-1, 20} {
		opts := DefaultOptions()
		opts.QueryNice = n
		_, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), opts, nil, nil)
		require.ErrorContains(t, err, "query nice must be between 0 and 19")
	}
}
