package prom_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
	"github.com/loupe-dev/loupe/internal/store/tsdb/tsdbtest"
)

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

type queryData struct {
	ResultType string   `json:"resultType"`
	Result     []sample `json:"result"`
}

func value(t *testing.T, v [2]any) float64 {
	t.Helper()
	s, ok := v[1].(string)
	require.True(t, ok, "value %v", v)
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return f
}

// instant runs an instant query at the fixture's evaluation time and returns the vector
// keyed by the given label's value.
func (e *env) instant(t *testing.T, expr, by string) map[string]float64 {
	t.Helper()
	code, r := e.post(t, "/api/v1/query", url.Values{"query": {expr}, "time": {strconv.FormatInt(e.evalTime().Unix(), 10)}})
	require.Equal(t, http.StatusOK, code, r.Error)
	require.Equal(t, "success", r.Status)
	d := unmarshal[queryData](t, r.Data)
	require.Equal(t, "vector", d.ResultType)
	out := map[string]float64{}
	for _, s := range d.Result {
		out[s.Metric[by]] = value(t, s.Value)
	}
	return out
}

func TestQueries(t *testing.T) {
	e := newEnv(t)
	f := func(expr, by string, want map[string]float64) {
		t.Helper()
		got := e.instant(t, expr, by)
		require.Len(t, got, len(want), "%s: %v", expr, got)
		for k, w := range want {
			require.InDelta(t, w, got[k], 1e-9, "%s{%s=%q}", expr, by, k)
		}
	}
	f(`rate(http_requests_total{instance="i-1"}[5m])`, "route", map[string]float64{"/a": 1, "/b": 2})
	f(`sum by (route) (rate(http_requests_total[5m]))`, "route", map[string]float64{"/a": 4, "/b": 2})
	f(`sum by (job) (increase(http_requests_total[5m]))`, "job", map[string]float64{"api": 6 * 300})
	f(`histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket[5m])))`, "", map[string]float64{"": 0.9})
	f(`histogram_quantile(0.5, sum(rate(rpc_duration_seconds[5m])))`, "", map[string]float64{"": 2})
	f(`histogram_count(sum(rate(rpc_duration_seconds[5m])))`, "", map[string]float64{"": 2 * 100.0 / 30})
	f(`gc_pause_seconds{quantile="0.99"}`, "instance", map[string]float64{"i-1": 0.9, "i-2": 0.9})
	f(`process_memory_usage_bytes`, "instance", map[string]float64{"i-1": 4096, "i-2": 4096})
	f(`count by (host_name) (target_info)`, "host_name", map[string]float64{"node-i-1": 1, "node-i-2": 1})
}

func TestQueryRange(t *testing.T) {
	e := newEnv(t)
	start := e.base.Add(2 * time.Minute)
	code, r := e.get(t, "/api/v1/query_range", url.Values{
		"query": {`sum(rate(http_requests_total[2m]))`},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(e.evalTime().Unix(), 10)},
		"step":  {"60"},
	})
	require.Equal(t, http.StatusOK, code, r.Error)
	d := unmarshal[queryData](t, r.Data)
	require.Equal(t, "matrix", d.ResultType)
	require.Len(t, d.Result, 1)
	require.Len(t, d.Result[0].Values, 4)
	for i, v := range d.Result[0].Values {
		require.Equal(t, float64(start.Add(time.Duration(i)*time.Minute).Unix()), v[0])
		require.InDelta(t, 6.0, value(t, v), 1e-9)
	}
}

