package derived

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"

	"github.com/loupe-dev/loupe/internal/runs"
)

// The run series (docs/alerting.md). job is the run's name (`loupe run --name`, the
// command's name by default), as the job label of the run's own OTLP metrics.
const (
	// RunsCompletedMetric counts the runs that ended, by job and status (succeeded,
	// failed, killed), written when the final record is committed (server time).
	RunsCompletedMetric = "loupe_run_completed_total"
	// RunDurationMetric is each ended run's duration in seconds, by job, at the run's
	// end time.
	RunDurationMetric = "loupe_run_completed_duration_seconds"
	// RunDurationAvgMetric is the mean duration of the (up to) five previous succeeded
	// runs of the job, written beside RunDurationMetric at the same time, so that "this
	// run took 50% longer than the last five" is one comparison. Absent for a job's first
	// succeeded run.
	RunDurationAvgMetric = "loupe_run_completed_duration_avg5_seconds"
	// RunSuccessMetric is 1 when an ended run succeeded and 0 otherwise, by job, at the
	// run's end time.
	RunSuccessMetric = "loupe_run_completed_success"
)

// lastN is how many previous runs RunDurationAvgMetric averages.
const lastN = 5

// RunLookup is what Runs reads: whether a run's final record is already stored, and a
// job's previous runs.
type RunLookup interface {
	GetRun(ctx context.Context, runID string) ([]byte, error)
	ListRuns(ctx context.Context, q runs.Query) (runs.Page, error)
}

