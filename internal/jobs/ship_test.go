package jobs

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A server that is busy (503 with Retry-After) or too slow to answer in SendTimeout for
// one request gets the run anyway: the shipper tries once more before spooling.
func TestRunRetriesBusyOrSlowServerOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first func(w http.ResponseWriter)
	}{
		{"busy", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "ingest queue full", http.StatusServiceUnavailable)
		}},
		{"slow", func(http.ResponseWriter) { time.Sleep(1500 * time.Millisecond) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &otlpSink{fail: -1}
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					tc.first(w)
					return
				}
				sink.ServeHTTP(w, r)
			}))
			defer srv.Close()
			opts := testOptions(t)
			opts.Server = srv.URL
			opts.SendTimeout = time.Second
			code, rec := runSh(t, opts, "echo one-line")
			require.Equal(t, 0, code)
			require.Empty(t, rec.Telemetry.SpoolFile, "the run was spooled, not retried")
			nt, nl, nm := sink.counts()
			require.Equal(t, 1, nt, "the run span")
			require.Positive(t, nl, "the start marker and the output line")
			require.Positive(t, nm)
		})
	}
}

// Twice busy is down for this run: everything from then on goes to the spool.
func TestRunSpoolsWhenServerStaysBusy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too many requests", http.StatusTooManyRequests)
	}))
	defer srv.Close()
	opts := testOptions(t)
	opts.Server = srv.URL
	code, rec := runSh(t, opts, "echo one-line")
	require.Equal(t, 0, code)
	require.FileExists(t, rec.Telemetry.SpoolFile)
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		wait time.Duration
		ok   bool
	}{
		{&busyError{err: errPermanent}, retryWait, true},
		{&busyError{err: errPermanent, retryAfter: 3 * time.Second}, 3 * time.Second, true},
		{&busyError{err: errPermanent, retryAfter: time.Hour}, maxRetryWait, true},
		{errPermanent, 0, false},
	} {
		wait, ok := retryable(tc.err)
		require.Equal(t, tc.ok, ok, "%v", tc.err)
		require.Equal(t, tc.wait, wait, "%v", tc.err)
	}
	require.Equal(t, 2*time.Second, retryAfter(" 2"))
	require.Zero(t, retryAfter("Wed, 21 Oct 2015 07:28:00 GMT"))
	require.Zero(t, retryAfter("-1"))
}
