package crons

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/loupe-dev/loupe/internal/jobs"
	"github.com/loupe-dev/loupe/internal/runs"
)

// Tags of every Sentry run (see internal/ingest/sentry's toRun).
const (
	tagSource  = "source"
	tagProject = "sentry.project"
	tagStatus  = "sentry.status"
	tagEnv     = "environment"
)

// Statuses the watcher gives runs (in sentry.status; the run status is failed).
const (
	StatusMissed  = "missed"
	StatusTimeout = "timeout"
)

// Options tune a Watcher. The zero value of a field takes its default.
type Options struct {
	// Tick is how often monitors are checked. Default 30s.
	Tick time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// MaxSlotsPerTick bounds the missed runs one monitor gets in one tick (after a long
	// downtime); the rest follow on later ticks. Default 1000.
	MaxSlotsPerTick int
}

// rebuildPages bounds how many pages of runs (of runs.MaxLimit) of one job name are read at
// start to find each monitor's latest run and schedule.
const rebuildPages = 10

// Watcher is a runs.Writer in front of the store Sentry check-ins go to: it passes runs on
// and watches the monitors of those that are Sentry check-ins. Start it to check them.
type Watcher struct {
	next   runs.Writer
	read   runs.Reader
	opts   Options
	logger *slog.Logger

	tickMu sync.Mutex // one check at a time

	mu       sync.Mutex
	monitors map[monitorKey]*monitor
	rebuilt  bool // state was read from the store

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// monitorKey names a monitor: Sentry's monitor slugs are per project.
type monitorKey struct{ project, slug string }

type monitor struct {
	cfg     Config
	watched bool      // cfg is set: a check-in brought a valid monitor_config
	last    time.Time // start of the latest check-in or missed slot
	env     string    // environment of the latest check-in
	// running are the in-progress check-ins: run id to start.
	running map[string]time.Time
}

// New returns a watcher writing to next and reading state back from read (normally the
// same store). logger may be nil.
func New(next runs.Writer, read runs.Reader, opts Options, logger *slog.Logger) *Watcher {
	if opts.Tick <= 0 {
		opts.Tick = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSlotsPerTick <= 0 {
		opts.MaxSlotsPerTick = 1000
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{next: next, read: read, opts: opts, logger: logger, monitors: map[monitorKey]*monitor{}}
}

// UpsertRuns writes rs to the next writer, then takes note of the Sentry check-ins among
// them. See runs.Writer.
func (w *Watcher) UpsertRuns(ctx context.Context, rs []runs.Run) error {
	if err := w.next.UpsertRuns(ctx, rs); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range rs {
		w.observe(&rs[i].Summary, true)
	}
	return nil
}

// observe updates the monitor of s, a run just written (live) or read back at start
// (newest first). Caller holds w.mu.
func (w *Watcher) observe(s *runs.Summary, live bool) {
	if s.Tags[tagSource] != "sentry" {
		return
	}
	k := monitorKey{s.Tags[tagProject], s.Name}
	m, ok := w.monitors[k]
	if !ok {
		m = &monitor{running: map[string]time.Time{}}
		w.monitors[k] = m
	}
	if live || !m.watched {
		if cfg, err := ConfigFromTags(s.Tags); err == nil {
			m.cfg, m.watched = cfg, true
		} else if !errors.Is(err, errNoConfig) {
			w.logger.Warn("Sentry monitor schedule not understood", "project", k.project, "monitor", k.slug, "err", err)
		}
	}
	if !s.Start.Before(m.last) {
		m.last = s.Start
		m.env = s.Tags[tagEnv]
	}
	switch {
	case s.Status != runs.StatusRunning:
		delete(m.running, s.RunID)
	case m.watched: // an unwatched monitor's check-ins are not timed out
		m.running[s.RunID] = s.Start
	}
}

// Start checks the monitors at once, then every Tick, until Shutdown.
func (w *Watcher) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(w.opts.Tick)
		defer t.Stop()
		for {
			w.check(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// Shutdown stops checking and waits for a check in progress to end.
func (w *Watcher) Shutdown(context.Context) error {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
	return nil
}

// check reads the state from the store if it has not yet, then records timeouts and
// missed check-ins due at Now. What fails is tried again on the next check.
func (w *Watcher) check(ctx context.Context) {
	w.tickMu.Lock()
	defer w.tickMu.Unlock()
	if !w.isRebuilt() {
		if err := w.rebuild(ctx); err != nil {
			if ctx.Err() == nil {
				w.logger.Error("Sentry monitors: read runs", "err", err)
			}
			return
		}
	}
	now := w.opts.Now()
	if err := w.timeouts(ctx, now); err != nil && ctx.Err() == nil {
		w.logger.Error("Sentry monitors: record timeouts", "err", err)
	}
	if err := w.missed(ctx, now); err != nil && ctx.Err() == nil {
		w.logger.Error("Sentry monitors: record missed check-ins", "err", err)
	}
}

func (w *Watcher) isRebuilt() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rebuilt
}

// rebuild learns the monitors from the runs store: for each job name, its Sentry runs
// newest first until every monitor of that name has shown its schedule, then every Sentry
// run still running. What check-ins arrived meanwhile is kept: observe only moves forward.
func (w *Watcher) rebuild(ctx context.Context) error {
	names, err := w.read.RunNames(ctx, time.Time{}, time.Time{})
	if err != nil {
		return err
	}
	sentry := map[string]string{tagSource: "sentry"}
	var seen []runs.Summary
	for _, n := range names {
		hasCfg := map[string]bool{} // by project
		cursor := ""
		for range rebuildPages {
			p, err := w.read.ListRuns(ctx, runs.Query{Name: n.Name, Tags: sentry, Limit: runs.MaxLimit, Cursor: cursor})
			if err != nil {
				return err
			}
			for _, s := range p.Runs {
				hasCfg[s.Tags[tagProject]] = hasCfg[s.Tags[tagProject]] || s.Tags[TagSchedule] != ""
			}
			seen = append(seen, p.Runs...)
			if cursor = p.NextCursor; cursor == "" || allTrue(hasCfg) {
				break
			}
		}
	}
	cursor := ""
	for range rebuildPages {
		p, err := w.read.ListRuns(ctx, runs.Query{Status: runs.StatusRunning, Tags: sentry, Limit: runs.MaxLimit, Cursor: cursor})
		if err != nil {
			return err
		}
		seen = append(seen, p.Runs...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range seen {
		w.observe(&seen[i], false)
	}
	w.rebuilt = true
	w.logger.Debug("Sentry monitors read from the runs store", "monitors", len(w.monitors))
	return nil
}

func allTrue(m map[string]bool) bool {
	for _, v := range m {
		if !v {
			return false
		}
	}
	return true
}

// timeouts finalises, as failed with sentry.status timeout, each in-progress check-in
// older than its monitor's max runtime that is still running in the store (a final
// check-in may have come first: SDKs send without waiting).
func (w *Watcher) timeouts(ctx context.Context, now time.Time) error {
	type due struct {
		k     monitorKey
		id    string
		limit time.Duration
	}
	var dues []due
	w.mu.Lock()
	for k, m := range w.monitors {
		for id, start := range m.running {
			if !now.Before(start.Add(m.cfg.MaxRuntime)) {
				dues = append(dues, due{k, id, m.cfg.MaxRuntime})
			}
		}
	}
	w.mu.Unlock()
	var out []runs.Run
	var done []due
	for _, d := range dues {
		r, ok, err := w.timedOut(ctx, d.id, d.limit)
		if err != nil {
			return err
		}
		if ok {
			out = append(out, r)
		}
		done = append(done, d)
	}
	if len(out) > 0 {
		if err := w.next.UpsertRuns(ctx, out); err != nil {
			return err
		}
		w.logger.Debug("Sentry check-ins timed out", "runs", len(out))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range done {
		if m := w.monitors[d.k]; m != nil {
			delete(m.running, d.id)
		}
	}
	return nil
}

// timedOut is the timed-out record of run id, from its stored running record; false when
// the run is gone or no longer running.
func (w *Watcher) timedOut(ctx context.Context, id string, limit time.Duration) (runs.Run, bool, error) {
	raw, err := w.read.GetRun(ctx, id)
	if errors.Is(err, runs.ErrNotFound) {
		return runs.Run{}, false, nil
	}
	if err != nil {
		return runs.Run{}, false, err
	}
	var rec jobs.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return runs.Run{}, false, fmt.Errorf("run %s: %w", id, err)
	}
	if rec.Status != runs.StatusRunning {
		return runs.Run{}, false, nil
	}
	rec.Status = runs.StatusFailed
	rec.ExitCode = 1
	rec.EndTime = rec.StartTime.Add(limit)
	rec.DurationSeconds = limit.Seconds()
	rec.Error = fmt.Sprintf("Sentry check-in timed out: in progress since %s, no final check-in within max_runtime %s",
		rec.StartTime.UTC().Format(time.RFC3339), minutesText(limit))
	if rec.Tags == nil {
		rec.Tags = map[string]string{}
	}
	rec.Tags[tagStatus] = StatusTimeout
	r, err := encode(rec)
	return r, err == nil, err
}

// missed records a failed run, sentry.status missed, for each expected check-in of each
// watched monitor that did not come by its time plus the monitor's margin. A missed slot
// then counts as the monitor's latest check-in: the next is expected a schedule step later.
func (w *Watcher) missed(ctx context.Context, now time.Time) error {
	type slot struct {
		k        monitorKey
		expected time.Time
	}
	var slots []slot
	var out []runs.Run
	w.mu.Lock()
	for k, m := range w.monitors {
		if !m.watched {
			continue
		}
		ref := m.last
		for range w.opts.MaxSlotsPerTick {
			e := m.cfg.Next(ref)
			if e.IsZero() || now.Before(e.Add(m.cfg.Margin)) {
				break
			}
			r, err := missedRun(k, e, m.cfg, m.env)
			if err != nil {
				w.mu.Unlock()
				return err
			}
			slots = append(slots, slot{k, e})
			out = append(out, r)
			ref = e
		}
	}
	w.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	if err := w.next.UpsertRuns(ctx, out); err != nil {
		return err
	}
	w.logger.Debug("Sentry check-ins missed", "runs", len(out))
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range slots {
		if m := w.monitors[s.k]; m != nil && m.last.Before(s.expected) {
			m.last = s.expected
		}
	}
	return nil
}

// MissedRunID is the run id of the missed check-in of a monitor expected at t: the same
// for the same slot, so that recording it again (a retry, a restart) changes nothing.
func MissedRunID(project, slug string, t time.Time) string {
	h := sha256.Sum256([]byte("sentry missed check-in\x00" + project + "\x00" + slug + "\x00" + t.UTC().Format(time.RFC3339)))
	return hex.EncodeToString(h[:16])
}

// missedRun is the run of a missed check-in expected at e.
func missedRun(k monitorKey, e time.Time, cfg Config, env string) (runs.Run, error) {
	tags := map[string]string{tagSource: "sentry", tagProject: k.project, tagStatus: StatusMissed}
	cfg.SetTags(tags)
	if env != "" {
		tags[tagEnv] = env
	}
	return encode(jobs.Record{
		RecordVersion: 1,
		RunID:         MissedRunID(k.project, k.slug, e),
		Name:          k.slug,
		Status:        runs.StatusFailed,
		StartTime:     e.UTC(),
		EndTime:       e.UTC(),
		ExitCode:      1,
		Error: fmt.Sprintf("Sentry check-in missed: expected at %s, none by %s (checkin_margin %s)",
			e.UTC().Format(time.RFC3339), e.Add(cfg.Margin).UTC().Format(time.RFC3339), minutesText(cfg.Margin)),
		Tags: tags,
	})
}

func encode(rec jobs.Record) (runs.Run, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return runs.Run{}, fmt.Errorf("encode run record: %w", err)
	}
	return runs.ParseRecord(raw)
}

func minutesText(d time.Duration) string {
	if n := int(d / time.Minute); n != 1 {
		return fmt.Sprintf("%d minutes", n)
	}
	return "1 minute"
}
