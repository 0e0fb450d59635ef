package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/pprof/profile"
	pushv1 "github.com/grafana/pyroscope/api/gen/proto/go/push/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/push/v1/pushv1connect"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
)

// tenantData is one tenant of TestTenants: its credentials, the marker every piece of its
// data carries (a metric, label, service, span, log, run, issue, profile and dashboard
// name holds it), and the ids of what it sent, found once stored.
type tenantData struct {
	id     string // the tenant
	token  string // ingest,read, bound to the tenant (the default tenant's: bound to none)
	admin  string // admin, for its dashboard
	mark   string // letters only, so that it fits a metric and label name
	via    transport
	trace  trace.TraceID
	runID  string
	issue  string
	event  string
	dashID string
}

func (c *tenantData) service() string { return "svc-" + c.mark }

// tenantEnv is the server of TestTenants with its three tenants.
type tenantEnv struct {
	t       *testing.T
	s       *server
	unbound string // ingest,read,admin, bound to no tenant
	all     []*tenantData
	// logqlNamespace is the namespace of the default tenant's LogQL rules (their file).
	logqlNamespace string
}

// do sends a request with the bearer token tok (none when ""), an X-Scope-OrgID header
// (none when "") and the body, returning the status and the body.
func (e *tenantEnv) do(method, path, tok, orgID, contentType string, body []byte) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.s.HTTP+path, bytes.NewReader(body))
	require.NoError(e.t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if orgID != "" {
		req.Header.Set("X-Scope-OrgID", orgID)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	require.NoError(e.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// others are the tenants but c.
func (e *tenantEnv) others(c *tenantData) []*tenantData {
	var out []*tenantData
	for _, o := range e.all {
		if o != c {
			out = append(out, o)
		}
	}
	return out
}

// TestTenants (issue 12): with tenants on and tokens bound to tenants, each tenant's data
// sent by real clients (the OpenTelemetry SDK over gRPC and OTLP/HTTP, Prometheus' remote
// write, a Loki push, `loupe run`, Pyroscope's /ingest, a dashboard) is seen by that tenant
// only, through every read route of the HTTP port (tenants_routes_test.go, which also fails
// when a documented or registered read route is missing from its table). A token bound to
// one tenant naming another in X-Scope-OrgID is refused (403, PERMISSION_DENIED), a token
// bound to none reads and writes (OTLP gRPC and HTTP) the tenant the header names, and no
// credentials is a 401. Writes by id stay in the tenant, and so does everything after a
// restart.
func TestTenants(t *testing.T) {
	ctx := testContext(t)
	dataDir := t.TempDir()
	tok := func(name, scope, tenantID string) string {
		args := []string{"token", "create", "--scope", scope, "--name", name, "--data-dir", dataDir}
		if tenantID != "" {
			args = append(args, "--tenant", tenantID)
		}
		return strings.TrimSpace(loupeCLI(t, args...))
	}
	a := &tenantData{id: "team-a", mark: "qxalphaq", via: viaGRPC, token: tok("a", "ingest,read", "team-a"), admin: tok("a-admin", "admin", "team-a")}
	b := &tenantData{id: "team-b", mark: "qxbravoq", via: viaHTTP, token: tok("b", "ingest,read", "team-b"), admin: tok("b-admin", "admin", "team-b")}
	unbound := tok("any", "ingest,read,admin", "")
	d := &tenantData{id: "default", mark: "qxdfltq", via: viaGRPC, token: unbound, admin: unbound}

	// The default tenant's own work (a scrape job, a profile scrape job, StatsD, rules,
	// LogQL rules), each named after its marker, which the other tenants must not see.
	cfgDir := t.TempDir()
	require.NoError(t, writeFile(filepath.Join(cfgDir, "rules.yml"), `groups:
  - name: grp_qxdfltq
    interval: 1s
    rules:
      - record: rec_qxdfltq
        expr: vector(1)
      - alert: Alert_qxdfltq
        expr: vector(1)
`))
	require.NoError(t, writeFile(filepath.Join(cfgDir, "logql.yml"), `groups:
  - name: lgrp_qxdfltq
    interval: 1s
    rules:
      - alert: LogAlert_qxdfltq
        expr: sum(count_over_time({service_name="svc-qxdfltq"}[5m])) > 0
`))
	cfg := filepath.Join(cfgDir, "loupe.yaml")
	require.NoError(t, writeFile(cfg, `tenants:
  enabled: true
scrape:
  scrape_configs:
    - job_name: job_qxdfltq
      scrape_interval: 1h
      static_configs: [{targets: ['127.0.0.1:9']}]
profiling:
  scrape_configs:
    - job_name: prof_qxdfltq
      scrape_interval: 1h
      static_configs: [{targets: ['127.0.0.1:9']}]
statsd:
  flush_interval: 1s
rules:
  files: [rules.yml]
  logql_files: [logql.yml]
  evaluation_interval: 1s
`))
	e := &tenantEnv{t: t, s: startServer(t, dataDir, "--config", cfg), unbound: unbound, all: []*tenantData{a, b, d},
		logqlNamespace: filepath.Join(cfgDir, "logql.yml")}

	// Prometheus remote-writes for team-a and team-b, each with its token (slowest to
	// arrive, so started first).
	for _, c := range []*tenantData{a, b} {
		startTenantPrometheus(t, e.s, c)
	}
	statsd, err := net.Dial("udp", e.s.StatsdUDP)
	require.NoError(t, err)
	_, err = statsd.Write([]byte("qxdfltq.statsd:1|c\n"))
	require.NoError(t, err)
	require.NoError(t, statsd.Close())
	var wg sync.WaitGroup
	for _, c := range e.all {
		c := c
		wg.Add(1)
		go func() { // loupe run takes a moment per run: the three in parallel
			defer wg.Done()
			tenantRun(t, e.s, c)
		}()
		sendTenantOTel(t, ctx, e.s, c)
		tenantLokiPush(e, c)
		tenantProfile(t, e.s, c)
		tenantLegacyIngest(e, ctx, c)
		code, body := e.do("POST", "/api/loupe/v1/dashboards", c.admin, "", "application/json",
			[]byte(fmt.Sprintf(`{"dashboard": {"uid": "dash-%s", "title": "Dashboard %s", "panels": []}}`, c.mark, c.mark)))
		require.Equal(t, http.StatusOK, code, body)
		c.dashID = "dash-" + c.mark
	}
	wg.Wait()
	for _, c := range e.all {
		e.waitStored(c)
	}

	// A token bound to team-a naming team-b: 403 on HTTP (reads and ingest), on OTLP/HTTP,
	// and PERMISSION_DENIED on OTLP/gRPC.
	code, body := e.do("GET", "/api/v1/labels", a.token, "team-b", "", nil)
	require.Equal(t, http.StatusForbidden, code, body)
	require.Contains(t, body, `bound to tenant "team-a"`)
	code, body = e.do("GET", "/api/loupe/v1/logs", a.token, "team-b", "", nil)
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = e.do("POST", "/loki/api/v1/push", a.token, "team-b", "application/json", []byte(`{"streams":[]}`))
	require.Equal(t, http.StatusForbidden, code, body)
	orgB := map[string]string{"Authorization": "Bearer " + a.token, "X-Scope-OrgID": "team-b"}
	err = sendAuthCounter(t, ctx, e.s, viaGRPC, orgB)
	require.Error(t, err)
	require.Equal(t, codes.PermissionDenied, grpcCode(err), err.Error())
	err = sendAuthCounter(t, ctx, e.s, viaHTTP, orgB)
	require.Error(t, err)
	require.Contains(t, err.Error(), "403")
	// The token bound to none sends to the tenant its header names, over both transports.
	for _, tr := range []transport{viaGRPC, viaHTTP} {
		require.NoError(t, sendAuthCounter(t, ctx, e.s, tr, map[string]string{"Authorization": "Bearer " + unbound, "X-Scope-OrgID": "team-b"}), tr)
	}
	eventually(t, 30*time.Second, func() error {
		n, err := queryWith(t, e.s, "Bearer "+b.token, "auth_e2e_sent_total")
		if err == nil && n != 2 {
			err = fmt.Errorf("team-b has %d series of auth_e2e_sent_total, want one per transport", n)
		}
		return err
	})
	for _, c := range []*tenantData{a, d} {
		n, err := queryWith(t, e.s, "Bearer "+c.token, "auth_e2e_sent_total")
		require.NoError(t, err)
		require.Zero(t, n, "tenant %s has team-b's series", c.id)
	}
	// Naming its own tenant is allowed.
	code, body = e.do("GET", "/api/v1/labels", a.token, "team-a", "", nil)
	require.Equal(t, http.StatusOK, code, body)
	// No credentials: 401, with or without a header.
	for _, org := range []string{"", "team-b"} {
		code, body = e.do("GET", "/api/loupe/v1/logs", "", org, "", nil)
		require.Equal(t, http.StatusUnauthorized, code, body)
	}

	// Every read route, for each tenant with its own token, then with the token bound to
	// none and X-Scope-OrgID naming team-b.
	checkTenantRoutes(e)

	// Writes by id stay in the tenant too: team-a cannot resolve team-b's issue or delete
	// its dashboard (404), and team-b's are unchanged.
	code, body = e.do("PUT", "/api/loupe/v1/issues/"+b.issue+"/status", a.token, "", "application/json", []byte(`{"status": "resolved"}`))
	require.Equal(t, http.StatusNotFound, code, body)
	code, body = e.do("DELETE", "/api/loupe/v1/dashboards/"+b.dashID+"?version=1", a.admin, "", "", nil)
	require.Equal(t, http.StatusNotFound, code, body)
	code, body = e.do("GET", "/api/loupe/v1/issues/"+b.issue, b.token, "", "", nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"status":"unresolved"`)
	code, body = e.do("GET", "/api/loupe/v1/dashboards/"+b.dashID, b.token, "", "", nil)
	require.Equal(t, http.StatusOK, code, body)

	// After a restart (the tenants' servers open at start, before the server's own), each
	// tenant reads its data and not the others'.
	e.s.stop()
	e.s = startServer(t, dataDir, "--config", cfg)
	for _, c := range e.all {
		for _, o := range e.all {
			code, body := e.do("GET", "/api/loupe/v1/runs/"+o.runID, c.token, "", "", nil)
			if o == c {
				require.Equal(t, http.StatusOK, code, body)
				require.Contains(t, body, "job-"+c.mark)
			} else {
				require.Equal(t, http.StatusNotFound, code, "tenant %s reading tenant %s's run after a restart: %s", c.id, o.id, body)
			}
		}
		code, body := e.do("GET", "/loki/api/v1/query_range?limit=1000&query="+url.QueryEscape(`{service_name=~".+"}`), c.token, "", "", nil)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "loki line "+c.mark)
		for _, o := range e.others(c) {
			require.NotContains(t, body, o.mark, "tenant %s after a restart", c.id)
		}
	}
}

// waitStored waits until c's logs, traces, metrics (OTLP and remote write), run, issue and
// profile are readable, and records the ids of its run, issue and event.
func (e *tenantEnv) waitStored(c *tenantData) {
	t := e.t
	t.Helper()
	get := func(path string) string {
		code, body := e.do("GET", path, c.token, "", "", nil)
		if code != http.StatusOK {
			return fmt.Sprintf("status %d: %s", code, body)
		}
		return body
	}
	checks := map[string]string{
		"/api/loupe/v1/logs?q=" + c.mark:                                                                         "log line " + c.mark,
		"/api/loupe/v1/traces/" + c.trace.String():                                                               "op-" + c.mark,
		"/api/v1/query?query=" + url.QueryEscape("e2e_"+c.mark+"_requests_total"):                                c.mark,
		"/api/loupe/v1/runs?name=job-" + c.mark:                                                                  `"run_id"`,
		"/api/loupe/v1/issues?q=" + c.mark:                                                                       `"id"`,
		"/api/loupe/v1/profiles/labels/service_name/values":                                                      "push-" + c.mark,
		"/api/v1/query?query=" + url.QueryEscape("e2e_"+c.mark+"_promotlp"):                                      c.mark,
		"/loki/api/v1/query_range?query=" + url.QueryEscape(`{service_name="`+c.service()+`"} |= "legacy line"`): "legacy line " + c.mark,
		"/loki/api/v1/query_range?query=" + url.QueryEscape(`{service_name="`+c.service()+`"}`):                  "loki line " + c.mark,
	}
	if c.id != "default" {
		checks["/api/v1/query?query="+url.QueryEscape(`up{mark="`+c.mark+`"}`)] = `"value"`
	} else {
		checks["/api/v1/alerts"] = "Alert_qxdfltq"
		checks["/api/v1/query?query="+url.QueryEscape(`{__name__=~"qxdfltq_statsd.*"}`)] = `"value"`
	}
	eventually(t, 60*time.Second, func() error {
		for path, want := range checks {
			if body := get(path); !strings.Contains(body, want) {
				return fmt.Errorf("tenant %s: GET %s has no %q yet: %s", c.id, path, want, tail(body, 5))
			}
		}
		return nil
	})
	c.runID = regexp.MustCompile(`"run_id":"([^"]+)"`).FindStringSubmatch(get("/api/loupe/v1/runs?name=job-" + c.mark))[1]
	c.issue = regexp.MustCompile(`"id":"([0-9a-f]+)"`).FindStringSubmatch(get("/api/loupe/v1/issues?q=" + c.mark))[1]
	m := regexp.MustCompile(`"event_id":"([0-9a-f]+)"`).FindStringSubmatch(get("/api/loupe/v1/issues/" + c.issue + "/events"))
	require.NotNil(t, m, "issue %s of tenant %s has no events", c.issue, c.id)
	c.event = m[1]
}

// sendTenantOTel sends c's spans (one with an exception event), logs (one with
// exception.* attributes) and a counter, with c's token over c.via.
func sendTenantOTel(t *testing.T, ctx context.Context, s *server, c *tenantData) {
	t.Helper()
	headers := map[string]string{"Authorization": "Bearer " + c.token}
	var texp sdktrace.SpanExporter
	var lexp sdklog.Exporter
	var err, lerr error
	switch c.via {
	case viaGRPC:
		texp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.OTLPGRPC), otlptracegrpc.WithInsecure(), otlptracegrpc.WithHeaders(headers))
		lexp, lerr = otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(s.OTLPGRPC), otlploggrpc.WithInsecure(), otlploggrpc.WithHeaders(headers))
	case viaHTTP:
		texp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(s.OTLPHTTP+"/v1/traces"), otlptracehttp.WithHeaders(headers))
		lexp, lerr = otlploghttp.New(ctx, otlploghttp.WithEndpointURL(s.OTLPHTTP+"/v1/logs"), otlploghttp.WithHeaders(headers))
	}
	require.NoError(t, err)
	require.NoError(t, lerr)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(texp), sdktrace.WithResource(serviceResource(c.service())))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(serviceResource(c.service())))
	mp := authMeterProvider(t, ctx, s, c.via, headers)
	logger := lp.Logger("e2e")

	rootCtx, root := tp.Tracer("e2e").Start(ctx, "op-"+c.mark, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("attr_"+c.mark, c.mark)))
	childCtx, child := tp.Tracer("e2e").Start(rootCtx, "child-"+c.mark)
	child.RecordError(errors.New("span failed "+c.mark), trace.WithStackTrace(true))
	emitLog(childCtx, logger, otellog.SeverityInfo, "log line "+c.mark, attribute.String("attr_"+c.mark, c.mark))
	emitLog(childCtx, logger, otellog.SeverityError, "log failed "+c.mark,
		attribute.String("exception.type", "Exc"+c.mark), attribute.String("exception.message", "log failed "+c.mark))
	counter, err := mp.Meter("e2e").Int64Counter("e2e." + c.mark + ".requests")
	require.NoError(t, err)
	// Inside the sampled span, so that the sample carries it as an exemplar.
	counter.Add(childCtx, 3, metric.WithAttributes(attribute.String("lbl_"+c.mark, c.mark), attribute.String("service", c.service())))
	child.End()
	root.End()
	c.trace = root.SpanContext().TraceID()
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))
	require.NoError(t, mp.ForceFlush(ctx))
	require.NoError(t, mp.Shutdown(ctx))
}

