package profiles

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzQuery: any query string on any route answers 200 or 400 (404 for unknown label
// paths does not arise: every name is a route), never a panic or a 500.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{
		"type=process_cpu:cpu:nanoseconds:cpu:nanoseconds&query=%7Bservice_name%3D%22api%22%7D&start=now-1h",
		"type=a:b:c::&query={a=~\"(\"}&max_nodes=99999999999",
		"start=1765022400000&end=1765022401",
		"step=1e300&group_by=x&span_id=00000000000000a1",
		"left_query={}&right_start=now-5m&function=main.work&limit=0",
	} {
		f.Add("flamegraph", seed)
		f.Add("series", seed)
	}
	a := New(testDataF(f), nil)
	f.Fuzz(func(t *testing.T, route, query string) {
		switch route {
		case "types", "labels", "labels/x/values", "flamegraph", "diff", "series", "spans", "pprof":
		default:
			route = "flamegraph"
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = Prefix + route
		r.URL.RawQuery = query
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s?%s: %d %s", route, query, rec.Code, rec.Body)
		}
	})
}
