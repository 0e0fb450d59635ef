package tempo

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/tempo/internal/testtraces"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// newTestAPI opens a real DuckDB store in a temp dir, writes the seeded traces, and
// returns the API with its clock pinned ten minutes after the first span.
func newTestAPI(t testing.TB) (*API, *duck.Store) {
	t.Helper()
	st, err := duck.Open(filepath.Join(t.TempDir(), "loupe.duckdb"), duck.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.WriteTraces(context.Background(), testtraces.Traces()))
	a := New(st, nil)
	a.now = func() time.Time { return testtraces.Base.Add(10 * time.Minute) }
	return a, st
}

// get performs a request against h and returns the status, content type and body.
func get(t testing.TB, h http.Handler, target string, header ...string) (int, string, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, rec.Header().Get("Content-Type"), body
}

// golden compares got with testdata/<name>, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	require.Equal(t, string(want), string(got), "response differs from %s (go test -update rewrites it)", path)
}
