package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"
	"github.com/stretchr/testify/require"
)

// TestChunkAppenderRoundTrip appends several chunks of rows with short, long, empty and
// NUL-holding strings and NULLs, and reads every value back.
func TestChunkAppenderRoundTrip(t *testing.T) {
	connector, err := duckdb.NewConnector(filepath.Join(t.TempDir(), "a.duckdb"), nil)
	require.NoError(t, err)
	db := sql.OpenDB(connector)
	defer db.Close()
	ctx := context.Background()
	_, err = db.ExecContext(ctx, `CREATE TABLE t (i BIGINT, s VARCHAR, k TINYINT, u UINTEGER, n BIGINT, m INTEGER)`)
	require.NoError(t, err)
	types, err := columnTypes(`i BIGINT, s VARCHAR, k TINYINT, u UINTEGER, n BIGINT, m INTEGER`)
	require.NoError(t, err)

	str := func(i int) string {
		switch i % 5 {
		case 0:
			return ""
		case 1:
			return "short" // inlined
		case 2:
			return "exactly12byt"
		case 3:
			return "a\x00b" + strings.Repeat("x", i%300)
		default:
			return strings.Repeat("long string ", 1+i%7000) // may exceed a block
		}
	}
	const n = 3*chunkRows + 17
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	// Two appenders, the second reusing the first one's string blocks.
	err = conn.Raw(func(dc any) error {
		var blocks [][]byte
		for _, part := range [][2]int{{0, n / 2}, {n / 2, n}} {
			a, err := newChunkAppender(dc.(driver.Conn), "t", types, blocks)
			if err != nil {
				return err
			}
			for i := part[0]; i < part[1]; i++ {
				var nv driver.Value
				if i%3 != 0 {
					nv = int64(-i)
				}
				if err := appendRow(a, []driver.Value{int64(i), str(i), int8(i % 100), uint32(i * 7), nv, int32(i)}); err != nil {
					return err
				}
			}
			if err := a.Close(); err != nil {
				return err
			}
			blocks = a.Blocks()
		}
		return nil
	})
	require.NoError(t, err)

	rows, err := db.QueryContext(ctx, `SELECT i, s, k, u, n, m FROM t ORDER BY i`)
	require.NoError(t, err)
	defer rows.Close()
	got := 0
	for rows.Next() {
		var (
			i, m int64
			s    string
			k    int8
			u    uint32
			nv   sql.NullInt64
		)
		require.NoError(t, rows.Scan(&i, &s, &k, &u, &nv, &m))
		require.Equal(t, int64(got), i)
		require.Equal(t, str(got), s, "row %d", got)
		require.Equal(t, int8(got%100), k)
		require.Equal(t, uint32(got*7), u)
		require.Equal(t, int64(got), m)
		if got%3 == 0 {
			require.False(t, nv.Valid, "row %d", got)
		} else {
			require.Equal(t, sql.NullInt64{Int64: int64(-got), Valid: true}, nv)
		}
		got++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, n, got)
}

// TestChunkAppenderRefusesMismatch checks that a table whose columns differ from the
// writer's is refused, and that a value of the wrong type is an error.
func TestChunkAppenderRefusesMismatch(t *testing.T) {
	connector, err := duckdb.NewConnector("", nil)
	require.NoError(t, err)
	db := sql.OpenDB(connector)
	defer db.Close()
	ctx := context.Background()
	_, err = db.ExecContext(ctx, `CREATE TABLE t (i BIGINT, s VARCHAR)`)
	require.NoError(t, err)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Raw(func(dc any) error {
		_, err := newChunkAppender(dc.(driver.Conn), "t", []mapping.Type{mapping.TypeBigInt, mapping.TypeBigInt}, nil)
		require.ErrorContains(t, err, "column 1")
		_, err = newChunkAppender(dc.(driver.Conn), "t", []mapping.Type{mapping.TypeBigInt}, nil)
		require.ErrorContains(t, err, "2 columns")
		a, err := newChunkAppender(dc.(driver.Conn), "t", []mapping.Type{mapping.TypeBigInt, mapping.TypeVarchar}, nil)
		require.NoError(t, err)
		require.ErrorContains(t, appendRow(a, []driver.Value{"x", "y"}), "column 0")
		return a.Close()
	}))
}

// appendRow appends one row of dynamically typed values to a, checking each: int64 for BIGINT,
// int8 for TINYINT, uint32 for UINTEGER, int32 for INTEGER, string for VARCHAR, nil for
// NULL. Only the tests use it: the writers call the typed setters, which allocate nothing.
func appendRow(a *chunkAppender, vals []driver.Value) error {
	if len(vals) != len(a.cols) {
		return fmt.Errorf("append: %d values for %d columns", len(vals), len(a.cols))
	}
	for i, v := range vals {
		ok := true
		switch x := v.(type) {
		case nil:
			a.Null(i)
		case int64:
			ok = a.cols[i].typ == mapping.TypeBigInt
			if ok {
				a.Int64(i, x)
			}
		case int8:
			ok = a.cols[i].typ == mapping.TypeTinyInt
			if ok {
				a.Int8(i, x)
			}
		case uint32:
			ok = a.cols[i].typ == mapping.TypeUInteger
			if ok {
				a.Uint32(i, x)
			}
		case int32:
			ok = a.cols[i].typ == mapping.TypeInteger
			if ok {
				a.Int32(i, x)
			}
		case string:
			ok = a.cols[i].typ == mapping.TypeVarchar
			if ok {
				a.String(i, x)
			}
		default:
			ok = false
		}
		if !ok {
			return fmt.Errorf("append: column %d (type %d) cannot take a %T", i, a.cols[i].typ, v)
		}
	}
	return a.EndRow()
}