func TestSeriesLabelsMetadata(t *testing.T) {
	e := newEnv(t)
	code, r := e.get(t, "/api/v1/series", url.Values{"match[]": {"http_requests_total"}})
	require.Equal(t, http.StatusOK, code, r.Error)
	series := unmarshal[[]map[string]string](t, r.Data)
	require.ElementsMatch(t, []map[string]string{
		{"__name__": "http_requests_total", "job": "api", "instance": "i-1", "route": "/a"},
		{"__name__": "http_requests_total", "job": "api", "instance": "i-1", "route": "/b"},
		{"__name__": "http_requests_total", "job": "api", "instance": "i-2", "route": "/a"},
	}, series)

	code, r = e.get(t, "/api/v1/labels", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []string{"__name__", "host_name", "instance", "job", "le", "quantile", "route"}, unmarshal[[]string](t, r.Data))

	code, r = e.get(t, "/api/v1/label/route/values", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []string{"/a", "/b"}, unmarshal[[]string](t, r.Data))

	code, r = e.get(t, "/api/v1/label/__name__/values", nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, unmarshal[[]string](t, r.Data), "rpc_duration_seconds")

	type meta struct{ Type, Help, Unit string }
	code, r = e.get(t, "/api/v1/metadata", nil)
	require.Equal(t, http.StatusOK, code)
	all := unmarshal[map[string][]meta](t, r.Data)
	require.Equal(t, []meta{{Type: "counter", Help: "sum http.requests"}}, all["http_requests_total"])
	require.Equal(t, []meta{{Type: "histogram", Help: "histogram latency", Unit: "s"}}, all["latency_seconds"])
	require.Equal(t, []meta{{Type: "histogram", Help: "exponential histogram rpc.duration", Unit: "s"}}, all["rpc_duration_seconds"])
	require.Equal(t, []meta{{Type: "summary", Help: "summary gc.pause", Unit: "s"}}, all["gc_pause_seconds"])
	require.Equal(t, []meta{{Type: "gauge", Help: "gauge process.memory.usage", Unit: "By"}}, all["process_memory_usage_bytes"])

	code, r = e.get(t, "/api/v1/metadata", url.Values{"metric": {"latency_seconds"}})
	require.Equal(t, http.StatusOK, code)
	require.Len(t, unmarshal[map[string][]meta](t, r.Data), 1)
	code, r = e.get(t, "/api/v1/metadata", url.Values{"limit": {"2"}})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []string{"gc_pause_seconds", "http_requests_total"}, keys(unmarshal[map[string][]meta](t, r.Data)))
	code, r = e.get(t, "/api/v1/metadata", url.Values{"limit": {"x"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, response{Status: "error", ErrorType: "bad_data", Error: "limit must be a number"}, r)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	f := func(path string, params url.Values, wantCode int, wantType, wantErr string) {
		t.Helper()
		code, r := e.get(t, path, params)
		require.Equal(t, wantCode, code, r.Error)
		require.Equal(t, "error", r.Status)
		require.Equal(t, wantType, r.ErrorType)
		require.Contains(t, r.Error, wantErr)
	}
	f("/api/v1/query", url.Values{"query": {"rate(x[5m]"}}, 400, "bad_data", "unclosed left parenthesis")
	f("/api/v1/query", url.Values{"query": {""}}, 400, "bad_data", "no expression found in input")
	f("/api/v1/query", url.Values{"query": {"up"}, "time": {"yesterday"}}, 400, "bad_data", `cannot parse "yesterday" to a valid timestamp`)
	f("/api/v1/query_range", url.Values{"query": {"up"}, "start": {"10"}, "end": {"5"}, "step": {"1"}}, 400, "bad_data", "end timestamp must not be before start time")
	f("/api/v1/query_range", url.Values{"query": {"up"}, "start": {"0"}, "end": {"1000000"}, "step": {"1"}}, 400, "bad_data", "exceeded maximum resolution")
	f("/api/v1/query", url.Values{"query": {`http_requests_total + on(job) http_requests_total`}, "time": {strconv.FormatInt(e.evalTime().Unix(), 10)}}, 422, "execution", "many-to-many matching not allowed")
	f("/api/v1/series", nil, 400, "bad_data", "no match[] parameter provided")
	f("/api/v1/status/tsdb", url.Values{"limit": {"0"}}, 400, "bad_data", "limit must be a positive number")
}

func TestStatusAndEmptyLists(t *testing.T) {
	e := newEnv(t)
	get := func(path string, params url.Values) json.RawMessage {
		t.Helper()
		code, r := e.get(t, path, params)
		require.Equal(t, http.StatusOK, code, "%s: %s", path, r.Error)
		require.Equal(t, "success", r.Status)
		return r.Data
	}
	require.JSONEq(t, fmt.Sprintf(`{"version":"1.2.3-test","revision":"","branch":"","buildUser":"loupe","buildDate":"","goVersion":%q}`,
		unmarshal[map[string]string](t, get("/api/v1/status/buildinfo", nil))["goVersion"]), string(get("/api/v1/status/buildinfo", nil)))
	rt := unmarshal[map[string]any](t, get("/api/v1/status/runtimeinfo", nil))
	require.Equal(t, "1w", rt["storageRetention"])
	require.Equal(t, "5m", unmarshal[map[string]string](t, get("/api/v1/status/flags", nil))["query.lookback-delta"])
	require.Contains(t, unmarshal[map[string]string](t, get("/api/v1/status/config", nil))["yaml"], "global:")
	require.JSONEq(t, `{"activeTargets":[],"droppedTargets":[],"droppedTargetCounts":{}}`, string(get("/api/v1/targets", nil)))
	require.JSONEq(t, `{"groups":[]}`, string(get("/api/v1/rules", nil)))
	require.JSONEq(t, `{"alerts":[]}`, string(get("/api/v1/alerts", nil)))
	require.JSONEq(t, `{"activeAlertmanagers":[],"droppedAlertmanagers":[]}`, string(get("/api/v1/alertmanagers", nil)))
	require.JSONEq(t, `"sum by (route) (rate(x[5m]))"`, string(get("/api/v1/format_query", url.Values{"query": {"sum(rate(x[5m]))by(route)"}})))
	require.Contains(t, string(get("/api/v1/parse_query", url.Values{"query": {"up"}})), `"type":"vectorSelector"`)
	tsdbStatus := unmarshal[map[string]any](t, get("/api/v1/status/tsdb", nil))
	require.Greater(t, tsdbStatus["headStats"].(map[string]any)["numSeries"], 10.0)
	require.NotNil(t, get("/api/v1/query_exemplars", url.Values{"query": {"http_requests_total"}}))
}

func TestRemoteWrite(t *testing.T) {
	e := newEnv(t)
	at := e.evalTime().UnixMilli()
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "rw_metric"}, {Name: "job", Value: "rw"}},
		Samples: []prompb.Sample{{Value: 42, Timestamp: at}},
	}}}
	raw, err := proto.Marshal(req)
	require.NoError(t, err)
	hreq, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, raw)))
	require.NoError(t, err)
	hreq.Header.Set("Content-Type", "application/x-protobuf")
	hreq.Header.Set("Content-Encoding", "snappy")
	hreq.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(hreq)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, map[string]float64{"rw": 42}, e.instant(t, "rw_metric", "job"))
}

