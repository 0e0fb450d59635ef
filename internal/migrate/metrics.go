package migrate

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/loupe-dev/loupe/internal/store"
)

// copyMetrics reads every series over all time and appends its samples, oldest first
// within a series, committing every opts.SamplePage samples. Float samples (stale markers
// included) are copied; native histogram samples are counted as skipped, as the
// ClickHouse metric store refuses them (docs/scale-out.md).
func copyMetrics(ctx context.Context, src storage.Queryable, dst storage.Appendable, opts Options, c *Counts) error {
	q, err := src.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return &Error{Signal: store.SignalMetrics, Position: "opening the source", Err: err}
	}
	defer q.Close()
	ss := q.Select(ctx, false, nil, allSeries)
	app := dst.Appender(ctx)
	pending := 0
	var first, last labels.Labels // of the pending samples, for errors
	commit := func() error {
		if pending == 0 {
			return nil
		}
		if err := app.Commit(); err != nil {
			return &Error{Signal: store.SignalMetrics, Position: fmt.Sprintf("writing samples %d-%d (series %s .. %s)",
				c.Copied+1, c.Copied+int64(pending), first, last), Err: err}
		}
		c.Copied += int64(pending)
		fmt.Fprintf(opts.Progress, "metrics: %d samples of %d series copied\n", c.Copied, c.Series)
		pending = 0
		app = dst.Appender(ctx)
		return nil
	}
	var it chunkenc.Iterator
	for ss.Next() {
		s := ss.At()
		lset := s.Labels()
		c.Series++
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				c.Skipped++
				c.Note = "native histogram samples (the ClickHouse backend refuses them)"
				continue
			}
			t, v := it.At()
			if _, err := app.Append(0, lset, t, v); err != nil {
				_ = app.Rollback()
				return &Error{Signal: store.SignalMetrics, Position: fmt.Sprintf("series %s at %s", lset, time.UnixMilli(t).UTC().Format(time.RFC3339Nano)), Err: err}
			}
			if pending == 0 {
				first = lset
			}
			last = lset
			pending++
			if pending >= opts.SamplePage {
				if err := commit(); err != nil {
					return err
				}
			}
		}
		if err := it.Err(); err != nil {
			_ = app.Rollback()
			return &Error{Signal: store.SignalMetrics, Position: fmt.Sprintf("reading series %s", lset), Err: err}
		}
	}
	if err := ss.Err(); err != nil {
		_ = app.Rollback()
		return &Error{Signal: store.SignalMetrics, Position: fmt.Sprintf("listing series (after %d)", c.Series), Err: err}
	}
	return commit()
}
