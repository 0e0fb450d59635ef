package statsd

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// recordingLogs is a LogConsumer that keeps what it is given.
type recordingLogs struct {
	mu      sync.Mutex
	records []plog.LogRecord
	res     []map[string]any
}

func (r *recordingLogs) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			lrs := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				r.records = append(r.records, lrs.At(k))
				r.res = append(r.res, rl.Resource().Attributes().AsRaw())
			}
		}
	}
	return nil
}

func (r *recordingLogs) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.records)
}

type harness struct {
	t      *testing.T
	r      *Receiver
	st     *tsdb.Store
	reg    *prometheus.Registry
	clock  func() time.Time
	logs   *recordingLogs
	engine *promql.Engine
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	return newHarnessWith(t, mutate, time.Now, nil)
}

// newHarnessWith runs the receiver and the queries on the given clock, with events going
// to logs, or to a recordingLogs when logs is nil.
func newHarnessWith(t *testing.T, mutate func(*Config), clock func() time.Time, logs LogConsumer) *harness {
	t.Helper()
	st, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	cfg := Default()
	cfg.UDPAddr, cfg.TCPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.FlushInterval = model.Duration(time.Hour) // tests flush explicitly
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{t: t, st: st, reg: prometheus.NewRegistry(), logs: &recordingLogs{}, clock: clock}
	if logs == nil {
		logs = h.logs
	}
	h.r, err = New(cfg, st, logs, nil, h.reg)
	require.NoError(t, err)
	h.r.now = clock
	require.NoError(t, h.r.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, h.r.Shutdown(context.Background())) })
	h.engine = promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	t.Cleanup(func() { _ = h.engine.Close() })
	return h
}

func (h *harness) sendUDP(packet string) {
	h.t.Helper()
	c, err := net.Dial("udp", h.r.UDPAddr().String())
	require.NoError(h.t, err)
	defer c.Close()
	_, err = c.Write([]byte(packet))
	require.NoError(h.t, err)
}

func (h *harness) sendTCP(stream string) {
	h.t.Helper()
	c, err := net.Dial("tcp", h.r.TCPAddr().String())
	require.NoError(h.t, err)
	_, err = c.Write([]byte(stream))
	require.NoError(h.t, err)
	require.NoError(h.t, c.Close())
}

// received is the number of lines the receiver has handled, good or bad.
func (h *harness) received() int {
	n := 0
	for _, name := range []string{"loupe_statsd_lines_total", "loupe_statsd_malformed_lines_total", "loupe_statsd_logs_dropped_total"} {
		mfs, err := h.reg.Gather()
		require.NoError(h.t, err)
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					n += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return n
}

// waitLines polls until n lines have been handled, then flushes.
func (h *harness) waitLines(n int) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.received() >= n }, 30*time.Second, 10*time.Millisecond,
		"received %d of %d lines", h.received(), n)
	require.NoError(h.t, h.r.Flush())
}

func (h *harness) query(expr string) map[string]float64 {
	h.t.Helper()
	q, err := h.engine.NewInstantQuery(context.Background(), h.st, nil, expr, h.clock().Add(time.Second))
	require.NoError(h.t, err)
	defer q.Close()
	res := q.Exec(context.Background())
	require.NoError(h.t, res.Err, expr)
	vec, err := res.Vector()
	require.NoError(h.t, err)
	out := map[string]float64{}
	for _, s := range vec {
		out[s.Metric.String()] = s.F
	}
	return out
}

func (h *harness) value(expr string) float64 {
	h.t.Helper()
	got := h.query(expr)
	require.Len(h.t, got, 1, "%s: %v", expr, got)
	for _, v := range got {
		return v
	}
	return 0
}

func (h *harness) malformed(reason string) float64 {
	return testutil.ToFloat64(h.r.metrics.malformed.WithLabelValues(reason))
}

