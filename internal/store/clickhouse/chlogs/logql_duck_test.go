//go:build chdb

package chlogs_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/query/logql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chlogs"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// TestLogQLAgainstDuckDB runs the same LogQL queries through the engine over the embedded
// backend (DuckDB) and over this store (chDB), both filled with the same records, and
// compares the answers: logql's case file, then queries over the edge-case batch
// (line filters, label filters on attribute values, parsers). This links DuckDB into
// the package's test binary (an external test package, so that the store itself does not
// import it).
func TestLogQLAgainstDuckDB(t *testing.T) {
	ctx := context.Background()
	dk, err := duck.Open(filepath.Join(t.TempDir(), "t.duckdb"), duck.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = dk.Close() })
	conn := chsqltest.Open(t)
	ch, err := chlogs.New(ctx, conn, chsqltest.Schema(conn), chlogs.Options{}, nil)
	require.NoError(t, err)
	for _, write := range []func(context.Context, plog.Logs) error{dk.WriteLogs, ch.WriteLogs} {
		chlogs.WriteLogQLData(t, write)
		require.NoError(t, write(ctx, chlogs.EdgeLogs()))
	}
	want := logql.NewEngine(dk.LogQL(), logql.DefaultOptions(), nil)
	got := logql.NewEngine(ch.LogQL(), logql.DefaultOptions(), nil)

	cases := chlogs.ReadLogQLCases(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := logql.Params{Start: t0, End: t0.Add(time.Minute), Step: 10 * time.Second, Limit: 100}
	for _, q := range edgeQueries {
		cases = append(cases, chlogs.LogQLCase{Query: q, Params: p})
		fwd := p
		fwd.Forward, fwd.Limit = true, 3
		cases = append(cases, chlogs.LogQLCase{Query: q, Params: fwd})
	}
	agree, empty, errs := 0, 0, 0
	for _, c := range cases {
		w, werr := want.Query(ctx, c.Query, c.Params)
		g, gerr := got.Query(ctx, c.Query, c.Params)
		if werr == nil && len(chlogs.RenderResult(w)) == 0 {
			empty++
		}
		if werr != nil || gerr != nil {
			errs++
			if !assertSameError(t, c.Query, werr, gerr) {
				continue
			}
		} else if !assertSameResult(t, c.Query, w, g) {
			continue
		}
		agree++
	}
	t.Logf("%d of %d queries agree (%d with an empty answer, %d with an error)", agree, len(cases), empty, errs)
}

func assertSameError(t *testing.T, q string, want, got error) bool {
	t.Helper()
	if want == nil || got == nil || want.Error() != got.Error() {
		t.Errorf("query %s: DuckDB error %v, chDB error %v", q, want, got)
		return false
	}
	return true
}

func assertSameResult(t *testing.T, q string, want, got *logql.Result) bool {
	t.Helper()
	w, g := strings.Join(chlogs.RenderResult(want), "\n"), strings.Join(chlogs.RenderResult(got), "\n")
	if w != g || want.Type != got.Type || want.Stats.PushedDown != got.Stats.PushedDown {
		t.Errorf("query %s:\nDuckDB (%s, pushed down %v):\n%s\nchDB (%s, pushed down %v):\n%s",
			q, want.Type, want.Stats.PushedDown, w, got.Type, got.Stats.PushedDown, g)
		return false
	}
	return true
}

// edgeQueries run over the edge-case batch (service "edge", chlogs' EdgeLogs), as log
// queries and, through count_over_time, as pushed-down metric queries.
var edgeQueries = func() []string {
	sels := []string{
		`{service_name="edge"}`,
		`{service_name="edge"} |= "GET"`,
		`{service_name="edge"} |= "get"`,
		`{service_name="edge"} != "a"`,
		`{service_name="edge"} |= "'"`,
		`{service_name="edge"} |= "\\"`,
		`{service_name="edge"} |= "%"`,
		`{service_name="edge"} |= "_"`,
		`{service_name="edge"} |= "Straße"`,
		`{service_name="edge"} |= "image" or "done"`,
		`{service_name="edge"} |~ "two.lines"`,
		`{service_name="edge"} |~ "(?s)two.lines"`,
		`{service_name="edge"} |~ "^$"`,
		`{service_name="edge"} |~ "(?i)strasse"`,
		`{service_name="edge"} !~ "a.b"`,
		`{service_name="edge"} | x="2"`,
		`{service_name="edge"} | x="1.5"`,
		`{service_name="edge"} | x="true"`,
		`{service_name="edge"} | x="AAEC"`,
		`{service_name="edge"} | x="{\"a\":2}"`,
		`{service_name="edge"} | x="[\"2\"]"`,
		`{service_name="edge"} | a_b="1"`,
		`{service_name="edge"} | k="v1" | x="2"`,
		`{service_name="edge"} | x > 1`,
		`{service_name="edge"} | logfmt`,
		`{service_name="edge"} | json`,
	}
	out := sels
	for _, s := range sels {
		out = append(out, `sum by (k) (count_over_time(`+s+` | __error__="" [20s]))`)
	}
	return out
}()
