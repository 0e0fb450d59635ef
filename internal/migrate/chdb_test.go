//go:build chdb

package migrate

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chlogs"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chmetrics"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chprofiles"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chspans"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// TestCopyIntoChDB copies logs, spans and metrics from the embedded stores into the
// ClickHouse ones on chDB and counts them back through the ClickHouse readers.
// LOUPE_MIGRATE_SCALE multiplies the amounts (1: 20,000 records, 2,000 traces, 20,000
// samples), for the figures of docs/scale-out.md; the test logs the copy's timings.
func TestCopyIntoChDB(t *testing.T) {
	scale := 1
	if v := os.Getenv("LOUPE_MIGRATE_SCALE"); v != "" {
		var err error
		scale, err = strconv.Atoi(v)
		require.NoError(t, err, "LOUPE_MIGRATE_SCALE")
	}
	ctx := context.Background()
	src := openSide(t)
	nLogs, nTraces, nSeries := 20_000*scale, 2_000*scale, 200*scale
	for range scale {
		writeLogs(t, src.events, 20_000)
	}
	writeTraces(t, src.events, nTraces)
	writeSamples(t, src.metrics, nSeries, 100)

	conn := chsqltest.Open(t)
	schema := chsqltest.Schema(conn)
	logger := slog.New(slog.DiscardHandler)
	logs, err := chlogs.New(ctx, conn, schema, chlogs.Options{}, logger)
	require.NoError(t, err)
	spans, err := chspans.New(ctx, conn, schema, chspans.Options{}, logger)
	require.NoError(t, err)
	metrics, err := chmetrics.New(ctx, conn, schema, chmetrics.Options{}, logger)
	require.NoError(t, err)

	var progress bytes.Buffer
	began := time.Now()
	counts, err := Run(ctx, Source{Logs: src.events, Spans: src.events, Metrics: src.metrics},
		Destination{Logs: logs, Spans: spans, Metrics: metrics}, Options{Progress: &progress})
	require.NoError(t, err, progress.String())
	t.Logf("copied in %s:", time.Since(began).Round(time.Millisecond))
	for _, c := range counts {
		t.Log(c)
	}
	require.Len(t, counts, 3)
	require.EqualValues(t, nLogs, counts[0].Copied)
	require.EqualValues(t, 2*nTraces, counts[1].Copied)
	require.EqualValues(t, nSeries*100, counts[2].Copied)

	// Read back through the ClickHouse readers.
	lc, err := logs.CountLogs(ctx, store.LogCountQuery{Step: 24 * time.Hour})
	require.NoError(t, err)
	var n int
	for _, c := range lc {
		n += int(c.Count)
	}
	require.Equal(t, nLogs, n)
	empty, err := logsEmpty(ctx, logs)
	require.NoError(t, err)
	require.False(t, empty)
	for _, i := range []int{0, 998, 999, nTraces - 1} {
		td, err := spans.GetTrace(ctx, pcommon.TraceID{9, byte(i), byte(i >> 8)})
		require.NoError(t, err, i)
		require.Equal(t, 2, td.SpanCount(), i)
	}
	services, err := spans.Services(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"svc-0", "svc-1"}, services)
	got := allSamples(t, metrics)
	require.Len(t, got, nSeries)
	for name, vs := range got {
		require.Len(t, vs, 100, name)
		require.True(t, strings.Contains(name, "requests_total"), name)
	}
}

// TestCopyProfilesIntoChDB copies the profiles of profilePushes from the embedded store
// into the ClickHouse one on chDB, which then answers every query as the source does.
func TestCopyProfilesIntoChDB(t *testing.T) {
	ctx := context.Background()
	src := openSide(t)
	n := 0
	for _, push := range profilePushes(80) {
		require.NoError(t, src.events.WriteProfiles(ctx, push))
		n += len(push)
	}
	conn := chsqltest.Open(t)
	profiles, err := chprofiles.New(ctx, conn, chsqltest.Schema(conn), chprofiles.Options{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	empty, err := profilesEmpty(ctx, profiles)
	require.NoError(t, err)
	require.True(t, empty)

	var progress bytes.Buffer
	counts, err := Run(ctx, Source{Profiles: src.events}, Destination{Profiles: profiles}, Options{Progress: &progress, ProfilePage: 40})
	require.NoError(t, err, progress.String())
	t.Log(progress.String())
	require.Len(t, counts, 1)
	require.EqualValues(t, n, counts[0].Copied)
	requireSameProfiles(t, src.events, profiles)

	_, err = Run(ctx, Source{Profiles: src.events}, Destination{Profiles: profiles}, Options{})
	require.ErrorContains(t, err, "migrate profiles: checking the destination: the destination already holds profiles")
}