func TestEveryLineTypeOverUDP(t *testing.T) {
	h := newHarness(t, nil)
	// One multi-metric packet, and single-line packets.
	h.sendUDP(strings.Join([]string{
		"api.requests:1|c|@0.1|#env:prod,route:/x",
		"api.requests:2|c|#env:prod,route:/x",
		"packed:1:2:3|c",
		"temp:20|g",
		"temp:+5|g",
		"temp:-3|g",
		"req-time:250|ms",
		"req-time:250|ms",
		"req-time:2000|ms|#env:prod",
		"basket.size:3|h",
		"pay.lat:0.3|d|@0.5",
		"users:alice|s",
		"users:bob|s",
		"users:alice|s",
	}, "\n") + "\n")
	h.sendUDP(`_e{6,11}:Deploy|v42 shipped|t:success|h:web-1|#service:shop,env:prod`)
	h.sendUDP(`_sc|db.up|2|h:db-1|#env:prod|m:connection refused`)
	h.waitLines(16)

	require.Equal(t, map[string]float64{
		`{__name__="api_requests_total", env="prod", job="statsd", route="/x"}`: 12,
	}, h.query(`api_requests_total`))
	require.Equal(t, 6.0, h.value(`packed_total`))
	require.Equal(t, 22.0, h.value(`temp{job="statsd"}`))
	// Timers are in seconds; the tagged one is its own series.
	require.Equal(t, 2.0, h.value(`req_time_count{env=""}`))
	require.Equal(t, 0.5, h.value(`req_time_sum{env=""}`))
	require.Equal(t, 2.0, h.value(`req_time_bucket{env="", le="0.25"}`))
	require.Equal(t, 0.0, h.value(`req_time_bucket{env="", le="0.1"}`))
	require.Equal(t, 1.0, h.value(`req_time_bucket{env="prod", le="2.5"}`))
	require.Equal(t, 0.0, h.value(`req_time_bucket{env="prod", le="1"}`))
	require.Equal(t, 1.0, h.value(`basket_size_bucket{le="+Inf"}`))
	require.Equal(t, 0.0, h.value(`basket_size_bucket{le="2.5"}`))
	require.Equal(t, 3.0, h.value(`basket_size_sum`))
	// Distributions are not scaled; sample rate 0.5 counts each value twice.
	require.Equal(t, 2.0, h.value(`pay_lat_count`))
	require.InDelta(t, 0.6, h.value(`pay_lat_sum`), 1e-9)
	require.Equal(t, 2.0, h.value(`users`))
	median := h.value(`histogram_quantile(0.5, sum by (le) (req_time_bucket))`)
	require.True(t, median > 0.1 && median <= 0.25, "median %v", median)

	require.Equal(t, 2, h.logs.count())
	ev, sc := h.logs.records[0], h.logs.records[1]
	if ev.Attributes().AsRaw()["statsd.type"] != "event" {
		ev, sc = sc, ev
	}
	require.Equal(t, "v42 shipped", ev.Body().Str())
	require.Equal(t, map[string]any{"statsd.type": "event", "event.title": "Deploy", "event.alert_type": "success",
		"service": "shop", "env": "prod"}, ev.Attributes().AsRaw())
	require.Equal(t, plog.SeverityNumberInfo, ev.SeverityNumber())
	require.Equal(t, "connection refused", sc.Body().Str())
	require.Equal(t, map[string]any{"statsd.type": "service_check", "check.name": "db.up", "check.status": int64(2),
		"check.status_text": "CRITICAL", "env": "prod"}, sc.Attributes().AsRaw())
	require.Equal(t, plog.SeverityNumberError, sc.SeverityNumber())
	require.ElementsMatch(t, []map[string]any{
		{"service.name": "shop", "host.name": "web-1"},
		{"service.name": "statsd", "host.name": "db-1"},
	}, h.logs.res)

	// Counters and histograms are cumulative across flushes; sets count per interval.
	h.sendUDP("packed:4|c")
	h.waitLines(17)
	require.Equal(t, 10.0, h.value(`packed_total`))
	require.Equal(t, 0.0, h.value(`users`))

	meta := h.r.Metadata()
	require.Equal(t, model.MetricTypeCounter, meta["api_requests_total"].Type)
	require.Equal(t, model.MetricTypeHistogram, meta["req_time"].Type)
	require.Equal(t, model.MetricTypeGauge, meta["users"].Type)
}

func TestTCPLines(t *testing.T) {
	h := newHarness(t, nil)
	// The last line has no newline: it is taken when the connection closes.
	h.sendTCP("tcp.hits:1|c\r\ntcp.hits:2|c\n\ntcp.gauge:7|g\nbroken\ntcp.hits:3|c")
	long := "x:" + strings.Repeat("1", maxLineBytes+10) + "|c\n"
	h.sendTCP(long + "after.long:1|c\n")
	h.waitLines(7)
	require.Equal(t, 6.0, h.value(`tcp_hits_total`))
	require.Equal(t, 7.0, h.value(`tcp_gauge`))
	require.Equal(t, 1.0, h.value(`after_long_total`))
	require.Equal(t, 1.0, h.malformed(reasonLineTooLong))
	require.Equal(t, 1.0, h.malformed(reasonBadType))
}

