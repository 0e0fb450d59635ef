//go:build chdb

package chmetrics

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// BenchmarkPromQL runs the same range queries on the embedded TSDB and on ClickHouse
// (chDB) over 1,000 counters with a sample every 15 s for 2 hours (480,000 samples):
//
//	CHDB_LIB_PATH=... go test -tags chdb -run '^$' -bench PromQL -benchtime 5x ./internal/store/clickhouse/chmetrics
func BenchmarkPromQL(b *testing.B) {
	ch, _ := openTest(b, Options{})
	topts := tsdb.DefaultOptions()
	topts.MinFreeBytes = 0
	topts.OutOfOrderTimeWindow = 24 * time.Hour
	ref, err := tsdb.Open(b.TempDir(), topts, nil, nil)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, ref.Close()) })

	t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	const series, samples, step = 1000, 480, 15_000
	start := time.Now()
	for _, a := range []storage.Appendable{ch, ref} {
		for chunk := 0; chunk < samples; chunk += 40 {
			app := a.Appender(context.Background())
			for i := range series {
				ls := labels.FromStrings("__name__", "requests_total", "instance", fmt.Sprint("i", i%50), "code", fmt.Sprint(200+i/50))
				for j := chunk; j < chunk+40; j++ {
					_, err := app.Append(0, ls, t0.UnixMilli()+int64(j)*step, float64(j*(i+1)))
					require.NoError(b, err)
				}
			}
			require.NoError(b, app.Commit())
		}
		b.Logf("%T: %d samples appended in %s", a, series*samples, time.Since(start).Round(time.Millisecond))
		start = time.Now()
	}

	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute})
	queries := map[string]string{
		"sum_rate":   `sum by (code) (rate(requests_total[5m]))`,
		"one_series": `rate(requests_total{instance="i7", code="203"}[5m])`,
		"regexp":     `sum(rate(requests_total{code=~"20[0-4]"}[5m]))`,
	}
	for name, qs := range queries {
		for _, st := range []struct {
			name string
			q    storage.Queryable
		}{{"tsdb", ref}, {"clickhouse", ch}} {
			b.Run(name+"/"+st.name, func(b *testing.B) {
				for b.Loop() {
					q, err := engine.NewRangeQuery(context.Background(), st.q, nil, qs, t0, t0.Add(2*time.Hour), time.Minute)
					require.NoError(b, err)
					res := q.Exec(context.Background())
					require.NoError(b, res.Err)
					q.Close()
				}
			})
		}
	}
}
