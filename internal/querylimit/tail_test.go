package querylimit

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// Live tails (websocket upgrades) are bounded by MaxTails: beyond it one is refused at once
// with 429 naming query.max_tails, and a slot frees when a tail ends. They used to pass
// the limiter untouched, unbounded. Tails do not take query slots.
func TestLimiterBoundsTails(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := New(Config{MaxConcurrent: 1, MaxQueued: 0, QueueTimeout: time.Second, Timeout: time.Hour, MaxTails: 2}, nil, reg)
	b := newBlocking()
	h := l.Wrap(b, nil)
	tail := func() *http.Request {
		r := httptest.NewRequest("GET", "/loki/api/v1/tail?query=%7Bjob%3D%22x%22%7D", nil)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		return r
	}

	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), tail())
		}()
	}
	<-b.entered
	<-b.entered // two tails open: the limit

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, tail())
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Contains(t, rec.Body.String(), "2 live tails are open (limit query.max_tails)")
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	require.Equal(t, 1.0, testutil.ToFloat64(l.rejected.WithLabelValues("too_many_tails")))
	require.Equal(t, 2.0, testutil.ToFloat64(l.tailing))

	// Tails hold no query slot: a query still runs.
	release, err := l.Acquire(t.Context())
	require.NoError(t, err)
	release()

	close(b.release) // the tails end
	wg.Wait()
	require.Equal(t, 0.0, testutil.ToFloat64(l.tailing))
	b2 := newBlocking()
	close(b2.release)
	rec = httptest.NewRecorder()
	l.Wrap(b2, nil).ServeHTTP(rec, tail())
	require.Equal(t, http.StatusOK, rec.Code)

	require.ErrorContains(t, Config{MaxConcurrent: 1, Timeout: time.Second, MaxTails: -1}.Validate(), "query.max_tails: -1")
}
