package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store"
)

// copyRuns lists the runs newest start first, a page at a time, reads each run's record
// as it was ingested, and upserts the page. Upserting is idempotent (one run per id).
func copyRuns(ctx context.Context, src runs.Reader, dst runs.Writer, opts Options, c *Counts) error {
	cursor := ""
	for page := 1; ; page++ {
		p, err := src.ListRuns(ctx, runs.Query{Limit: opts.RunPage, Cursor: cursor})
		if err != nil {
			return &Error{Signal: store.SignalRuns, Position: fmt.Sprintf("listing page %d (after %d runs)", page, c.Copied), Err: err}
		}
		if len(p.Runs) == 0 {
			return nil
		}
		where := fmt.Sprintf("page %d (runs %d-%d, started %s)", page, c.Copied+1, c.Copied+int64(len(p.Runs)),
			span(p.Runs[0].Start, p.Runs[len(p.Runs)-1].Start))
		batch := make([]runs.Run, 0, len(p.Runs))
		for _, s := range p.Runs {
			rec, err := src.GetRun(ctx, s.RunID)
			if errors.Is(err, runs.ErrNotFound) {
				continue // dropped by retention since it was listed
			}
			if err != nil {
				return &Error{Signal: store.SignalRuns, Position: fmt.Sprintf("reading run %s of %s", s.RunID, where), Err: err}
			}
			batch = append(batch, runs.Run{Summary: s, Record: rec})
		}
		if err := dst.UpsertRuns(ctx, batch); err != nil {
			return &Error{Signal: store.SignalRuns, Position: "writing " + where, Err: err}
		}
		c.Copied += int64(len(batch))
		fmt.Fprintf(opts.Progress, "runs: %s copied\n", where)
		if p.NextCursor == "" {
			return nil
		}
		cursor = p.NextCursor
	}
}
