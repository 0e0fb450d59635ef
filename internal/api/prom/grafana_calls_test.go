package prom_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGrafanaDataSourceCalls makes the calls Grafana's Prometheus data source makes when
// it is saved and while a query is edited, by GET and by POST (its default method).
func TestGrafanaDataSourceCalls(t *testing.T) {
	e := newEnv(t)
	start, end := strconv.FormatInt(e.base.Unix(), 10), strconv.FormatInt(e.evalTime().Unix(), 10)
	both := func(path string, params url.Values) response {
		t.Helper()
		code, g := e.get(t, path, params)
		require.Equal(t, http.StatusOK, code, "GET %s: %s", path, g.Error)
		code, p := e.post(t, path, params)
		require.Equal(t, http.StatusOK, code, "POST %s: %s", path, p.Error)
		require.Equal(t, g, p, path)
		return g
	}

	code, r := e.get(t, "/api/v1/status/buildinfo", nil) // GET only, as in Prometheus
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "1.2.3-test", unmarshal[map[string]string](t, r.Data)["version"])

	// Label names of the matching series only (the label browser and the query builder).
	labels := unmarshal[[]string](t, both("/api/v1/labels", url.Values{
		"match[]": {"process_memory_usage_bytes"}, "start": {start}, "end": {end}}).Data)
	require.Equal(t, []string{"__name__", "instance", "job"}, labels)
	labels = unmarshal[[]string](t, both("/api/v1/labels", url.Values{
		"match[]": {`http_requests_total{route="/b"}`, "gc_pause_seconds"}, "start": {start}, "end": {end}}).Data)
	require.Equal(t, []string{"__name__", "instance", "job", "quantile", "route"}, labels)
	code, r = e.get(t, "/api/v1/label/route/values", url.Values{ // GET only, as in Prometheus
		"match[]": {`http_requests_total{instance="i-2"}`}, "start": {start}, "end": {end}})
	require.Equal(t, http.StatusOK, code, r.Error)
	require.Equal(t, []string{"/a"}, unmarshal[[]string](t, r.Data))

	require.Equal(t, `"sum by (route) (rate(http_requests_total[5m]))"`,
		string(both("/api/v1/format_query", url.Values{"query": {"sum(rate(http_requests_total[5m]))by(route)"}}).Data))
	require.JSONEq(t, `[]`, string(both("/api/v1/query_exemplars", url.Values{
		"query": {"latency_seconds_bucket"}, "start": {start}, "end": {end}}).Data))
}
