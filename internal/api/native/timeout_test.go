package native

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A store query that ran out of time is answered 503 naming query.timeout, the key to
// raise (issue 18).
func TestTimeoutNamesConfigKey(t *testing.T) {
	resp := get(t, newTestAPI(&fakeStore{err: context.DeadlineExceeded}, nil), "/api/loupe/v1/logs", http.StatusServiceUnavailable)
	require.Equal(t, "timeout", resp.ErrorType)
	require.Contains(t, resp.Error, "limit query.timeout")
}
