package derived_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/derived"
	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/errtracktest"
	"github.com/loupe-dev/loupe/internal/store/duck"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// BenchmarkErrorsWriter records realistic Python events (15 frames, 20 breadcrumbs) one
// per Record call through the Recorder into DuckDB, with and without the Errors writer in
// between, for events of 20 bugs (issues known after their first event) and for events
// that each make a new issue (the worst case: every write looks an issue up, and the
// lookup writes the store's pending events to DuckDB first).
func BenchmarkErrorsWriter(b *testing.B) {
	for _, derivedOn := range []bool{false, true} {
		for _, bugs := range []int{20, 0} {
			name := fmt.Sprintf("derived=%v/bugs=%d", derivedOn, bugs)
			if bugs == 0 {
				name = fmt.Sprintf("derived=%v/bugs=all-new", derivedOn)
			}
			b.Run(name, func(b *testing.B) {
				dir := b.TempDir()
				ev, err := duck.Open(filepath.Join(dir, "loupe.duckdb"), duck.DefaultOptions(), nil, prometheus.NewRegistry())
				require.NoError(b, err)
				defer ev.Close()
				ms, err := tsdb.Open(filepath.Join(dir, "metrics"), tsdb.DefaultOptions(), nil, prometheus.NewRegistry())
				require.NoError(b, err)
				defer ms.Close()
				var w errtrack.Writer = ev
				if derivedOn {
					w = derived.NewErrors(ev, ev, ms, derived.ErrorsOptions{}, nil, nil)
				}
				r, err := errtrack.NewRecorder(w, errtrack.RecorderOptions{Metrics: ms}, nil, nil)
				require.NoError(b, err)
				at := time.Now().Add(-time.Hour)
				n := 0
				b.ReportAllocs()
				for b.Loop() {
					bug := n
					if bugs > 0 {
						bug = n % bugs
					}
					e := errtracktest.PythonEvent(n, bug, at.Add(time.Duration(n)*time.Millisecond))
					if err := r.Record(context.Background(), []errtrack.Event{e}); err != nil {
						b.Fatal(err)
					}
					n++
				}
				// The events still in the store's event log, as a read would.
				_, err = ev.GetIssue(context.Background(), "0")
				require.ErrorIs(b, err, errtrack.ErrNotFound)
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
