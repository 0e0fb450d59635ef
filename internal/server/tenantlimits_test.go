package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// limitsServer starts a server with tenants (enabled or not) and the limits set by edit.
func limitsServer(t *testing.T, enabled bool, edit func(*config.TenantsConfig)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.ListenConfig{HTTP: "127.0.0.1:0", OTLPGRPC: "127.0.0.1:0", OTLPHTTP: "127.0.0.1:0"}
	cfg.Statsd.UDPAddr, cfg.Statsd.TCPAddr = "", ""
	cfg.Tenants.Enabled = enabled
	edit(&cfg.Tenants)
	require.NoError(t, cfg.Validate())
	s := New(cfg, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	return s
}

type answer struct {
	code int
	body string
	hdr  http.Header
}

// post sends body to addr+path for tenant org ("" names none).
func post(t *testing.T, addr, path, org, contentType string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+addr+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if org != "" {
		req.Header.Set(tenant.Header, org)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}
}

// lokiPush pushes n log lines of the given length for org through Loki's push API.
func lokiPush(t *testing.T, s *Server, org string, n, length int) answer {
	t.Helper()
	var values []string
	now := time.Now().UnixNano()
	for i := range n {
		values = append(values, fmt.Sprintf(`["%d",%q]`, now+int64(i), strings.Repeat("x", length)))
	}
	body := `{"streams":[{"stream":{"service_name":"svc"},"values":[` + strings.Join(values, ",") + `]}]}`
	return post(t, s.HTTPAddr(), "/loki/api/v1/push", org, "application/json", []byte(body))
}

func get(t *testing.T, s *Server, path, org string) string {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+s.HTTPAddr()+path, nil)
	require.NoError(t, err)
	if org != "" {
		req.Header.Set(tenant.Header, org)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return string(b)
}

// remoteWrite sends one sample per series name (as label k of metric m) for org.
func remoteWrite(t *testing.T, s *Server, org string, ts time.Time, ks ...string) answer {
	t.Helper()
	var req prompb.WriteRequest
	for _, k := range ks {
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
			Labels:  []prompb.Label{{Name: "__name__", Value: "m"}, {Name: "k", Value: k}},
			Samples: []prompb.Sample{{Value: 1, Timestamp: ts.UnixMilli()}},
		})
	}
	raw, err := req.Marshal()
	require.NoError(t, err)
	return post(t, s.HTTPAddr(), "/api/v1/write", org, "application/x-protobuf", snappy.Encode(nil, raw))
}

// The rates are low enough (one item in 1000 s) that no refill happens during the test:
// nothing depends on the wall clock.
const frozenRate = 0.001

