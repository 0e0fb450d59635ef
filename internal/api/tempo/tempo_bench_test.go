package tempo

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/loupe-dev/loupe/internal/api/tempo/internal/testtraces"
)

// BenchmarkParseTraceQL measures the parser on the query Grafana's search builder writes.
func BenchmarkParseTraceQL(b *testing.B) {
	q := `{ resource.service.name = "api" && span.http.route = "/users" && duration > 100ms && status = error }`
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := parseTraceQL(q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkHTTP measures whole requests over the seeded DuckDB store: the cost the API
// adds to the store's lookups (encoding, matching spans for spanSets).
func BenchmarkHTTP(b *testing.B) {
	a, _ := newTestAPI(b)
	for _, tc := range []struct{ name, target, accept string }{
		{"trace-protobuf", "/api/traces/" + testtraces.CheckoutID, "application/protobuf"},
		{"trace-json", "/api/traces/" + testtraces.CheckoutID, "application/json"},
		{"search-traceql", "/api/search?q=" + url.QueryEscape(`{resource.service.name="db" && duration > 10ms}`) +
			"&start=1772600000&end=1772601000", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodGet, tc.target, nil)
				req.Header.Set("Accept", tc.accept)
				rec := httptest.NewRecorder()
				a.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", tc.target, rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
		})
	}
}
