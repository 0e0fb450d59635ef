//go:build chdb

package chsql_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// While ClickHouse is busy (chDB's engine held by a long query), inserts through an
// InsertLimiter's Conn are refused with store.ErrBusy naming the limit: the caller beyond
// insert_concurrency + insert_queue at once, the others when insert_timeout passes.
// Nothing refused is stored; once the engine is free, inserts are written. Queries are not
// limited.
func TestInsertLimiterOnBusyChDB(t *testing.T) {
	c := chsqltest.Open(t)
	ctx := context.Background()
	require.NoError(t, c.Exec(ctx, "CREATE TABLE t (n Int64) ENGINE = MergeTree ORDER BY n"))
	reg := prometheus.NewRegistry()
	lim := chsql.NewInsertLimiter(chsql.InsertLimits{Concurrency: 1, Queue: 1, Timeout: 2 * time.Second}, reg, nil)
	lc := lim.Conn(c, "logs")

	busy := make(chan error, 1)
	go func() {
		busy <- c.Exec(ctx, "SELECT sleepEachRow(0.5) FROM numbers(10) SETTINGS max_block_size = 1 FORMAT Null")
	}()
	// Busy: a query with a short deadline no longer gets the engine.
	require.Eventually(t, func() bool {
		qctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		rows, err := c.Query(qctx, "SELECT 1")
		if err == nil {
			rows.Close()
		}
		return errors.Is(err, context.DeadlineExceeded)
	}, 5*time.Second, time.Millisecond)

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = lc.Insert(ctx, "t", []string{"n"}, [][]any{{int64(i)}})
		}()
	}
	wg.Wait()
	queue := 0
	for _, err := range errs {
		require.ErrorIs(t, err, store.ErrBusy)
		require.ErrorContains(t, err, "clickhouse logs inserts: ")
		if strings.Contains(err.Error(), "insert_queue 1") {
			queue++
		} else {
			require.ErrorContains(t, err, "storage.clickhouse.insert_timeout 2s")
		}
	}
	require.Equal(t, 1, queue, "%v", errs)
	// The self-metrics: the refusals by reason, nothing left in flight.
	mfs, err := reg.Gather()
	require.NoError(t, err)
	refused := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			switch mf.GetName() {
			case "loupe_clickhouse_inserts_refused_total":
				refused[m.GetLabel()[0].GetValue()] += m.GetCounter().GetValue() // labels sorted: reason, signal
			case "loupe_clickhouse_inserts_in_flight", "loupe_clickhouse_inserts_waiting":
				require.Zero(t, m.GetGauge().GetValue(), mf.GetName())
			}
		}
	}
	require.Equal(t, 1.0, refused["queue"])
	require.Equal(t, 2.0, refused["wait"]+refused["timeout"], "%v", refused)

	require.NoError(t, <-busy)
	require.NoError(t, lc.Insert(ctx, "t", []string{"n"}, [][]any{{int64(7)}}))
	rows, err := lc.Query(ctx, "SELECT groupArray(n) FROM t")
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var got []int64
	require.NoError(t, rows.Scan(&got))
	require.Equal(t, []int64{7}, got)
}
