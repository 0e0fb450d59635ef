package duck

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/storetest"
)

func TestProfileConformance(t *testing.T) {
	storetest.RunProfiles(t, func(t *testing.T, dir string) storetest.ProfileStore {
		t.Helper()
		s, err := Open(filepath.Join(dir, "loupe.duckdb"), DefaultOptions(), nil, prometheus.NewRegistry())
		require.NoError(t, err)
		return s
	})
}

// DuckDB refuses text that is not UTF-8: such names are stored with U+FFFD instead of
// failing the write (and the writes grouped with it).
func TestProfileInvalidUTF8(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	typ := store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	at := time.Date(2026, 11, 18, 1, 0, 0, 0, time.UTC)
	p := store.Profile{Type: typ, Labels: map[string]string{"service_name": "a\xffb"}, Time: at, Samples: []store.ProfileSample{
		{Stack: []store.Frame{{Function: "main.\xfe", File: "x\xff.go"}, {Function: "main.main"}}, Value: 5, SpanID: "00000000000000a1", SpanName: "GET \xff"},
	}}
	require.NoError(t, s.WriteProfiles(ctx, []store.Profile{p}))
	got, err := s.MergeStacks(ctx, store.ProfileSelector{Type: typ.ID()})
	require.NoError(t, err)
	require.Equal(t, []store.StackValue{{Stack: []store.Frame{{Function: "main.\uFFFD", File: "x\uFFFD.go"}, {Function: "main.main"}}, Value: 5}}, got)
	spans, err := s.SpansWithFunction(ctx, store.ProfileSelector{Type: typ.ID()}, "main.main", 10)
	require.NoError(t, err)
	require.Equal(t, []store.SpanValue{{SpanID: "00000000000000a1", SpanName: "GET \uFFFD", Value: 5}}, spans)
	values, err := s.ProfileLabelValues(ctx, store.ProfileSelector{}, "service_name")
	require.NoError(t, err)
	require.Equal(t, []string{"a\uFFFDb"}, values)
	p.Type.Name = "cpu\xff"
	require.ErrorContains(t, s.WriteProfiles(ctx, []store.Profile{p}), "UTF-8")
}

func TestProfileDiskBytesAndRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s, err := Open(path, DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	ctx := context.Background()
	typ := store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds"}
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	for d := range 3 {
		var ps []store.Profile
		for i := range 50 {
			p := store.Profile{Type: typ, Labels: map[string]string{"service_name": "api"}, Time: day.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*time.Minute)}
			for j := range 40 {
				p.Samples = append(p.Samples, store.ProfileSample{Stack: []store.Frame{{Function: fmt.Sprintf("main.f%d", j)}, {Function: "main.main"}}, Value: int64(i + j + 1)})
			}
			ps = append(ps, p)
		}
		require.NoError(t, s.WriteProfiles(ctx, ps))
	}
	require.NoError(t, s.Close())
	s, err = Open(path, DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	defer s.Close()
	sizes, err := s.DiskBytes(ctx)
	require.NoError(t, err)
	require.Positive(t, sizes[store.SignalProfiles])
	require.LessOrEqual(t, sizes[store.SignalProfiles], fileBytes(path))
	require.NoError(t, s.DropBefore(ctx, store.SignalProfiles, day.Add(36*time.Hour)))
	// Every table of the first day is gone, the other days' stay.
	var left []string
	rows, err := s.db.QueryContext(ctx, "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'profile') ORDER BY 1")
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		left = append(left, n)
	}
	require.NoError(t, rows.Err())
	require.Len(t, left, 11, "%v", left) // profile_types and 5 tables for each of 2 days
	for _, n := range left {
		require.NotContains(t, n, "20261118")
	}
	after, err := s.DiskBytes(ctx)
	require.NoError(t, err)
	require.Less(t, after[store.SignalProfiles], sizes[store.SignalProfiles])
}
