package duck

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/storetest"
)

func openTest(t *testing.T, dir string) storetest.Store {
	t.Helper()
	s, err := Open(filepath.Join(dir, "loupe.duckdb"), DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openTest)
}

func TestMetricsAndDiskBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s, err := Open(path, DefaultOptions(), nil, reg)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.WriteLogs(ctx, genLogs(0, 5000)))
	require.NoError(t, s.WriteTraces(ctx, genTraces(0, 3000)))
	require.Equal(t, 5000.0, testutil.ToFloat64(s.metrics.rows.WithLabelValues("logs")))
	require.Equal(t, 3000.0, testutil.ToFloat64(s.metrics.rows.WithLabelValues("spans")))
	require.Equal(t, 2, testutil.CollectAndCount(s.metrics.latency))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "second Close")

	s, err = Open(path, DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	defer s.Close()
	sizes, err := s.DiskBytes(ctx)
	require.NoError(t, err)
	require.Positive(t, sizes[store.SignalLogs])
	require.Positive(t, sizes[store.SignalSpans])
	require.LessOrEqual(t, sizes[store.SignalLogs]+sizes[store.SignalSpans], fileBytes(path))
}

func TestOpenBadOptions(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "a.duckdb"), Options{MemoryLimit: "lots"}, nil, nil)
	require.ErrorContains(t, err, "memory_limit")
	_, err = Open(filepath.Join(dir, "b.duckdb"), Options{Threads: -1}, nil, nil)
	require.ErrorContains(t, err, "threads")
	_, err = Open(filepath.Join(dir, "no", "such", "dir", "c.duckdb"), DefaultOptions(), nil, nil)
	require.Error(t, err)
}

func TestWriteAfterClose(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.Error(t, s.WriteLogs(context.Background(), genLogs(0, 10)))
}

// TestBatchIsAtomic fails a batch after it appended rows to one day partition and checks
// that none of them became visible, and that the writer still works afterwards.
func TestBatchIsAtomic(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	rows, days, _, err := logRows(genLogs(0, 100), time.Now())
	require.NoError(t, err)
	require.Len(t, days, 1)
	other := days[0] + 1
	err = s.logs.writeBatch(ctx, []int64{days[0], other}, func(day int64, a *chunkAppender) error {
		if day == other {
			return errors.New("injected failure")
		}
		for _, r := range rows {
			if err := r.appendTo(a); err != nil {
				return err
			}
		}
		return nil
	}, nil, nil)
	require.ErrorContains(t, err, "injected failure")
	n := 0
	for _, err := range s.QueryLogs(ctx, store.LogQuery{Limit: 1000}) {
		require.NoError(t, err)
		n++
	}
	require.Zero(t, n, "rows of a failed batch are visible")

	require.NoError(t, s.WriteLogs(ctx, genLogs(0, 100)))
	for _, err := range s.QueryLogs(ctx, store.LogQuery{Limit: 1000}) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 100, n)
}

func TestOpenRefusesOldLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	s, err := Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	_, err = s.db.Exec("CREATE TABLE logs_20260101 (ts BIGINT, attributes VARCHAR)")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = Open(path, DefaultOptions(), nil, nil)
	require.ErrorContains(t, err, "logs_20260101 has the attribute layout of an older Loupe")
}

// TestSpanTimesStored checks the span times the store refuses: it keeps the end as a
// duration, which cannot be negative or reach past int64 nanoseconds.
func TestSpanTimesStored(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	td := genTraces(0, 1)
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	sp.SetEndTimestamp(sp.StartTimestamp() - 1)
	require.ErrorContains(t, s.WriteTraces(ctx, td), "end before start")
	sp.SetEndTimestamp(1 << 63)
	require.ErrorContains(t, s.WriteTraces(ctx, td), "past the year 2262")
	sp.SetEndTimestamp(sp.StartTimestamp() + 1234567)
	require.NoError(t, s.WriteTraces(ctx, td))
	got, err := s.GetTrace(ctx, sp.TraceID())
	require.NoError(t, err)
	require.Equal(t, sp.EndTimestamp(), got.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).EndTimestamp())
}

// TestOpenFileOfDefaultStorageVersion opens a database file of DuckDB 1.x's default
// storage version (v1.0.0; Loupe created them so before it asked for the latest), writes
// and reads it. The version is named: DuckDB 2.0's own default is its new format.
func TestOpenFileOfDefaultStorageVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loupe.duckdb")
	connector, err := duckdb.NewConnector(path+"?storage_compatibility_version=v1.0.0", nil)
	require.NoError(t, err)
	db := sql.OpenDB(connector)
	_, err = db.Exec("CREATE TABLE other (a INTEGER)")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NoError(t, connector.Close())

	s, err := Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	require.Empty(t, s.logs.zstd, "zstd text columns need storage version 1.2")
	ctx := context.Background()
	require.NoError(t, s.WriteLogs(ctx, genLogs(0, 10)))
	n := 0
	for _, err := range s.QueryLogs(ctx, store.LogQuery{Limit: 100}) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 10, n)
	require.NoError(t, s.Close())
}

// TestNewFilesCompressTextWithZstd checks that a new file gets zstd on its long text
// columns once enough rows are checkpointed.
func TestNewFilesCompressTextWithZstd(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loupe.duckdb"), DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer s.Close()
	require.NotEmpty(t, s.logs.zstd)
	ctx := context.Background()
	for i := range 20 {
		require.NoError(t, s.WriteLogs(ctx, genLogs(i*1000, 1000)))
	}
	_, err = s.db.ExecContext(ctx, "CHECKPOINT")
	require.NoError(t, err)
	tables := s.logs.tables(0, 0)
	require.NotEmpty(t, tables)
	var comp string
	require.NoError(t, s.db.QueryRowContext(ctx, `SELECT string_agg(DISTINCT compression, ',') FROM pragma_storage_info(?)
		WHERE column_name = 'body' AND segment_type = 'VARCHAR'`, tables[0]).Scan(&comp))
	require.Equal(t, "ZSTD", comp)
}
