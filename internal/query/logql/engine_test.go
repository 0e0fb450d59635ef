package logql_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

// TestPushdownMatchesRows checks the store's bucket counting against the row-by-row
// evaluation (forced by a no-op stage) for steps smaller than, equal to, larger than and
// not dividing the range.
func TestPushdownMatchesRows(t *testing.T) {
	st := newTestStore(t)
	eng := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	ctx := context.Background()
	for _, op := range []string{"count_over_time", "rate", "bytes_over_time", "bytes_rate"} {
		for _, c := range []struct{ rng, step string }{{"1m", "1m"}, {"1m", "15s"}, {"30s", "1m"}, {"45s", "20s"}, {"7s", "3s"}, {"2m", "1s"}} {
			name := fmt.Sprintf("%s/%s/%s", op, c.rng, c.step)
			step, err := time.ParseDuration(c.step)
			require.NoError(t, err)
			p := logql.Params{Start: T0.Add(-10 * time.Second), End: T0.Add(3 * time.Minute), Step: step}
			sel := `{service_name=~"api|worker|nginx"} |= "e"`
			pushed, err := eng.Query(ctx, fmt.Sprintf("%s(%s [%s])", op, sel, c.rng), p)
			require.NoError(t, err, name)
			require.True(t, pushed.Stats.PushedDown, name)
			rows, err := eng.Query(ctx, fmt.Sprintf("%s(%s | drop nothing [%s])", op, sel, c.rng), p)
			require.NoError(t, err, name)
			require.False(t, rows.Stats.PushedDown, name)
			require.NotEmpty(t, rows.Series, name)
			require.Equal(t, rows.Series, pushed.Series, name)
		}
	}
}

func TestGrafanaVolumeQueryIsPushedDown(t *testing.T) {
	st := newTestStore(t)
	eng := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	res, err := eng.Query(context.Background(), `sum by (level, detected_level) (count_over_time({job="nginx"} | drop __error__ [1m]))`,
		logql.Params{Start: T0, End: T0.Add(2 * time.Minute), Step: time.Minute})
	require.NoError(t, err)
	require.True(t, res.Stats.PushedDown)
	require.NotEmpty(t, res.Series)

	res, err = eng.Query(context.Background(), `count_over_time({job="nginx"} |= "GET" | __error__="" [1m])`,
		logql.Params{Start: T0, End: T0.Add(2 * time.Minute), Step: time.Minute})
	require.NoError(t, err)
	require.True(t, res.Stats.PushedDown)
	res, err = eng.Query(context.Background(), `count_over_time({job="nginx"} | x > 1 | __error__="" [1m])`,
		logql.Params{Start: T0, End: T0.Add(2 * time.Minute), Step: time.Minute})
	require.NoError(t, err)
	require.False(t, res.Stats.PushedDown)
}

func TestInstantVectorAndLimits(t *testing.T) {
	st := newTestStore(t)
	opts := logql.DefaultOptions()
	opts.MaxSteps = 10
	eng := logql.NewEngine(st.LogQL(), opts, nil)
	ctx := context.Background()
	_, err := eng.Query(ctx, `count_over_time({job="nginx"}[1m])`, logql.Params{Start: T0, End: T0.Add(time.Hour), Step: time.Minute})
	require.ErrorContains(t, err, "maximum resolution")
	_, err = eng.Query(ctx, `{job="nginx"}`, logql.Params{Start: T0, End: T0.Add(time.Hour), Step: time.Minute, Limit: 1 << 20})
	require.ErrorContains(t, err, "over the maximum")
	_, err = eng.Query(ctx, `{job="nginx"}`, logql.Params{Start: T0.Add(time.Hour), End: T0, Step: time.Minute})
	require.ErrorContains(t, err, "before start")
}

// TestManyStreams checks the path where the selector matches more streams than the store
// is given by id (the engine then filters rows by stream itself).
func TestManyStreams(t *testing.T) {
	st := newTestStore(t)
	small := logql.DefaultOptions()
	small.MaxStreamFilter = 1
	a := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	b := logql.NewEngine(st.LogQL(), small, nil)
	p := logql.Params{Start: T0, End: T0.Add(3 * time.Minute), Step: 30 * time.Second, Limit: 3}
	for _, q := range []string{`{job="nginx"}`, `{service_name=~"api|nginx"} |= "GET"`, `sum by (env) (count_over_time({job="nginx"}[1m]))`} {
		want, err := a.Query(context.Background(), q, p)
		require.NoError(t, err)
		got, err := b.Query(context.Background(), q, p)
		require.NoError(t, err)
		require.Equal(t, want.Streams, got.Streams, q)
		require.Equal(t, want.Series, got.Series, q)
		require.True(t, len(got.Streams) > 0 || len(got.Series) > 0, q)
	}
}
