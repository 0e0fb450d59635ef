package pprofscrape

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"
)

// Target is the state of one scrape loop (a target's profile type), for the status API
// (GET /api/loupe/v1/profiles/targets, docs/profiles.md).
type Target struct {
	Job    string            `json:"job"`
	URL    string            `json:"url"`
	Type   string            `json:"type"` // cpu, heap, allocs, goroutine, mutex or block
	Labels map[string]string `json:"labels"`
	// Health is "up" when the last scrape stored its profile, "down" when it failed, and
	// "unknown" before the first scrape has ended (a CPU scrape takes its seconds).
	Health string `json:"health"`
	// LastScrape is when the last scrape started, zero (omitted) before the first.
	LastScrape         *time.Time `json:"last_scrape,omitempty"`
	LastScrapeDuration float64    `json:"last_scrape_duration_seconds"`
	LastError          string     `json:"last_error"`
}

// loopStatus is what a loop records of its scrapes.
type loopStatus struct {
	mu       sync.Mutex
	last     time.Time
	duration time.Duration
	err      error
	scraped  bool
}

func (st *loopStatus) record(start time.Time, err error) {
	st.mu.Lock()
	st.last, st.duration, st.err, st.scraped = start, time.Since(start), err, true
	st.mu.Unlock()
}

// target is the state of the loop for key.
func (st *loopStatus) target(t Target) Target {
	st.mu.Lock()
	defer st.mu.Unlock()
	t.Health = "unknown"
	if st.scraped {
		last := st.last
		t.LastScrape, t.LastScrapeDuration, t.Health = &last, st.duration.Seconds(), "up"
	}
	if st.err != nil {
		t.Health, t.LastError = "down", st.err.Error()
	}
	return t
}

// targetState is a running loop's description and status, by loop key in Scraper.targets.
type targetState struct {
	desc   Target // Job, URL, Type, Labels
	status *loopStatus
}

// Targets returns the state of every scrape loop, by job, URL and type. A target whose
// loop could not be made (its HTTP client configuration) is listed down with that error.
func (s *Scraper) Targets() []Target {
	s.mu.Lock()
	states := slices.Collect(maps.Values(s.targets))
	s.mu.Unlock()
	out := make([]Target, 0, len(states))
	for _, ts := range states {
		out = append(out, ts.status.target(ts.desc))
	}
	slices.SortFunc(out, func(a, b Target) int {
		return cmp.Or(cmp.Compare(a.Job, b.Job), cmp.Compare(a.URL, b.URL), cmp.Compare(a.Type, b.Type))
	})
	return out
}
