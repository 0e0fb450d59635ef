package duck

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

// layoutProfile is a profile of two stacks sharing a caller, at minute i of the day.
func layoutProfile(typ store.ProfileType, day time.Time, i int) store.Profile {
	return store.Profile{Type: typ, Labels: map[string]string{"service_name": "api"}, Time: day.Add(time.Duration(i) * time.Minute),
		Samples: []store.ProfileSample{
			{Stack: []store.Frame{{Function: "main.work", File: "main.go"}, {Function: "main.main", File: "main.go"}}, Value: 3},
			{Stack: []store.Frame{{Function: "main.idle", File: "main.go"}, {Function: "main.main", File: "main.go"}}, Value: 1},
		}}
}

func tableRows(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	require.NoError(t, s.db.QueryRow("SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// The hashes of stacks and functions are not stored: after a restart the write path
// computes them from the stored names, and the same stacks get no new rows.
func TestProfileStacksFoundAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	ctx := context.Background()
	typ := store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds"}
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		s, err := Open(path, DefaultOptions(), nil, nil)
		require.NoError(t, err)
		require.NoError(t, s.WriteProfiles(ctx, []store.Profile{layoutProfile(typ, day, i)}))
		require.Equal(t, 2, tableRows(t, s, "profile_stacks_20261118"))
		require.Equal(t, 3, tableRows(t, s, "profile_functions_20261118"))
		got, err := s.MergeStacks(ctx, store.ProfileSelector{Type: typ.ID()})
		require.NoError(t, err)
		require.ElementsMatch(t, []store.StackValue{
			{Stack: layoutProfile(typ, day, 0).Samples[0].Stack, Value: int64(3 * (i + 1))},
			{Stack: layoutProfile(typ, day, 0).Samples[1].Stack, Value: int64(i + 1)},
		}, got)
		require.NoError(t, s.Close())
	}
}

// A day whose stacks and functions tables have hash columns, as days written before
// they were left out do, is still written (hashes included) and found after a restart.
func TestProfileDayWithHashColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	ctx := context.Background()
	typ := store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds"}
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	s, err := Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	for _, ddl := range []string{
		"CREATE TABLE profile_stacks_20261118 (id INTEGER NOT NULL, hash BIGINT NOT NULL, frames BLOB NOT NULL)",
		"CREATE TABLE profile_functions_20261118 (id INTEGER NOT NULL, hash BIGINT NOT NULL, name VARCHAR NOT NULL, file VARCHAR NOT NULL)",
	} {
		_, err := s.db.ExecContext(ctx, ddl)
		require.NoError(t, err)
	}
	require.NoError(t, s.WriteProfiles(ctx, []store.Profile{layoutProfile(typ, day, 0)}))
	var zero int
	require.NoError(t, s.db.QueryRow("SELECT count(*) FROM profile_stacks_20261118 WHERE hash = 0").Scan(&zero))
	require.Zero(t, zero)
	require.NoError(t, s.Close())

	s, err = Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.WriteProfiles(ctx, []store.Profile{layoutProfile(typ, day, 1)}))
	require.Equal(t, 2, tableRows(t, s, "profile_stacks_20261118"))
	require.Equal(t, 3, tableRows(t, s, "profile_functions_20261118"))
	got, err := s.MergeStacks(ctx, store.ProfileSelector{Type: typ.ID()})
	require.NoError(t, err)
	require.ElementsMatch(t, []store.StackValue{
		{Stack: layoutProfile(typ, day, 0).Samples[0].Stack, Value: 6},
		{Stack: layoutProfile(typ, day, 0).Samples[1].Stack, Value: 2},
	}, got)
}
