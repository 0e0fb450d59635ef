package jaeger

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/api/tempo/internal/testtraces"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// FuzzQueryString sends arbitrary query strings to the search, operations, dependencies and
// trace routes: the answer is Jaeger's JSON envelope with a success or a client error,
// never a 5xx or a panic.
func FuzzQueryString(f *testing.F) {
	for _, s := range []string{
		"service=frontend", "service=frontend&operation=GET&limit=5&lookback=2h",
		"service=a&tags=%7B%22http.status_code%22%3A%22500%22%7D", "service=a&tags=notjson",
		"service=a&minDuration=1ms&maxDuration=1h&start=0&end=99999999999999", "start=-1&end=1e300",
		"endTs=1&lookback=1d", "%zz", "limit=100000", "service=a&tags=%7B%7D&minDuration=1y",
	} {
		f.Add(s, "0af7651916cd43dd8448eb211c80319c")
	}
	st, err := duck.Open(filepath.Join(f.TempDir(), "loupe.duckdb"), duck.DefaultOptions(), nil, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	if err := st.WriteTraces(f.Context(), testtraces.Traces()); err != nil {
		f.Fatal(err)
	}
	a := New(st, nil)
	a.now = func() time.Time { return testtraces.Base.Add(10 * time.Minute) }
	f.Fuzz(func(t *testing.T, raw, id string) {
		for _, path := range []string{"api/traces", "api/operations", "api/dependencies", "api/services"} {
			req := httptest.NewRequest(http.MethodGet, Prefix+path, nil)
			req.URL.RawQuery = raw
			check(t, a, req)
		}
		req := httptest.NewRequest(http.MethodGet, Prefix+"api/traces/x", nil)
		req.SetPathValue("id", id)
		req.URL.Path = Prefix + "api/traces/" + id
		req.URL.RawPath = ""
		check(t, a, req)
	})
}

func check(t *testing.T, a *API, req *http.Request) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s?%s: %d %s", req.URL.Path, req.URL.RawQuery, rec.Code, rec.Body.String())
	}
	var resp response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("%s?%s: body is not JSON: %v: %s", req.URL.Path, req.URL.RawQuery, err, rec.Body.String())
	}
}
