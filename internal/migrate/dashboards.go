package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/loupe-dev/loupe/internal/dashboards"
	"github.com/loupe-dev/loupe/internal/store"
)

// SignalDashboards names the dashboards in counts and errors (they are not a store.Signal
// of retention, but are copied like one).
const SignalDashboards store.Signal = "dashboards"

// copyDashboards replays each stored dashboard's kept versions, oldest first, so that its
// history is kept: the destination numbers them from 1 (the source's may start later when
// older versions were dropped) and dates them at the copy. A uid the destination has
// already (possible with Force only) is left as it is and counted as not copied.
// Copied counts dashboards, not versions.
func copyDashboards(ctx context.Context, src, dst dashboards.Store, opts Options, c *Counts) error {
	list, err := src.List(ctx, dashboards.Filter{})
	if err != nil {
		return &Error{Signal: SignalDashboards, Position: "listing the dashboards", Err: err}
	}
	for _, sum := range list {
		where := fmt.Sprintf("dashboard %q (%q)", sum.UID, sum.Title)
		if _, err := dst.Get(ctx, sum.UID); err == nil {
			c.Skipped++
			c.Note = "in the destination already (same uid), left as they are"
			continue
		} else if !errors.Is(err, dashboards.ErrNotFound) {
			return &Error{Signal: SignalDashboards, Position: "checking the destination for " + where, Err: err}
		}
		versions, err := src.Versions(ctx, sum.UID)
		if err != nil {
			return &Error{Signal: SignalDashboards, Position: "listing the versions of " + where, Err: err}
		}
		slices.Reverse(versions) // oldest first
		var next int64
		for _, v := range versions {
			rec, err := src.GetVersion(ctx, sum.UID, v.Version)
			if err != nil {
				return &Error{Signal: SignalDashboards, Position: fmt.Sprintf("reading version %d of %s", v.Version, where), Err: err}
			}
			if next, err = dst.Put(ctx, rec.Dashboard, next); err != nil {
				return &Error{Signal: SignalDashboards, Position: fmt.Sprintf("writing version %d of %s", v.Version, where), Err: err}
			}
		}
		c.Copied++
		fmt.Fprintf(opts.Progress, "dashboards: %s copied (%d versions)\n", where, len(versions))
	}
	return nil
}

func dashboardsEmpty(ctx context.Context, s dashboards.Store) (bool, error) {
	list, err := s.List(ctx, dashboards.Filter{})
	return len(list) == 0, err
}
