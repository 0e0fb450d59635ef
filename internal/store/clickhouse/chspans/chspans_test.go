//go:build chdb

package chspans

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
	"github.com/loupe-dev/loupe/internal/store/storetest"
)

// newStore opens a store on conn's database.
func newStore(t testing.TB, conn chsql.Conn) *Store {
	t.Helper()
	s, err := New(context.Background(), conn, chsqltest.Schema(conn), Options{}, nil)
	require.NoError(t, err)
	return s
}

func TestTraceConformance(t *testing.T) {
	storetest.RunTraces(t, func(t *testing.T, dir string) storetest.TraceStore {
		return newStore(t, chsqltest.OpenDir(t, dir))
	})
}
