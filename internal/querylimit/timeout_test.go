package querylimit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A query that runs past query.timeout is told so, naming the key and its value, and the
// error is still a context.DeadlineExceeded for the APIs' status mapping.
func TestTimeoutNamesKey(t *testing.T) {
	l := New(Config{MaxConcurrent: 1, MaxQueued: 0, QueueTimeout: time.Second, Timeout: time.Millisecond}, nil, nil)
	var got error
	l.Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		got = Timeout(r.Context(), r.Context().Err())
	}), nil).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/q", nil))
	require.ErrorIs(t, got, context.DeadlineExceeded)
	require.ErrorContains(t, got, "query timed out after 1ms (limit query.timeout); raise query.timeout")

	err := Timeout(context.Background(), errors.New("store: context deadline exceeded"))
	require.ErrorContains(t, err, "query timed out (limit query.timeout): store: context deadline exceeded")
}
