package derived

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// IssuesCreatedMetric counts the issues that error grouping created, by the service,
// project, environment, release and level of their first event. It has no issue_id label:
// issues can be many, and one series per issue would grow the metrics store with each of
// them. (loupe_error_events_total, written by errtrack.Recorder, has the issue_id.)
const IssuesCreatedMetric = "loupe_error_issues_created_total"

// IssueLookup is what Errors reads to tell a new issue from a known one.
type IssueLookup interface {
	// GetIssue returns the issue or errtrack.ErrNotFound.
	GetIssue(ctx context.Context, id string) (errtrack.Issue, error)
	// ListIssues pages through the issues (errtrack.Reader).
	ListIssues(ctx context.Context, q errtrack.IssueQuery) (errtrack.IssuePage, error)
}

// ErrorsOptions configure Errors.
type ErrorsOptions struct {
	// MaxSeries caps the loupe_error_issues_created_total series (default 1,000); issues of
	// further label sets count under a series whose labels are all "_other".
	MaxSeries int
	// MaxKnown caps the issue ids remembered as known (default 100,000); past it the set
	// is emptied and each issue's next event not in it asks the store (GetIssue).
	MaxKnown int
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

type issueKey struct{ service, project, environment, release, level string }

// Errors is an errtrack.Writer that writes events to the next writer and counts, once
// they are committed, the issues their write created in loupe_error_issues_created_total.
// An issue is new when the store does not have it before the write. The first write reads
// every issue id of the store (ListIssues) into a set that the writes then keep up to date,
// so that telling a new issue costs no store read: a read makes the DuckDB store write the
// events it holds in its event log first, which would undo its batching when new issues
// come fast. Past MaxKnown issues, or when that read fails, ids not in the set are looked up
// one by one (GetIssue). Safe for concurrent use; writes are serialised
// (errtrack.Recorder already makes one write at a time).
type Errors struct {
	next   errtrack.Writer
	issues IssueLookup
	sink   sink
	opts   ErrorsOptions

	mu     sync.Mutex
	known  map[string]struct{}
	seeded bool // known was filled from the store
	// complete: known holds every issue id of the store, so an id not in it is new.
	complete bool
	series   map[issueKey]*series
}

var _ errtrack.Writer = (*Errors)(nil)

// NewErrors returns an Errors writing events to next, looking issues up in issues and
// samples to app (nil writes none). logger and reg may be nil.
func NewErrors(next errtrack.Writer, issues IssueLookup, app storage.Appendable, opts ErrorsOptions, logger *slog.Logger, reg prometheus.Registerer) *Errors {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = 1000
	}
	if opts.MaxKnown <= 0 {
		opts.MaxKnown = 100_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Errors{
		next: next, issues: issues, opts: opts, sink: newSink(app, "error", logger, reg),
		known: map[string]struct{}{}, series: map[issueKey]*series{},
	}
}

// WriteEvents writes events to the next writer (see errtrack.Writer) and, when they are
// committed, counts the issues they created. A failed lookup is logged and its issue not
// counted: the events are written all the same.
func (e *Errors) WriteEvents(ctx context.Context, events []errtrack.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.seeded {
		e.seed(ctx)
	}
	var created []*errtrack.Event // the first event of each new issue
	checked := map[string]bool{}
	for i := range events {
		ev := &events[i]
		id := ev.GroupID
		if _, ok := e.known[id]; ok || checked[id] || id == "" {
			continue
		}
		checked[id] = true
		if e.complete {
			created = append(created, ev)
			continue
		}
		_, err := e.issues.GetIssue(ctx, id)
		switch {
		case errors.Is(err, errtrack.ErrNotFound):
			created = append(created, ev)
		case err != nil:
			e.sink.logger.Warn("issue lookup failed; a new issue may not be counted", "issue_id", id, "err", err)
		default:
			e.remember(id)
		}
	}
	if err := e.next.WriteEvents(ctx, events); err != nil {
		return err
	}
	ms := e.opts.Now().UnixMilli()
	var out []sample
	for _, ev := range created {
		e.remember(ev.GroupID)
		k := issueKey{ev.Service, ev.Project, ev.Environment, ev.Release, ev.Level}
		over := issueKey{overflow, overflow, overflow, overflow, overflow}
		s := capped(e.series, k, over, e.opts.MaxSeries, func(k issueKey) labels.Labels {
			return lset(IssuesCreatedMetric, "service", k.service,
				"project", k.project, "environment", k.environment, "release", k.release, "level", k.level)
		})
		out = append(out, counterSamples(s, ms, 1)...)
	}
	e.sink.write(ctx, out)
	return nil
}

func (e *Errors) remember(id string) {
	if len(e.known) >= e.opts.MaxKnown {
		clear(e.known)
		e.complete = false
	}
	e.known[id] = struct{}{}
}

// seed reads the store's issue ids into known; complete when all fit.
func (e *Errors) seed(ctx context.Context) {
	e.seeded = true
	q := errtrack.IssueQuery{Limit: errtrack.MaxIssueLimit}
	for {
		page, err := e.issues.ListIssues(ctx, q)
		if err != nil {
			e.sink.logger.Warn("issue ids not read; new issues are told by one lookup each", "err", err)
			clear(e.known)
			return
		}
		for _, is := range page.Issues {
			if len(e.known) >= e.opts.MaxKnown {
				clear(e.known) // past the cap, lookups; the set fills again as events come
				return
			}
			e.known[is.ID] = struct{}{}
		}
		if page.Next == "" {
			e.complete = true
			return
		}
		q.Cursor = page.Next
	}
}
