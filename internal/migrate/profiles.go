package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

// copyProfiles reads every stored profile whole (store.ProfileExporter), oldest first,
// and writes them in batches of about opts.ProfilePage profiles or profileBatchSamples
// samples. A batch ends only where the time changes, so that the profiles of one pprof
// (same series and time: a Go CPU profile's two types) are written together and the
// DuckDB writer can store their samples once again (duck/profiles_share.go).
func copyProfiles(ctx context.Context, src store.ProfileExporter, dst store.ProfileWriter, opts Options, c *Counts) error {
	var (
		batch   []store.Profile
		samples int
		page    = 1
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		where := fmt.Sprintf("page %d (profiles %d-%d, %s)", page, c.Copied+1, c.Copied+int64(len(batch)),
			span(batch[0].Time, batch[len(batch)-1].Time))
		if err := dst.WriteProfiles(ctx, batch); err != nil {
			return &Error{Signal: store.SignalProfiles, Position: "writing " + where, Err: err}
		}
		c.Copied += int64(len(batch))
		c.Samples += int64(samples)
		fmt.Fprintf(opts.Progress, "profiles: %s copied\n", where)
		batch, samples = batch[:0], 0
		page++
		return nil
	}
	var last time.Time
	for p, err := range src.ExportProfiles(ctx, time.Time{}, time.Time{}) {
		if err != nil {
			return &Error{Signal: store.SignalProfiles, Position: fmt.Sprintf("reading page %d (after %d profiles)", page, c.Copied), Err: err}
		}
		if len(batch) > 0 && !p.Time.Equal(last) && (len(batch) >= opts.ProfilePage || samples >= profileBatchSamples) {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, p)
		samples += len(p.Samples)
		last = p.Time
	}
	return flush()
}

// profileBatchSamples bounds a batch's samples as well: a profile has from a few samples
// to tens of thousands (a large service's CPU profile).
const profileBatchSamples = 200_000

// profilesEmpty reports whether r holds no profile at all: any profile has a type.
func profilesEmpty(ctx context.Context, r store.ProfileReader) (bool, error) {
	types, err := r.ProfileTypes(ctx, time.Time{}, time.Time{})
	return len(types) == 0, err
}
