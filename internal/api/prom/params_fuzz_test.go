package prom_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// paramEndpoints are the read endpoints Grafana and promtool call, with the parameters
// each takes besides the fuzzed one.
var paramEndpoints = []struct {
	path string
	base url.Values
}{
	{"/api/v1/query", url.Values{"query": {"up"}}},
	{"/api/v1/query_range", url.Values{"query": {"up"}, "start": {"0"}, "end": {"60"}, "step": {"15"}}},
	{"/api/v1/series", url.Values{"match[]": {"up"}}},
	{"/api/v1/labels", url.Values{}},
	{"/api/v1/label/job/values", url.Values{}},
	{"/api/v1/metadata", url.Values{}},
	{"/api/v1/query_exemplars", url.Values{"query": {"up"}}},
	{"/api/v1/format_query", url.Values{"query": {"up"}}},
	{"/api/v1/parse_query", url.Values{"query": {"up"}}},
	{"/api/v1/targets", url.Values{}},
	{"/api/v1/status/tsdb", url.Values{}},
}

// FuzzAPIParams sets one parameter of one read endpoint to an arbitrary value, by GET and
// by POST form: the answer is a success or a client error (4xx), never a crash or a 5xx.
func FuzzAPIParams(f *testing.F) {
	for _, s := range []struct {
		endpoint uint8
		name     string
		value    string
	}{
		{0, "time", "-1e300"}, {1, "step", "0.0001"}, {1, "end", "9223372036854775807"}, {2, "match[]", `{__name__=~".*"}`},
		{3, "match[]", `{job="a"}`}, {4, "start", "2020-01-01T00:00:00Z"}, {5, "limit", "-5"}, {5, "limit_per_metric", "x"},
		{5, "metric", ""}, {6, "start", "NaN"}, {7, "query", "sum(rate(x[5m]))by(a)"}, {9, "state", "any"},
		{10, "limit", "0"}, {0, "timeout", "-1s"}, {0, "lookback_delta", "1y"}, {1, "query", "x[1m:1ms]"},
	} {
		f.Add(s.endpoint, s.name, s.value)
	}
	s, err := tsdb.Open(f.TempDir(), tsdb.DefaultOptions(), nil, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	opts := prom.DefaultOptions()
	opts.QueryTimeout = 5 * time.Second
	api, err := prom.New(s, opts, nil, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = api.Close() })

	f.Fuzz(func(t *testing.T, endpoint uint8, name, value string) {
		ep := paramEndpoints[int(endpoint)%len(paramEndpoints)]
		params := url.Values{}
		for k, v := range ep.base {
			params[k] = v
		}
		params.Set(name, value)
		for _, r := range []*http.Request{
			httptest.NewRequest(http.MethodGet, ep.path+"?"+params.Encode(), nil),
			postForm(ep.path, params),
		} {
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, r)
			// 503 is a query timeout, which a fuzzed subquery step can reach.
			if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("%s %s %s=%q: %d %s", r.Method, ep.path, name, value, rec.Code, rec.Body.String())
			}
		}
	})
}

func postForm(path string, params url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(params.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}