// RunsOptions configure Runs.
type RunsOptions struct {
	// MaxJobs caps the job names with series (default 1,000); runs of further jobs count
	// under job="_other".
	MaxJobs int
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

type jobState struct {
	seeded    bool
	durations []float64 // the last succeeded runs' durations, oldest first, at most lastN
	dur, avg  *series
	ok        *series
}

// Runs is a runs.Writer that upserts runs into the next writer and, once a run's final
// record is committed for the first time, writes the run series. A final record that is
// already stored (a client's retry, the same record carried by a log record and a span)
// writes nothing. Safe for concurrent use; upserts carrying runs are serialised, as they
// are one or two per run.
type Runs struct {
	next   runs.Writer
	lookup RunLookup
	sink   sink
	opts   RunsOptions

	mu       sync.Mutex
	done     map[string]struct{} // run ids whose final record was counted (bounded)
	jobs     map[string]*jobState
	counters map[[2]string]*series
}

var _ runs.Writer = (*Runs)(nil)

// NewRuns returns a Runs upserting into next, reading lookup and writing samples to app
// (nil writes none). logger and reg may be nil.
func NewRuns(next runs.Writer, lookup RunLookup, app storage.Appendable, opts RunsOptions, logger *slog.Logger, reg prometheus.Registerer) *Runs {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxJobs <= 0 {
		opts.MaxJobs = 1000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Runs{
		next: next, lookup: lookup, opts: opts, sink: newSink(app, "run", logger, reg),
		done: map[string]struct{}{}, jobs: map[string]*jobState{},
		counters: map[[2]string]*series{},
	}
}

// UpsertRuns upserts rs into the next writer (see runs.Writer) and writes the series of
// the runs it ended.
func (r *Runs) UpsertRuns(ctx context.Context, rs []runs.Run) error {
	var ended []*runs.Run
	for i := range rs {
		if runs.Final(rs[i].Status) {
			ended = append(ended, &rs[i])
		}
	}
	if len(ended) == 0 {
		return r.next.UpsertRuns(ctx, rs)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	inBatch := map[string]bool{}
	var fresh []*runs.Run
	for _, run := range ended {
		if _, ok := r.done[run.RunID]; ok || inBatch[run.RunID] {
			continue
		}
		inBatch[run.RunID] = true
		if r.storedFinal(ctx, run.RunID) {
			r.markDone(run.RunID)
			continue
		}
		fresh = append(fresh, run)
	}
	for _, run := range fresh {
		r.seed(ctx, r.job(run.Name), inBatch)
	}
	if err := r.next.UpsertRuns(ctx, rs); err != nil {
		return err
	}
	slices.SortStableFunc(fresh, func(a, b *runs.Run) int { return a.End.Compare(b.End) })
	now := r.opts.Now().UnixMilli()
	var out []sample
	for _, run := range fresh {
		r.markDone(run.RunID)
		name := r.jobName(run.Name)
		js := r.job(run.Name)
		c := r.counter(name, run.Status)
		out = append(out, counterSamples(c, now, 1)...)
		end := now
		if !run.End.IsZero() {
			end = run.End.UnixMilli()
		}
		out = append(out, sample{js.dur, end, run.DurationSeconds})
		okV := 0.0
		if run.Status == runs.StatusSucceeded {
			okV = 1
		}
		out = append(out, sample{js.ok, end, okV})
		if len(js.durations) > 0 {
			out = append(out, sample{js.avg, end, mean(js.durations)})
		}
		if run.Status == runs.StatusSucceeded {
			js.durations = pushLast(js.durations, run.DurationSeconds)
		}
	}
	r.sink.write(ctx, out)
	return nil
}

// storedFinal reports whether the store already has a final record of the run. A failed
// read is logged and taken as no: the run is then counted.
func (r *Runs) storedFinal(ctx context.Context, id string) bool {
	raw, err := r.lookup.GetRun(ctx, id)
	if errors.Is(err, runs.ErrNotFound) {
		return false
	}
	if err != nil {
		r.sink.logger.Warn("run lookup failed; counting its final record", "run_id", id, "err", err)
		return false
	}
	stored, err := runs.ParseRecord(raw)
	return err == nil && runs.Final(stored.Status)
}

// seed fills a job's last durations from the store the first time the process sees the
// job end, so that the average survives a restart. Runs in skip (this batch) are left out.
func (r *Runs) seed(ctx context.Context, js *jobState, skip map[string]bool) {
	if js.seeded {
		return
	}
	js.seeded = true
	name := js.dur.lset.Get("job")
	if name == overflow {
		return
	}
	page, err := r.lookup.ListRuns(ctx, runs.Query{Name: name, Status: runs.StatusSucceeded, Limit: lastN + len(skip)})
	if err != nil {
		r.sink.logger.Warn("previous runs not read; the average of the last runs starts empty", "job", name, "err", err)
		return
	}
	var ds []float64
	for _, s := range page.Runs { // newest first
		if !skip[s.RunID] && len(ds) < lastN {
			ds = append(ds, s.DurationSeconds)
		}
	}
	slices.Reverse(ds)
	js.durations = ds
}

// jobName is the job label of a run name: the name, or "_other" past MaxJobs names.
func (r *Runs) jobName(name string) string {
	if _, ok := r.jobs[name]; ok {
		return name
	}
	if len(r.jobs) >= r.opts.MaxJobs {
		return overflow
	}
	return name
}

func (r *Runs) job(name string) *jobState {
	name = r.jobName(name)
	js, ok := r.jobs[name]
	if !ok {
		js = &jobState{
			dur: &series{lset: lset(RunDurationMetric, "job", name)},
			avg: &series{lset: lset(RunDurationAvgMetric, "job", name)},
			ok:  &series{lset: lset(RunSuccessMetric, "job", name)},
		}
		r.jobs[name] = js
	}
	return js
}

func (r *Runs) counter(job, status string) *series {
	k := [2]string{job, status}
	c, ok := r.counters[k]
	if !ok {
		c = &series{lset: lset(RunsCompletedMetric, "job", job, "status", status), fresh: true}
		r.counters[k] = c
	}
	return c
}

func (r *Runs) markDone(id string) {
	if len(r.done) >= 10_000 {
		clear(r.done)
	}
	r.done[id] = struct{}{}
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func pushLast(xs []float64, x float64) []float64 {
	xs = append(xs, x)
	if len(xs) > lastN {
		xs = slices.Delete(xs, 0, len(xs)-lastN)
	}
	return xs
}
