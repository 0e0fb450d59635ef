package tempo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A search whose deadline passed is answered 503 naming query.timeout, the key to raise
// (issue 18).
func TestTimeoutNamesConfigKey(t *testing.T) {
	a, _ := newTestAPI(t)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/search?q=%7B%7D", nil).WithContext(ctx))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "limit query.timeout")
}
