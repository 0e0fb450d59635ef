package prom_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
	"github.com/loupe-dev/loupe/internal/store/tsdb/tsdbtest"
)

// The fixture: 11 points 30s apart starting at base, so that at evalTime = base+5m every
// [5m] range holds a perfectly linear counter.
const (
	points = 11
	step   = 30 * time.Second
)

func fixtureBase() time.Time {
	return time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
}

// writeFixture writes counters, a gauge, a classic histogram, an exponential histogram
// and a summary for two instances.
//
//   - http_requests_total: route=/a grows 1/s on i-1 and 3/s on i-2; route=/b 2/s on i-1.
//   - latency_seconds (classic): per step +10 in le=0.1, +60 in (0.1,0.5], +25 in
//     (0.5,1], +5 above 1; the 0.9 quantile of its rate is 0.9.
//   - rpc_duration_seconds (native, scale 0): per step +50 in (1,2], +30 in (2,4],
//     +20 in (4,8]; the median of its rate is 2.
func writeFixture(t *testing.T, s *tsdb.Store, base time.Time) {
	t.Helper()
	for _, inst := range []struct {
		id    string
		rates map[string]float64
	}{
		{"i-1", map[string]float64{"/a": 1, "/b": 2}},
		{"i-2", map[string]float64{"/a": 3}},
	} {
		b := tsdbtest.NewBatch(map[string]string{"service.name": "api", "service.instance.id": inst.id, "host.name": "node-" + inst.id})
		for route, rate := range inst.rates {
			values := make([]float64, points)
			for i := range values {
				values[i] = rate * step.Seconds() * float64(i)
			}
			b.Sum("http.requests", "", map[string]string{"route": route}, base, step, values...)
		}
		b.Gauge("process.memory.usage", "By", nil, base.Add(5*time.Minute), 0, 4096)
		var hist []tsdbtest.HistogramPoint
		var native []tsdbtest.ExpHistogramPoint
		for i := range points {
			n := uint64(i)
			at := base.Add(time.Duration(i) * step)
			hist = append(hist, tsdbtest.HistogramPoint{T: at, Bounds: []float64{0.1, 0.5, 1}, Counts: []uint64{10 * n, 60 * n, 25 * n, 5 * n}, Sum: 50 * float64(n)})
			native = append(native, tsdbtest.ExpHistogramPoint{T: at, Scale: 0, Offset: 0, Counts: []uint64{50 * n, 30 * n, 20 * n}, Sum: 300 * float64(n)})
		}
		b.Histogram("latency", "s", nil, hist...)
		b.ExpHistogram("rpc.duration", "s", nil, native...)
		b.Summary("gc.pause", "s", nil, base.Add(5*time.Minute), 10, 3, map[float64]float64{0.5: 0.2, 0.99: 0.9})
		require.NoError(t, s.WriteMetrics(context.Background(), b.Metrics))
	}
}

// env is a metric store with the fixture behind the API on an httptest server.
type env struct {
	store *tsdb.Store
	srv   *httptest.Server
	base  time.Time
	dir   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	s, err := tsdb.Open(dir, tsdb.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	e := &env{store: s, base: fixtureBase(), dir: dir}
	writeFixture(t, s, e.base)
	e.serve(t)
	t.Cleanup(func() { require.NoError(t, e.store.Close()) })
	return e
}

func (e *env) serve(t *testing.T) {
	t.Helper()
	opts := prom.DefaultOptions()
	opts.Version = "1.2.3-test"
	api, err := prom.New(e.store, opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(prom.Prefix+"/", api)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() { require.NoError(t, api.Close()) })
}

func (e *env) evalTime() time.Time { return e.base.Add(5 * time.Minute) }

// response is Prometheus' API envelope.
type response struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Infos     []string        `json:"infos"`
}

// get calls path with params (GET) and decodes the envelope.
func (e *env) get(t *testing.T, path string, params url.Values) (int, response) {
	t.Helper()
	resp, err := http.Get(e.srv.URL + path + "?" + params.Encode())
	require.NoError(t, err)
	return decode(t, resp)
}

// post calls path with form params (POST), as promtool and Grafana do for queries.
func (e *env) post(t *testing.T, path string, params url.Values) (int, response) {
	t.Helper()
	resp, err := http.Post(e.srv.URL+path, "application/x-www-form-urlencoded", strings.NewReader(params.Encode()))
	require.NoError(t, err)
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, response) {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r response
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	return resp.StatusCode, r
}

func unmarshal[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(raw, &v), string(raw))
	return v
}
