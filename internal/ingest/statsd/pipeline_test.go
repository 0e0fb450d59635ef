package statsd

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/duck"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// TestEventsThroughPipeline stores events and service checks through Loupe's real
// pipeline into the real DuckDB log store, and reads them back with its log query.
func TestEventsThroughPipeline(t *testing.T) {
	db, err := duck.Open(filepath.Join(t.TempDir(), "loupe.duckdb"), duck.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	metrics, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, metrics.Close()) })
	p := pipeline.New(pipeline.DefaultConfig(), pipeline.Writers{Logs: db, Spans: db, Metrics: metrics}, nil, nil)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	h := newHarnessWith(t, nil, time.Now, p)

	h.sendUDP("_e{13,21}:Deploy failed|rollback to v41\\ndone|t:error|h:web-1|#service:shop,env:prod\n" +
		"_sc|db.up|1|#env:prod|m:replica lagging")
	var got []store.LogRecord
	require.Eventually(t, func() bool {
		got = got[:0]
		for rec, err := range db.QueryLogs(context.Background(), store.LogQuery{Limit: 10}) {
			require.NoError(t, err)
			got = append(got, rec)
		}
		return len(got) == 2
	}, 30*time.Second, 20*time.Millisecond)
	byType := map[any]store.LogRecord{}
	for _, r := range got {
		byType[r.Attributes["statsd.type"]] = r
	}
	ev, sc := byType["event"], byType["service_check"]
	require.Equal(t, "shop", ev.Service)
	require.Equal(t, "rollback to v41\ndone", ev.Body)
	require.Equal(t, "ERROR", ev.SeverityText)
	require.Equal(t, "Deploy failed", ev.Attributes["event.title"])
	require.Equal(t, "prod", ev.Attributes["env"])
	require.Equal(t, "web-1", ev.Resource["host.name"])
	require.Equal(t, "statsd", sc.Service)
	require.Equal(t, "replica lagging", sc.Body)
	require.Equal(t, "WARN", sc.SeverityText)
	require.Equal(t, "db.up", sc.Attributes["check.name"])
}
