package chsql

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDSNWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"clickhouse://ch:9000": "clickhouse://ch:9000/loupe",
		"clickhouse://u:p@ch1:9000,ch2:9000/default?dial_timeout=5s": "clickhouse://u:p@ch1:9000,ch2:9000/loupe?dial_timeout=5s",
	} {
		got, err := dsnWithDatabase(in, "loupe")
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := Open(ctx, "clickhouse://127.0.0.1:9000", "", "")
	require.ErrorContains(t, err, "no database")
	_, err = Open(ctx, "chdb://", "loupe", "")
	require.ErrorContains(t, err, "chdb:// needs a directory")
	_, err = Open(ctx, "clickhouse://u:secret@ho st:9000/", "loupe", "")
	require.ErrorContains(t, err, "clickhouse: bad DSN")
	require.NotContains(t, err.Error(), "secret", "the DSN may hold a password")
	_, err = Open(ctx, "clickhouse://127.0.0.1:1/?dial_timeout=200ms", "loupe", "")
	require.ErrorContains(t, err, "clickhouse: connect to")
}
