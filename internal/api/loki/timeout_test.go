package loki

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/duck"
)

// A LogQL query whose deadline passed is answered 504 naming query.timeout, the key to
// raise (issue 18).
func TestTimeoutNamesConfigKey(t *testing.T) {
	st, err := duck.Open(filepath.Join(t.TempDir(), "t.duckdb"), duck.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	writeLogs(t, st, "api", t0, 10, func(int) string { return "line" })
	h := NewHandler(st.LogQL(), DefaultOptions(), nil, prometheus.NewRegistry())

	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	q := url.Values{"query": {`{service_name="api"}`}, "start": {"1767225600"}, "end": {"1767229200"}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+"query_range?"+q.Encode(), nil).WithContext(ctx))
	require.Equal(t, http.StatusGatewayTimeout, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "limit query.timeout")
}
