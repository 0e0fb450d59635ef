//go:build chdb

package chmetrics

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/testutil"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// TestPromQLTestSuite runs Prometheus' own PromQL acceptance scripts
// (promql/promqltest/testdata/*.test) over the ClickHouse store. Each eval is a subtest of
// its own ("<file>/line N/<expr>"); each clear starts an empty store (a tenant of its own
// in the file's database). The store refuses native histograms, so the test's appender
// drops them (including load_with_nhcb's copies of classic histograms) rather than failing
// the load of the float series beside them: the evals that read them fail instead.
//
// By default only the files in passingFiles run, all of whose evals pass. With
// LOUPE_PROMQLTEST_ALL=1 every file runs, for the count of passing evals that
// docs/scale-out.md reports:
//
//	LOUPE_PROMQLTEST_ALL=1 go test -tags chdb -run PromQLTestSuite -json . | grep -c '"Action":"pass".*line_'
func TestPromQLTestSuite(t *testing.T) {
	dir := promqltestData(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.test"))
	require.NoError(t, err)
	if len(files) == 0 {
		t.Skipf("no promqltest scripts in %s (module cache not at the usual place)", dir)
	}
	parser.EnableExperimentalFunctions = true
	parser.ExperimentalDurationExpr = true
	t.Cleanup(func() {
		parser.EnableExperimentalFunctions = false
		parser.ExperimentalDurationExpr = false
	})
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	all := os.Getenv("LOUPE_PROMQLTEST_ALL") == "1"
	for _, f := range files {
		name := filepath.Base(f)
		if !all && !slices.Contains(passingFiles, name) {
			continue
		}
		content, err := os.ReadFile(f)
		require.NoError(t, err)
		t.Run(name, func(t *testing.T) {
			_, conn := openTest(t, Options{})
			var segment int
			newStorage := func(tt testutil.T) storage.Storage {
				segment++
				s, err := New(context.Background(), conn, chsqltest.Schema(conn), Options{Tenant: fmt.Sprint("segment-", segment)}, nil)
				require.NoError(tt, err)
				return testStorage{s}
			}
			promqltest.RunTestWithStorage(t, string(content), engine, newStorage)
		})
	}
}

// passingFiles are the scripts all of whose evals pass on the ClickHouse store.
var passingFiles = []string{
	"at_modifier.test", "collision.test", "duration_expression.test", "literals.test",
	"name_label_dropping.test", "range_queries.test", "selectors.test", "staleness.test",
	"trig_functions.test", "type_and_unit.test",
}

// testStorage is the store of one script segment. Its appender drops native histograms.
type testStorage struct{ *Store }

func (s testStorage) Appender(ctx context.Context) storage.Appender {
	return floatsOnly{s.Store.Appender(ctx)}
}

type floatsOnly struct{ storage.Appender }

func (floatsOnly) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, nil
}

// promqltestData is the directory of the scripts: beside promqltest's source, whose path
// the binary records (empty when built with -trimpath).
func promqltestData(t *testing.T) string {
	t.Helper()
	fn := runtime.FuncForPC(reflect.ValueOf(promqltest.RunTest).Pointer())
	require.NotNil(t, fn)
	file, _ := fn.FileLine(fn.Entry())
	return filepath.Join(filepath.Dir(file), "testdata")
}
