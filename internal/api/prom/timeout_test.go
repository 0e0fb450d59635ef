package prom_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// A PromQL query that runs past the engine's timeout is answered 503 "timeout" naming
// query.timeout, the key to raise, compressed or not (Prometheus says only "query timed
// out in query execution", and answered a timeout while waiting for an engine slot as a
// 422 "execution" error).
func TestQueryTimeoutNamesConfigKey(t *testing.T) {
	s, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	opts := prom.DefaultOptions()
	opts.QueryTimeout = time.Nanosecond
	api, err := prom.New(s, opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, api.Close()) })

	for _, gz := range []bool{false, true} {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/query?query=vector(1)", nil)
		if gz {
			r.Header.Set("Accept-Encoding", "gzip")
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
		var body io.Reader = w.Body
		if gz {
			require.Equal(t, "gzip", w.Header().Get("Content-Encoding"))
			zr, err := gzip.NewReader(w.Body)
			require.NoError(t, err)
			body = zr
		}
		b, err := io.ReadAll(body)
		require.NoError(t, err)
		require.Contains(t, string(b), `"errorType":"timeout"`)
		// The 1ns deadline passes while the query waits for an engine slot or evaluates.
		require.Regexp(t, `query timed out in (waiting for a query slot|query execution): the query ran longer than 1ns \(limit query.timeout\)`, string(b))
	}
}
