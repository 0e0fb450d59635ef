package errtrack

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"
)

type memWriter struct{ got []Event }

func (m *memWriter) WriteEvents(_ context.Context, evs []Event) error {
	m.got = append(m.got, evs...)
	return nil
}

type sample struct {
	lset labels.Labels
	t    int64
	v    float64
}

// memAppendable keeps committed samples.
type memAppendable struct {
	mu      sync.Mutex
	samples []sample
	fail    error
}

func (m *memAppendable) Appender(context.Context) storage.Appender { return &memAppender{m: m} }

type memAppender struct {
	storage.Appender
	m       *memAppendable
	pending []sample
}

func (a *memAppender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	if a.m.fail != nil {
		return 0, a.m.fail
	}
	a.pending = append(a.pending, sample{l, t, v})
	return 1, nil
}
func (a *memAppender) Commit() error {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	a.m.samples = append(a.m.samples, a.pending...)
	return nil
}
func (a *memAppender) Rollback() error { return nil }

func TestRecorder(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	w, app := &memWriter{}, &memAppendable{}
	r, err := NewRecorder(w, RecorderOptions{Metrics: app, MaxSeries: 2, Now: func() time.Time { return now }}, nil, nil)
	require.NoError(t, err)
	evs := []Event{
		{EventID: "8A1F6A0E-3B8C-4F1D-9B7E-2C4D5E6F7A8B", Service: "shop", Environment: "prod", Release: "1.0",
			Timestamp: now.Add(time.Hour), Message: "card 4111 1111 1111 1111 refused for user 12",
			Extra: map[string]any{"password": "x"}, User: &User{ID: "1", IPAddress: "10.0.0.1"}},
		{Service: "shop", Environment: "prod", Release: "1.0", Message: "card 4111 1111 1111 1111 refused for user 13"},
	}
	require.NoError(t, r.Record(context.Background(), evs))
	require.Len(t, w.got, 2)
	a, b := w.got[0], w.got[1]
	require.Equal(t, "8a1f6a0e3b8c4f1d9b7e2c4d5e6f7a8b", a.EventID)
	require.Len(t, b.EventID, 32)
	require.Equal(t, now, a.Timestamp, "a timestamp in the future is replaced by the received time")
	require.Equal(t, now, b.Received)
	require.Equal(t, "error", a.Level)
	require.Equal(t, Filtered, a.Extra["password"])
	require.Empty(t, a.User.IPAddress)
	require.Equal(t, "card [Filtered] refused for user 12", a.Message)
	require.NotEmpty(t, a.GroupID)
	require.Equal(t, a.GroupID, b.GroupID, "messages differing in a number are one issue")

	require.Len(t, app.samples, 1)
	s := app.samples[0]
	require.Equal(t, EventsMetric, s.lset.Get(labels.MetricName))
	require.Equal(t, a.GroupID, s.lset.Get("issue_id"))
	require.Equal(t, "shop", s.lset.Get("service"))
	require.Equal(t, "prod", s.lset.Get("environment"))
	require.Equal(t, "1.0", s.lset.Get("release"))
	require.Equal(t, "error", s.lset.Get("level"))
	require.Equal(t, 2.0, s.v)
	require.Equal(t, now.UnixMilli(), s.t)

	// Same millisecond again: the series' next sample is 1 ms later, never a duplicate.
	require.NoError(t, r.Record(context.Background(), []Event{{Service: "shop", Environment: "prod", Release: "1.0", Message: "card 4111 1111 1111 1111 refused for user 14"}}))
	require.Equal(t, now.UnixMilli()+1, app.samples[1].t)
	require.Equal(t, 3.0, app.samples[1].v)

	// Over MaxSeries, new label sets count under issue_id="_other".
	for _, m := range []string{"other bug", "third bug"} {
		require.NoError(t, r.Record(context.Background(), []Event{{Service: "shop", Message: m}}))
	}
	last := app.samples[len(app.samples)-1]
	require.Equal(t, overflowIssue, last.lset.Get("issue_id"))

	// A failing metrics store does not fail Record.
	app.fail = errors.New("disk full")
	require.NoError(t, r.Record(context.Background(), []Event{{Service: "shop", Message: "x"}}))
}

// slowWriter blocks each write until released, so that concurrent calls queue up.
type slowWriter struct {
	mu      sync.Mutex
	batches [][]Event
	release chan struct{}
	err     error
}

func (s *slowWriter) WriteEvents(_ context.Context, evs []Event) error {
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, evs)
	return s.err
}

func TestRecorderGroupCommit(t *testing.T) {
	for _, fail := range []error{nil, errors.New("store down")} {
		w := &slowWriter{release: make(chan struct{}), err: fail}
		r, err := NewRecorder(w, RecorderOptions{}, nil, nil)
		require.NoError(t, err)
		const callers = 8
		errs := make(chan error, callers)
		for i := range callers {
			go func() {
				errs <- r.Record(context.Background(), []Event{{Message: "m", EventID: NewEventID(), Service: fmt.Sprint(i)}})
			}()
		}
		// The first caller's write blocks; wait until the others have queued behind it.
		require.Eventually(t, func() bool {
			r.queueMu.Lock()
			defer r.queueMu.Unlock()
			return len(r.queue) == callers-1 && r.writing
		}, 10*time.Second, time.Millisecond)
		// Let writes through one at a time until every caller has returned.
		got := 0
		for got < callers {
			select {
			case w.release <- struct{}{}:
			case e := <-errs:
				require.Equal(t, fail, errors.Unwrap(e))
				got++
			}
		}
		n := 0
		for _, b := range w.batches {
			n += len(b)
		}
		require.Equal(t, callers, n, "every event written once")
		require.Len(t, w.batches, 2, "the calls queued behind the first write share the next one")
	}
}

// After a write that carried several calls, the next leader waits (up to Linger) until as
// many are queued, so that they share one write instead of trickling in.
func TestRecorderLingers(t *testing.T) {
	w := &slowWriter{release: make(chan struct{})}
	// An hour: if the leader were not woken by the queue filling up, the test would time out.
	r, err := NewRecorder(w, RecorderOptions{Linger: time.Hour}, nil, nil)
	require.NoError(t, err)
	const callers = 7
	record := func(errs chan<- error) {
		errs <- r.Record(context.Background(), []Event{{Message: "m", EventID: NewEventID(), Service: "s"}})
	}
	queued := func(n int) func() bool {
		return func() bool {
			r.queueMu.Lock()
			defer r.queueMu.Unlock()
			return len(r.queue) == n && r.writing
		}
	}
	// One write of one call, with callers queued behind it: the next write carries them all.
	errs := make(chan error, 2*callers+1)
	go record(errs)
	require.Eventually(t, queued(0), 10*time.Second, time.Millisecond)
	for range callers {
		go record(errs)
	}
	require.Eventually(t, queued(callers), 10*time.Second, time.Millisecond)
	w.release <- struct{}{}
	w.release <- struct{}{}
	for range callers + 1 {
		require.NoError(t, <-errs)
	}
	// The next callers arrive one by one; the first waits for all of them.
	for range callers {
		go record(errs)
	}
	w.release <- struct{}{}
	for range callers {
		require.NoError(t, <-errs)
	}
	sizes := []int{}
	for _, b := range w.batches {
		sizes = append(sizes, len(b))
	}
	require.Equal(t, []int{1, callers, callers}, sizes)
}
