package logql_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

// TestAttributeFilterPushedDown: an equality on a record attribute before any parser
// reaches the store, which then returns only the rows that may match (it returned the
// whole stream before, and the Loki API paged through all of it); filters the store
// cannot take stay exact in the engine.
func TestAttributeFilterPushedDown(t *testing.T) {
	st := newTestStore(t)
	eng := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	p := logql.Params{Start: T0.Add(-time.Hour), End: T0.Add(time.Hour), Step: time.Minute, Limit: 100}
	for _, tc := range []struct {
		q            string
		lines, found int64
	}{
		{`{service_name="api"} | user_id="7"`, 1, 1},
		{`{service_name="api"} |= "GET" | user_id="7" and http_route="/users"`, 1, 1},
		{`{service_name="api"} | user_id="7" or user_id="8"`, 12, 2},               // not an equality the store can take
		{`{service_name="api"} | json | user_id="7"`, 12, 1},                       // after a parser
		{`{service_name="api"} | host_name="h1"`, 12, 12},                          // a stream label
		{`{service_name="api"} | user_id="77"`, 0, 0},                              // no such value
		{`{service_name="api"} | line_format "{{.user_id}}" | user_id="7"`, 12, 1}, // after line_format
	} {
		res, err := eng.Query(context.Background(), tc.q, p)
		require.NoError(t, err, tc.q)
		require.Equal(t, tc.found, res.Stats.Entries, tc.q)
		require.Equal(t, tc.lines, res.Stats.Lines, "%s: rows read from the store", tc.q)
	}
}
