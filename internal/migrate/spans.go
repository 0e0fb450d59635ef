package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// findLimit is the most traces one FindTraces call returns (store.TraceQuery's cap).
const findLimit = 1000

// copySpans walks the traces from the most recent start back, a FindTraces page at a
// time: each page asks for the traces with a span starting before the oldest start of
// the page before (inclusive, as several traces may start at the same nanosecond), so a
// trace can be found twice and a set of the ids copied skips it then. Every trace is
// read whole with GetTrace and written in batches of opts.TracePage traces.
//
// Each page searches every span older than its bound: on a large store that is
// quadratic in the number of pages (docs/scale-out.md gives the figures measured).
func copySpans(ctx context.Context, src store.TraceReader, dst store.SpanWriter, opts Options, c *Counts) error {
	seen := map[pcommon.TraceID]struct{}{}
	var end time.Time // zero: unbounded
	batch := ptrace.NewTraces()
	var batchTraces int
	var newest, oldest time.Time
	flush := func() error {
		if batchTraces == 0 {
			return nil
		}
		n := batch.SpanCount()
		where := fmt.Sprintf("traces %d-%d (spans %d-%d, trace starts %s)", c.Traces+1, c.Traces+int64(batchTraces),
			c.Copied+1, c.Copied+int64(n), span(newest, oldest))
		if err := dst.WriteTraces(ctx, batch); err != nil {
			return &Error{Signal: store.SignalSpans, Position: "writing " + where, Err: err}
		}
		c.Copied += int64(n)
		c.Traces += int64(batchTraces)
		fmt.Fprintf(opts.Progress, "spans: %s copied\n", where)
		batch, batchTraces = ptrace.NewTraces(), 0
		return nil
	}
	for {
		var page []store.TraceSummary
		for ts, err := range src.FindTraces(ctx, store.TraceQuery{End: end, Limit: findLimit}) {
			if err != nil {
				return &Error{Signal: store.SignalSpans, Position: fmt.Sprintf("finding the traces starting before %s (after %d traces)", bound(end), c.Traces+int64(batchTraces)), Err: err}
			}
			page = append(page, ts)
		}
		fresh := 0
		for _, ts := range page {
			if _, ok := seen[ts.TraceID]; ok {
				continue
			}
			seen[ts.TraceID] = struct{}{}
			fresh++
			td, err := src.GetTrace(ctx, ts.TraceID)
			if errors.Is(err, store.ErrNotFound) {
				continue // dropped by retention since it was found
			}
			if err != nil {
				return &Error{Signal: store.SignalSpans, Position: fmt.Sprintf("reading trace %s (started %s)", ts.TraceID, ts.Start.UTC().Format(time.RFC3339Nano)), Err: err}
			}
			if batchTraces == 0 {
				newest = ts.Start
			}
			oldest = ts.Start
			td.ResourceSpans().MoveAndAppendTo(batch.ResourceSpans())
			batchTraces++
			if batchTraces >= opts.TracePage {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if len(page) < findLimit {
			return flush()
		}
		if fresh == 0 {
			return &Error{Signal: store.SignalSpans, Position: fmt.Sprintf("traces starting before %s", bound(end)),
				Err: fmt.Errorf("more than %d traces start at %s: they cannot be told apart by start time", findLimit, page[len(page)-1].Start.UTC().Format(time.RFC3339Nano))}
		}
		end = page[len(page)-1].Start.Add(time.Nanosecond)
	}
}

func bound(t time.Time) string {
	if t.IsZero() {
		return "the end of time"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