func TestMalformedLinesAreCounted(t *testing.T) {
	h := newHarness(t, nil)
	lines := map[string]string{
		"nope":                    reasonBadType,
		"x:1|zz":                  reasonBadType,
		":1|c":                    reasonNoName,
		"x:abc|g":                 reasonBadValue,
		"x:-1|c":                  reasonNegative,
		"x:1|c|@7":                reasonBadRate,
		"x:1|c|#:v":               reasonBadTag,
		"x:1|c|what":              reasonUnknownFormat,
		"x\xff:1|c":               reasonInvalidUTF8,
		"_e{9,9}:short":           reasonBadEvent,
		"_sc|x|9":                 reasonBadCheck,
		"conflict:1|c":            "", // fine
		"conflict:1|g":            reasonTypeConflict,
		"conflict.ok:1|ms|#a:b":   "",
		"conflict.ok:1|h|#a:b":    "", // timers, histograms and distributions share a family
		"conflict.ok:1|d|#a:b":    "",
		"good:1|c|#__name__:evil": "",
	}
	want := map[string]float64{}
	var packet []string
	for line, reason := range lines {
		if reason != "" {
			want[reason]++
		}
		packet = append(packet, line)
	}
	// conflict:1|c must arrive before conflict:1|g; send lines one by one in order.
	for i, l := range []string{"conflict:1|c", "conflict:1|g"} {
		h.sendUDP(l)
		h.waitLines(i + 1)
		packet = removeLine(packet, l)
	}
	h.sendUDP(strings.Join(packet, "\n"))
	h.waitLines(len(lines))
	for reason, n := range want {
		require.Equal(t, n, h.malformed(reason), reason)
	}
	require.Equal(t, 1.0, h.value(`good_total{tag__name__="evil"}`))
	require.Equal(t, 3.0, h.value(`conflict_ok_count`))
	require.Equal(t, 1.0, h.value(`conflict_total`))
	// Still serving.
	h.sendUDP("alive:1|c")
	h.waitLines(len(lines) + 1)
	require.Equal(t, 1.0, h.value(`alive_total`))
}

func removeLine(lines []string, l string) []string {
	for i, x := range lines {
		if x == l {
			return append(lines[:i], lines[i+1:]...)
		}
	}
	return lines
}

func TestShutdownFlushesAndTTL(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	h := newHarnessWith(t, func(c *Config) { c.SeriesTTL = model.Duration(time.Minute) },
		func() time.Time { return time.Unix(0, clock.Load()) }, nil)
	h.sendUDP("fleeting:5|g")
	h.waitLines(1)
	require.Equal(t, 5.0, h.value(`fleeting`))
	// Not updated for longer than the TTL: a staleness marker hides it at once.
	clock.Add(int64(2 * time.Minute))
	require.NoError(t, h.r.Flush())
	require.Empty(t, h.query(`fleeting`))

	// Shutdown writes what arrived since the last flush.
	h = newHarness(t, nil)
	h.sendUDP("final:3|c")
	require.Eventually(t, func() bool { return h.received() >= 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, h.r.Shutdown(context.Background()))
	require.Equal(t, 3.0, h.value(`final_total`))
}

func TestConstantLabelsAndConflicts(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Labels = map[string]string{"job": "edge", "region": "eu"} })
	h.sendUDP("q:1|c|#job:worker,le:x\nh:1|ms|#le:x")
	h.waitLines(2)
	require.Equal(t, map[string]float64{
		`{__name__="q_total", exported_job="worker", job="edge", le="x", region="eu"}`: 1,
	}, h.query(`q_total`))
	require.Equal(t, 1.0, h.value(`h_count{exported_le="x", job="edge"}`))
}

func TestConfigValidate(t *testing.T) {
	f := func(mutate func(*Config), wantErr string) {
		t.Helper()
		c := Default()
		mutate(&c)
		err := c.Validate()
		if wantErr == "" {
			require.NoError(t, err)
			return
		}
		require.ErrorContains(t, err, wantErr)
	}
	f(func(*Config) {}, "")
	f(func(c *Config) { c.UDPAddr, c.TCPAddr = "", "" }, "")
	f(func(c *Config) { c.UDPAddr = "8125" }, `udp_addr "8125"`)
	f(func(c *Config) { c.TCPAddr = "nope" }, `tcp_addr "nope"`)
	f(func(c *Config) { c.FlushInterval = 0 }, "flush_interval must be positive")
	f(func(c *Config) { c.Buckets = nil }, "buckets must not be empty")
	f(func(c *Config) { c.Buckets = []float64{1, 1} }, "strictly increasing")
	f(func(c *Config) { c.SeriesTTL = -1 }, "series_ttl")
	f(func(c *Config) { c.Labels = map[string]string{"bad-name": "x"} }, `"bad-name" is not a valid label name`)
	f(func(c *Config) { c.Labels = map[string]string{"a": ""} }, `label "a" has an empty value`)
	f(func(c *Config) { c.LogQueue = 0 }, "log_queue")
}