// A tenant over its ingest_rate is answered 429 naming the tenant and the limit, by Loki
// push, OTLP/HTTP, OTLP/gRPC and remote write, while another tenant keeps ingesting; the
// default tenant has the limits too; refusals are counted in the tenant's self-metrics.
func TestTenantIngestRateLimit(t *testing.T) {
	rate, burst := frozenRate, 3
	s := limitsServer(t, true, func(c *config.TenantsConfig) {
		c.Limits = tenant.Limits{IngestRate: frozenRate, IngestBurst: 10}
		c.Overrides = map[string]config.LimitsOverride{"team-a": {IngestRate: &rate, IngestBurst: &burst}}
	})
	const want = `tenant "team-a": tenants.limits.ingest_rate of 0.001 items/s exceeded`

	a := lokiPush(t, s, "team-a", 3, 10)
	require.Equal(t, http.StatusNoContent, a.code, a.body)
	a = lokiPush(t, s, "team-a", 1, 10)
	require.Equal(t, http.StatusTooManyRequests, a.code, a.body)
	require.Contains(t, a.body, want)
	require.NotEmpty(t, a.hdr.Get("Retry-After"))
	a = lokiPush(t, s, "team-b", 5, 10) // its own bucket, of the default burst
	require.Equal(t, http.StatusNoContent, a.code, a.body)

	// OTLP/HTTP and OTLP/gRPC.
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("x")
	raw, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(t, err)
	a = post(t, s.receiver.HTTPAddr(), "/v1/logs", "team-a", "application/x-protobuf", raw)
	require.Equal(t, http.StatusTooManyRequests, a.code)
	require.Contains(t, a.body, want)
	conn, err := grpc.NewClient(s.receiver.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-scope-orgid", "team-a")
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
	st, _ := status.FromError(err)
	require.Equal(t, codes.ResourceExhausted, st.Code(), "%v", err)
	require.Contains(t, st.Message(), want)
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	require.NotNil(t, retry, "the rate's refusal says when to retry")
	require.Positive(t, retry.GetRetryDelay().AsDuration())
	ctx = metadata.AppendToOutgoingContext(context.Background(), "x-scope-orgid", "team-b")
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
	require.NoError(t, err, "team-b still has room")

	// Remote write.
	a = remoteWrite(t, s, "team-a", time.Now(), "1")
	require.Equal(t, http.StatusTooManyRequests, a.code, a.body)
	require.Contains(t, a.body, want)

	// The default tenant's burst of 10: 4 left after these 6.
	a = lokiPush(t, s, "", 6, 10)
	require.Equal(t, http.StatusNoContent, a.code, a.body)
	a = lokiPush(t, s, "", 5, 10)
	require.Equal(t, http.StatusTooManyRequests, a.code, a.body)
	require.Contains(t, a.body, `tenant "default": tenants.limits.ingest_rate of 0.001 items/s exceeded`)

	metrics := get(t, s, "/metrics", "team-a")
	require.Contains(t, metrics, `loupe_ingest_rejected_items_total{reason="ingest_rate",signal="logs"} 3`)
	require.Contains(t, metrics, `loupe_ingest_rejected_items_total{reason="ingest_rate",signal="metrics"} 1`)
}

// Limits work with tenants off: the server is the default tenant.
func TestTenantLimitsWithTenantsOff(t *testing.T) {
	s := limitsServer(t, false, func(c *config.TenantsConfig) {
		c.Limits = tenant.Limits{IngestRate: frozenRate, IngestBurst: 2}
	})
	a := lokiPush(t, s, "team-a", 2, 10) // the header is ignored
	require.Equal(t, http.StatusNoContent, a.code, a.body)
	a = lokiPush(t, s, "", 1, 10)
	require.Equal(t, http.StatusTooManyRequests, a.code, a.body)
	require.Contains(t, a.body, `tenant "default": tenants.limits.ingest_rate`)
}

// Over max_series, samples of new series are refused with 429 naming the limit and the
// samples of known series are stored: remote write and OTLP; another tenant is not limited.
func TestTenantMaxSeries(t *testing.T) {
	two := 2
	s := limitsServer(t, true, func(c *config.TenantsConfig) {
		c.Overrides = map[string]config.LimitsOverride{"team-a": {MaxSeries: &two}}
	})
	t0 := time.Now().Add(-time.Minute)
	a := remoteWrite(t, s, "team-a", t0, "a", "b")
	require.Equal(t, http.StatusNoContent, a.code, a.body)
	a = remoteWrite(t, s, "team-a", t0.Add(time.Second), "a", "c")
	require.Equal(t, http.StatusTooManyRequests, a.code, a.body)
	require.Contains(t, a.body, `tenant "team-a": tenants.limits.max_series of 2 exceeded`)
	require.Contains(t, a.body, `k="c"`)

	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("otlp_new")
	m.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(1)
	m.Gauge().DataPoints().At(0).SetTimestamp(pcommon.NewTimestampFromTime(t0))
	raw, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	require.NoError(t, err)
	a = post(t, s.receiver.HTTPAddr(), "/v1/metrics", "team-a", "application/x-protobuf", raw)
	require.Equal(t, http.StatusTooManyRequests, a.code)
	require.Contains(t, a.body, "tenants.limits.max_series of 2 exceeded")

	a = remoteWrite(t, s, "team-b", t0, "a", "b", "c")
	require.Equal(t, http.StatusNoContent, a.code, a.body)

	q := "/api/v1/query?query=count_over_time(m%5B5m%5D)"
	body := get(t, s, q, "team-a")
	require.Contains(t, body, `"k":"a"},"value":[`)
	require.Contains(t, body, `"2"]`, "the known series took its second sample: %s", body)
	require.Contains(t, body, `"k":"b"`)
	require.NotContains(t, body, `"k":"c"`)
	require.Contains(t, get(t, s, q, "team-b"), `"k":"c"`)
	require.Contains(t, get(t, s, "/metrics", "team-a"), `loupe_metrics_rejected_total{reason="max_series"} 2`)
}

// Over max_bytes_per_day a request is refused with 429 naming the limit; another tenant
// keeps ingesting.
func TestTenantMaxBytesPerDay(t *testing.T) {
	small := int64(500)
	s := limitsServer(t, true, func(c *config.TenantsConfig) {
		c.Overrides = map[string]config.LimitsOverride{"team-a": {MaxBytesPerDay: &small}}
	})
	a := lokiPush(t, s, "team-a", 1, 10)
	require.Equal(t, http.StatusNoContent, a.code, a.body)
	a = lokiPush(t, s, "team-a", 1, 1000)
	require.Equal(t, http.StatusTooManyRequests, a.code, a.body)
	require.Contains(t, a.body, `tenant "team-a": tenants.limits.max_bytes_per_day of 500 bytes exceeded`)
	require.Empty(t, a.hdr.Get("Retry-After"), "retrying soon does not help")
	a = lokiPush(t, s, "team-b", 1, 1000)
	require.Equal(t, http.StatusNoContent, a.code, a.body)
	a = lokiPush(t, s, "team-a", 1, 10)
	require.Equal(t, http.StatusNoContent, a.code, "what is left of the day's bytes still takes a small request: %s", a.body)
	require.Contains(t, get(t, s, "/metrics", "team-a"), `loupe_ingest_rejected_items_total{reason="max_bytes_per_day",signal="logs"} 1`)
}