// tenantLokiPush pushes c's stream, with a label named after its marker and logfmt lines
// (for detected fields and patterns).
func tenantLokiPush(e *tenantEnv, c *tenantData) {
	now := time.Now().UnixNano()
	push := fmt.Sprintf(`{"streams":[{"stream":{"service_name":%q,"job":"loki-%s","lbl_%s":"x"},"values":[`+
		`["%d","who=%s fld_%s=1 level=error msg=\"loki line %s\""],["%d","who=%s fld_%s=2 level=error msg=\"loki line %s\""]]}]}`,
		c.service(), c.mark, c.mark, now-int64(time.Second), c.mark, c.mark, c.mark, now, c.mark, c.mark, c.mark)
	code, body := e.do("POST", "/loki/api/v1/push", c.token, "", "application/json", []byte(push))
	require.Equal(e.t, http.StatusNoContent, code, body)
}

// tenantRun records a run of `loupe run` named after c's marker, with c's token.
func tenantRun(t *testing.T, s *server, c *tenantData) {
	cmd := exec.Command(loupeBin, "run", "--server", s.OTLPHTTP, "--name", "job-"+c.mark, "--tag", "mark="+c.mark, "--", "true")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "LOUPE_TOKEN="+c.token, "OTEL_EXPORTER_OTLP_HEADERS=")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "spool") {
		t.Errorf("loupe run for tenant %s: %v: %s", c.id, err, out)
	}
}