func TestExemplars(t *testing.T) {
	e := newEnv(t)
	b := tsdbtest.NewBatch(map[string]string{"service.name": "ex"})
	m := b.Sum("checkouts", "", nil, e.evalTime(), 0, 3)
	ex := m.Sum().DataPoints().At(0).Exemplars().AppendEmpty()
	ex.SetTimestamp(pcommon.NewTimestampFromTime(e.evalTime()))
	ex.SetDoubleValue(1)
	ex.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	require.NoError(t, e.store.WriteMetrics(t.Context(), b.Metrics))

	code, r := e.get(t, "/api/v1/query_exemplars", url.Values{
		"query": {"checkouts_total"},
		"start": {strconv.FormatInt(e.base.Unix(), 10)},
		"end":   {strconv.FormatInt(e.evalTime().Unix()+1, 10)},
	})
	require.Equal(t, http.StatusOK, code, r.Error)
	type exemplar struct {
		Labels map[string]string `json:"labels"`
		Value  string            `json:"value"`
	}
	got := unmarshal[[]struct {
		SeriesLabels map[string]string `json:"seriesLabels"`
		Exemplars    []exemplar        `json:"exemplars"`
	}](t, r.Data)
	require.Len(t, got, 1)
	require.Equal(t, "ex", got[0].SeriesLabels["job"])
	require.Equal(t, []exemplar{{Labels: map[string]string{"trace_id": "0102030405060708090a0b0c0d0e0f10"}, Value: "1"}}, got[0].Exemplars)
}

func TestRestartKeepsDataAndMetadata(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.store.Close())
	s, err := tsdb.Open(e.dir, tsdb.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	e.store = s
	e.serve(t)
	require.Equal(t, map[string]float64{"/a": 4, "/b": 2}, roundAll(e.instant(t, `sum by (route) (rate(http_requests_total[5m]))`, "route")))
	code, r := e.get(t, "/api/v1/metadata", url.Values{"metric": {"http_requests_total"}})
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"http_requests_total":[{"type":"counter","help":"sum http.requests","unit":""}]}`, string(r.Data))
}

func roundAll(m map[string]float64) map[string]float64 {
	for k, v := range m {
		m[k] = float64(int64(v*1e6+0.5)) / 1e6
	}
	return m
}

func TestOptionsValidate(t *testing.T) {
	o := prom.DefaultOptions()
	o.MaxSamples = 0
	_, err := prom.New(nil, o, nil, nil)
	require.ErrorContains(t, err, "max samples must be positive")
	o = prom.DefaultOptions()
	o.CORSOrigin = "("
	require.ErrorContains(t, o.Validate(), "CORS origin")
}