func TestShutdownWithoutStart(t *testing.T) {
	st, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	defer st.Close()
	r, err := New(Default(), st, nil, nil, nil)
	require.NoError(t, err)
	require.NoError(t, r.Shutdown(context.Background()))
	require.NoError(t, r.Shutdown(context.Background()))
	require.Error(t, r.Start(context.Background()))
}

// TestDogStatsDClient sends metrics with Debian's python3-aiodogstatsd.
func TestDogStatsDClient(t *testing.T) {
	const py = "/usr/bin/python3"
	if _, err := os.Stat("/usr/lib/python3/dist-packages/aiodogstatsd/__init__.py"); err != nil {
		cmd := exec.Command("apt-get", "install", "-y", "python3-aiodogstatsd")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("python3-aiodogstatsd cannot be installed: %v\n%s", err, out)
		}
	}
	h := newHarness(t, nil)
	port := h.r.UDPAddr().(*net.UDPAddr).Port
	out, err := exec.Command(py, "testdata/dogstatsd_client.py", fmt.Sprint(port)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	h.waitLines(13)

	require.Equal(t, map[string]float64{
		`{env="test", roll_value="1"}`: 1,
		`{env="test", roll_value="2"}`: 2,
		`{env="test", roll_value="3"}`: 3,
	}, h.query(`sum by (env, roll_value) (shop_dice_rolls_total)`))
	require.Equal(t, 5.0, h.value(`shop_orders_total`))
	require.Equal(t, 1.0, h.malformed(reasonNegative))
	require.Equal(t, 42.0, h.value(`shop_queue_depth{env="test"}`))
	require.Equal(t, 2.0, h.value(`shop_checkout_time_count`))
	require.InDelta(t, 0.6, h.value(`shop_checkout_time_sum`), 1e-9)
	require.Equal(t, 1.0, h.value(`shop_checkout_time_bucket{le="0.25"}`))
	require.Equal(t, 3.0, h.value(`shop_basket_items_sum`))
	require.Equal(t, 1.0, h.value(`shop_payment_latency_bucket{le="0.25"}`))
}

func TestFlushLoop(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.FlushInterval = model.Duration(50 * time.Millisecond) })
	h.sendUDP("ticking:1|c")
	require.Eventually(t, func() bool {
		return len(h.query(`ticking_total`)) == 1
	}, 30*time.Second, 20*time.Millisecond)
	require.Positive(t, testutil.ToFloat64(h.r.metrics.flushes.WithLabelValues("ok")))
}

// TestHotShotsClient sends metrics, an event and a service check with the npm DogStatsD
// client hot-shots, over UDP and over TCP.
func TestHotShotsClient(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	dir := t.TempDir()
	install := exec.Command("npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", dir, "hot-shots@17")
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("npm install hot-shots failed: %v\n%s", err, out)
	}
	for _, protocol := range []string{"udp", "tcp"} {
		t.Run(protocol, func(t *testing.T) {
			h := newHarness(t, nil)
			port := h.r.UDPAddr().(*net.UDPAddr).Port
			if protocol == "tcp" {
				port = h.r.TCPAddr().(*net.TCPAddr).Port
			}
			cmd := exec.Command("node", "testdata/hotshots_client.js", fmt.Sprint(port), protocol)
			cmd.Env = append(os.Environ(), "NODE_PATH="+dir+"/node_modules")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			h.waitLines(10)
			require.Zero(t, h.received()-10, "unexpected extra or malformed lines")
			require.Equal(t, 5.0, h.value(`hs_hits_total{env="test", route="/a"}`))
			require.Equal(t, 21.5, h.value(`hs_temp`))
			require.Equal(t, 0.15, h.value(`hs_latency_sum`))
			require.Equal(t, 7.0, h.value(`hs_size_sum`))
			require.Equal(t, 1.0, h.value(`hs_dist_bucket{le="0.5"}`))
			require.Equal(t, 2.0, h.value(`hs_users`))
			require.Equal(t, 2, h.logs.count())
			var body []string
			for _, r := range h.logs.records {
				body = append(body, r.Body().Str())
			}
			require.ElementsMatch(t, []string{"v42 is out", "down"}, body)
		})
	}
}