// tenantProfile pushes a CPU profile of a function named after c's marker to Pyroscope's
// /ingest (as app-MARK), and another to its PusherService with Alloy's client (push-MARK).
func tenantProfile(t *testing.T, s *server, c *tenantData) {
	pqPush(t, s, "app-"+c.mark, cpuPprof(t, "main.work_"+c.mark), c.token)
	client := pushv1connect.NewPusherServiceClient(&http.Client{Transport: basicAuth{"alloy", c.token}}, s.HTTP)
	_, err := client.Push(context.Background(), connect.NewRequest(&pushv1.PushRequest{Series: []*pushv1.RawProfileSeries{{
		Labels:  []*typesv1.LabelPair{{Name: "__name__", Value: "process_cpu"}, {Name: "service_name", Value: "push-" + c.mark}},
		Samples: []*pushv1.RawSample{{RawProfile: cpuPprof(t, "main.push_"+c.mark)}},
	}}}))
	require.NoError(t, err, "tenant %s: PusherService.Push", c.id)
}

// tenantPprof is a CPU profile of one function.
func cpuPprof(t *testing.T, function string) []byte {
	fn := &profile.Function{ID: 1, Name: function, SystemName: function, Filename: "main.go"}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 10000000,
		Function:  []*profile.Function{fn},
		Location:  []*profile.Location{{ID: 1, Line: []profile.Line{{Function: fn}}}},
		TimeNanos: time.Now().UnixNano(), DurationNanos: int64(10 * time.Second),
	}
	p.Sample = []*profile.Sample{{Location: p.Location, Value: []int64{150, 1500000000}}}
	var buf bytes.Buffer
	require.NoError(t, p.Write(&buf))
	return buf.Bytes()
}

