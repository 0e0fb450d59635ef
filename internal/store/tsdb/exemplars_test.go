package tsdb

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// appendExemplars appends n exemplars (n/100 per series of 100) through the store's
// Appender, one commit per series, with timestamps from t0.
func appendExemplars(t *testing.T, s *Store, n int, t0 int64) {
	t.Helper()
	for series := range 100 {
		app := s.Appender(context.Background())
		ls := labels.FromStrings(labels.MetricName, "req_total", "series", fmt.Sprint(series))
		for i := range n / 100 {
			ts := t0 + int64(i)
			ref, err := app.Append(0, ls, ts, float64(i))
			require.NoError(t, err)
			_, err = app.AppendExemplar(ref, ls, exemplar.Exemplar{
				Labels: labels.FromStrings("trace_id", fmt.Sprintf("%032x", series*n+i)), Value: 1, Ts: ts, HasTs: true,
			})
			require.NoError(t, err)
		}
		require.NoError(t, app.Commit())
	}
}

// countExemplars returns how many exemplars the store holds.
func countExemplars(t *testing.T, s *Store) int {
	t.Helper()
	q, err := s.ExemplarQuerier(context.Background())
	require.NoError(t, err)
	res, err := q.Select(math.MinInt64, math.MaxInt64, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "req_total")})
	require.NoError(t, err)
	n := 0
	for _, r := range res {
		n += len(r.Exemplars)
	}
	return n
}

// The exemplar ring starts small when the TSDB holds none, grows to hold what arrives up
// to MaxExemplars, and keeps its exemplars across a restart (the WAL replays them into a
// ring opened at full size).
func TestExemplarRingGrows(t *testing.T) {
	opts := DefaultOptions()
	opts.MaxExemplars = 30_000
	dir := t.TempDir()
	s, err := Open(dir, opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	require.Equal(t, int64(minExemplars), s.exemplars.size.Load(), "an empty TSDB starts with the small ring")

	t0 := time.Now().Add(-time.Hour).UnixMilli()
	appendExemplars(t, s, 20_000, t0)
	require.Equal(t, 20_000, countExemplars(t, s), "the ring grew to keep every exemplar")
	require.NoError(t, s.Close())

	s, err = Open(dir, opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.Equal(t, 20_000, countExemplars(t, s), "the exemplars survive a restart")
	require.Equal(t, int64(30_000), s.exemplars.size.Load())

	appendExemplars(t, s, 20_000, t0+20_000)
	require.Equal(t, 30_000, countExemplars(t, s), "the ring holds at most MaxExemplars")
}

func TestExemplarRingDisabled(t *testing.T) {
	opts := DefaultOptions()
	opts.MaxExemplars = 0
	s, _, _ := openTest(t, opts)
	require.Nil(t, s.exemplars)
	appendExemplars(t, s, 100, time.Now().Add(-time.Hour).UnixMilli())
	require.Zero(t, countExemplars(t, s))
}
