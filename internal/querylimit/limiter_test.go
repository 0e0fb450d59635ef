package querylimit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

// blockingHandler holds every request until release is closed, and reports on entered
// each request that got in.
type blockingHandler struct {
	entered chan struct{}
	release chan struct{}
}

func newBlocking() *blockingHandler {
	return &blockingHandler{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blockingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusOK)
}

func TestLimiterAdmitsQueuesAndRefuses(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := New(Config{MaxConcurrent: 2, MaxQueued: 1, QueueTimeout: time.Hour, Timeout: time.Hour}, nil, reg)
	b := newBlocking()
	h := l.Wrap(b, nil)

	codes := make(chan int, 10)
	var wg sync.WaitGroup
	serve := func() {
		defer wg.Done()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/q", nil))
		codes <- rec.Code
	}
	wg.Add(2)
	go serve()
	go serve()
	<-b.entered
	<-b.entered // two running: the limit

	wg.Add(1)
	go serve() // waits in the queue
	require.Eventually(t, func() bool { return testutil.ToFloat64(l.waiting) == 1 }, 10*time.Second, time.Millisecond)

	// The queue is full: refused at once with 429, naming both limits.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/q", nil))
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Contains(t, rec.Body.String(), "query.max_concurrent")
	require.Contains(t, rec.Body.String(), "query.max_queued")
	require.NotEmpty(t, rec.Header().Get("Retry-After"))

	close(b.release) // the running ones finish, the queued one runs
	wg.Wait()
	close(codes)
	for c := range codes {
		require.Equal(t, http.StatusOK, c)
	}
	require.Equal(t, 1.0, testutil.ToFloat64(l.rejected.WithLabelValues("queue_full")))
	require.Equal(t, 0.0, testutil.ToFloat64(l.running))
}

func TestLimiterQueueTimeout(t *testing.T) {
	l := New(Config{MaxConcurrent: 1, MaxQueued: 5, QueueTimeout: 20 * time.Millisecond, Timeout: time.Hour}, nil, nil)
	release, err := l.Acquire(context.Background())
	require.NoError(t, err)
	defer release()

	h := l.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler ran without a slot") }), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/q", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), "query.queue_timeout")
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
}

func TestLimiterSetsDeadline(t *testing.T) {
	l := New(Config{MaxConcurrent: 1, MaxQueued: 0, QueueTimeout: time.Second, Timeout: 50 * time.Millisecond}, nil, nil)
	var err error
	h := l.Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, ok := r.Context().Deadline()
		require.True(t, ok, "the query's context has no deadline")
		require.True(t, store.IsLowPriority(r.Context()), "the query does not give way to ingest")
		<-r.Context().Done()
		err = r.Context().Err()
	}), nil)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/q", nil))
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

func TestLimiterExemptions(t *testing.T) {
	l := New(Config{MaxConcurrent: 1, MaxQueued: 0, QueueTimeout: time.Second, Timeout: time.Hour}, nil, nil)
	release, err := l.Acquire(context.Background())
	require.NoError(t, err)
	defer release()

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/write") && store.IsLowPriority(r.Context()) {
			t.Error("an ingest path runs at the queries' priority")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h := l.Wrap(ok, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/write") })

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/write", nil))
	require.Equal(t, http.StatusNoContent, rec.Code, "an exempt ingest path waited for a query slot")

	req := httptest.NewRequest("GET", "/loki/api/v1/tail", nil)
	req.Header.Set("Upgrade", "websocket")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNoContent, rec.Code, "a websocket stream waited for a query slot")

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/query", nil))
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	err := Config{MaxConcurrent: 0, MaxQueued: -1, QueueTimeout: -1, Timeout: 0}.Validate()
	for _, key := range []string{"query.max_concurrent", "query.max_queued", "query.queue_timeout", "query.timeout"} {
		require.ErrorContains(t, err, key)
	}
}
