package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// sendMetrics records a counter, a histogram and a gauge with the OTel SDK and exports
// them twice, 1.1s apart, so that rate() has two samples per series.
func sendMetrics(t *testing.T, ctx context.Context, s *server, tr transport) {
	t.Helper()
	mp := newMeterProvider(t, ctx, s, tr, "frontend")
	m := mp.Meter("e2e")
	requests, err := m.Int64Counter("http.server.requests", metric.WithUnit("{request}"), metric.WithDescription("Requests served."))
	require.NoError(t, err)
	duration, err := m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 0.25, 0.5, 1, 2.5))
	require.NoError(t, err)
	depth, err := m.Int64Gauge("queue.depth", metric.WithDescription("Jobs waiting."))
	require.NoError(t, err)

	record := func(n int) {
		for i := 0; i < n; i++ {
			requests.Add(ctx, 1, metric.WithAttributes(attribute.String("http.route", "/checkout")))
			requests.Add(ctx, 2, metric.WithAttributes(attribute.String("http.route", "/cart")))
			duration.Record(ctx, 0.3, metric.WithAttributes(attribute.String("http.route", "/checkout")))
		}
		depth.Record(ctx, 7)
	}
	record(10)
	require.NoError(t, mp.ForceFlush(ctx))
	time.Sleep(1100 * time.Millisecond) // distinct sample timestamps (ms resolution) for rate()
	record(10)
	require.NoError(t, mp.ForceFlush(ctx))
	require.NoError(t, mp.Shutdown(ctx))
}

type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

// instant runs a PromQL instant query and returns label set -> value.
func instant(t *testing.T, s *server, query string) map[string]float64 {
	t.Helper()
	var resp promResponse
	getJSON(t, s.HTTP+"/api/v1/query?query="+url.QueryEscape(query), 200, &resp)
	require.Equal(t, "success", resp.Status)
	out := map[string]float64{}
	for _, r := range resp.Data.Result {
		v, err := strconv.ParseFloat(r.Value[1].(string), 64)
		require.NoError(t, err)
		out[fmt.Sprint(r.Metric)] = v
	}
	return out
}

func TestOTLPMetricsQueriedWithPromQL(t *testing.T) {
	for _, tr := range []transport{viaGRPC, viaHTTP} {
		t.Run(string(tr), func(t *testing.T) {
			ctx := testContext(t)
			s := startServer(t, t.TempDir())
			sendMetrics(t, ctx, s, tr)

			got := instant(t, s, `sum by (http_route) (rate(http_server_requests_total{job="frontend"}[5m]))`)
			require.Len(t, got, 2, "%v", got)
			// 10 then 20 requests to /checkout 1.1s apart, 20 then 40 to /cart: /cart's rate is twice /checkout's.
			checkout, cart := got["map[http_route:/checkout]"], got["map[http_route:/cart]"]
			require.Greater(t, checkout, 0.0)
			require.InDelta(t, 2.0, cart/checkout, 1e-9)

			// Every observation is 0.3s, in the (0.25, 0.5] bucket.
			q := instant(t, s, `histogram_quantile(0.5, sum by (le) (rate(http_server_request_duration_seconds_bucket[5m])))`)
			require.Len(t, q, 1)
			for _, v := range q {
				require.Greater(t, v, 0.25)
				require.LessOrEqual(t, v, 0.5)
			}
			require.Equal(t, map[string]float64{"map[]": 20}, instant(t, s, `sum(http_server_request_duration_seconds_count)`))

			gauge := instant(t, s, `queue_depth`)
			require.Len(t, gauge, 1)
			for labels, v := range gauge {
				require.Equal(t, 7.0, v)
				require.Contains(t, labels, "job:frontend")
				require.Contains(t, labels, "instance:frontend-1")
			}
			// Resource attributes are reachable through target_info.
			require.Len(t, instant(t, s, `target_info{job="frontend",deployment_environment="e2e"}`), 1)
		})
	}
}

func TestPromtoolQueries(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is installed by `make test` (Debian package prometheus)")
	ctx := testContext(t)
	s := startServer(t, t.TempDir())
	sendMetrics(t, ctx, s, viaGRPC)

	out, err := exec.CommandContext(ctx, promtool, "query", "instant", s.HTTP, `queue_depth{job="frontend"}`).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Regexp(t, `queue_depth\{.*job="frontend".*\} => 7 @\[`, string(out))

	end := time.Now().Add(2 * time.Second) // past the second export, whose timestamp may fall in this second
	out, err = exec.CommandContext(ctx, promtool, "query", "range",
		"--start", strconv.FormatInt(end.Add(-time.Minute).Unix(), 10), "--end", strconv.FormatInt(end.Unix(), 10),
		"--step", "15s", s.HTTP, `sum(http_server_requests_total)`).CombinedOutput()
	require.NoError(t, err, "%s", out)
	// The last exported total: 10*1 + 10*2 per export, twice.
	require.Contains(t, string(out), "{} =>")
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Contains(t, lines[len(lines)-1], "60 @[", "%s", out)
}