// tenantLegacyIngest sends c's data through the HTTP port's other ingest paths: Loki's
// pre-2.0 /api/prom/push, and Prometheus' OTLP path /api/v1/otlp/v1/metrics with the
// OpenTelemetry SDK.
func tenantLegacyIngest(e *tenantEnv, ctx context.Context, c *tenantData) {
	t := e.t
	push := fmt.Sprintf(`{"streams":[{"stream":{"service_name":%q},"values":[["%d","legacy line %s"]]}]}`, c.service(), time.Now().UnixNano(), c.mark)
	code, body := e.do("POST", "/api/prom/push", c.token, "", "application/json", []byte(push))
	require.Equal(t, http.StatusNoContent, code, body)
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(e.s.HTTP+"/api/v1/otlp/v1/metrics"),
		otlpmetrichttp.WithHeaders(map[string]string{"Authorization": "Bearer " + c.token}),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(serviceResource(c.service())))
	g, err := mp.Meter("e2e").Int64Gauge("e2e." + c.mark + ".promotlp")
	require.NoError(t, err)
	g.Record(ctx, 7)
	require.NoError(t, mp.ForceFlush(ctx))
	require.NoError(t, mp.Shutdown(ctx))
}

// startTenantPrometheus runs Debian's Prometheus scraping itself, with c's marker as an
// external label, remote-writing with c's token as basic auth password.
func startTenantPrometheus(t *testing.T, s *server, c *tenantData) {
	const promBin = "/usr/bin/prometheus"
	if _, err := os.Stat(promBin); err != nil {
		t.Skipf("%s is installed by `make test` (Debian package prometheus): %v", promBin, err)
	}
	port := freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
global: {scrape_interval: 1s, scrape_timeout: 1s, external_labels: {mark: %s}}
scrape_configs:
  - job_name: self
    static_configs: [{targets: ['127.0.0.1:%d']}]
    metric_relabel_configs: [{source_labels: [__name__], regex: 'prometheus_build_info', action: keep}]
remote_write:
  - url: %s/api/v1/write
    basic_auth: {username: prometheus, password: %s}
    queue_config: {batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 1s}
`, c.mark, port, s.HTTP, c.token)), 0o600))
	startProcess(t, promBin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
}
