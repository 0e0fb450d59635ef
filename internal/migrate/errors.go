package migrate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/store"
)

// copyErrors copies every issue's events, a page of opts.RunPage (1,000) at a time, oldest
// first, into the same issue (GroupID is the source issue's id, so no event is grouped
// again), then sets the issue's status when it is resolved or ignored. The destination
// computes the issue's counters from the events, in any order; an event id stored already
// is skipped by the store, so copying again adds nothing. A regressed issue arrives as
// unresolved: regressed is set by events that come after a resolution, not by a change.
// Copied counts events; Traces is unused; Series counts issues.
func copyErrors(ctx context.Context, src errtrack.Reader, dst errtrack.Store, opts Options, c *Counts) error {
	cursor := ""
	for page := 1; ; page++ {
		p, err := src.ListIssues(ctx, errtrack.IssueQuery{Limit: errtrack.MaxIssueLimit, Cursor: cursor})
		if err != nil {
			return &Error{Signal: store.SignalErrors, Position: fmt.Sprintf("listing issues, page %d (after %d issues)", page, c.Series), Err: err}
		}
		for _, is := range p.Issues {
			if err := copyIssue(ctx, src, dst, is, opts, c); err != nil {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		cursor = p.Next
	}
}

func copyIssue(ctx context.Context, src errtrack.Reader, dst errtrack.Store, is errtrack.Issue, opts Options, c *Counts) error {
	where := fmt.Sprintf("issue %s (%q)", is.ID, is.Title)
	// The first event written makes the issue's title and culprit, so the events go
	// oldest first: a first pass over the pages (newest first) keeps only their cursors,
	// and the second reads them again from the last.
	cursors := []string{""}
	for {
		p, err := src.IssueEvents(ctx, is.ID, errtrack.EventQuery{Limit: opts.RunPage, Cursor: cursors[len(cursors)-1]})
		if err != nil {
			return &Error{Signal: store.SignalErrors, Position: fmt.Sprintf("reading the events of %s, page %d", where, len(cursors)), Err: err}
		}
		if p.Next == "" {
			break
		}
		cursors = append(cursors, p.Next)
	}
	var n int64
	for page := len(cursors); page >= 1; page-- {
		p, err := src.IssueEvents(ctx, is.ID, errtrack.EventQuery{Limit: opts.RunPage, Cursor: cursors[page-1]})
		if err != nil {
			return &Error{Signal: store.SignalErrors, Position: fmt.Sprintf("reading the events of %s, page %d", where, page), Err: err}
		}
		if len(p.Events) == 0 {
			continue
		}
		slices.Reverse(p.Events)
		for i := range p.Events {
			p.Events[i].GroupID = is.ID
			if p.Events[i].GroupingKey == "" {
				p.Events[i].GroupingKey = is.Fingerprint
			}
		}
		pos := fmt.Sprintf("events %d-%d of %s (%s .. %s)", n+1, n+int64(len(p.Events)), where,
			p.Events[0].Timestamp.UTC().Format(time.RFC3339Nano), p.Events[len(p.Events)-1].Timestamp.UTC().Format(time.RFC3339Nano))
		if err := dst.WriteEvents(ctx, p.Events); err != nil {
			return &Error{Signal: store.SignalErrors, Position: "writing " + pos, Err: err}
		}
		n += int64(len(p.Events))
		c.Copied += int64(len(p.Events))
	}
	switch {
	case n == 0: // its events went (retention) since it was listed
		return nil
	case is.Status == errtrack.StatusResolved, is.Status == errtrack.StatusIgnored:
		change := errtrack.StatusChange{Status: is.Status, ResolvedInRelease: is.ResolvedInRelease, IgnoreUntil: is.IgnoreUntil, IgnoreCount: is.IgnoreCount}
		if _, err := dst.SetStatus(ctx, is.ID, change); err != nil {
			return &Error{Signal: store.SignalErrors, Position: fmt.Sprintf("setting %s %s", where, is.Status), Err: err}
		}
	}
	c.Series++
	fmt.Fprintf(opts.Progress, "errors: %s copied (%d events, %s)\n", where, n, is.Status)
	return nil
}

func errorsEmpty(ctx context.Context, r errtrack.Reader) (bool, error) {
	p, err := r.ListIssues(ctx, errtrack.IssueQuery{Limit: 1})
	return len(p.Issues) == 0, err
}
