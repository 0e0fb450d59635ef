//go:build chdb

package chprofiles

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
	"github.com/loupe-dev/loupe/internal/store/storetest"
)

// openStore opens the store on the database of dir, so that the suite's "reopen" case
// sees the data of the first open.
func openStore(t *testing.T, dir string) storetest.ProfileStore {
	conn := chsqltest.OpenDir(t, dir)
	s, err := New(context.Background(), conn, chsqltest.Schema(conn), Options{}, nil)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunProfiles(t, openStore)
}
