package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	lokiapi "github.com/loupe-dev/loupe/internal/api/loki"
	"github.com/loupe-dev/loupe/internal/api/tempo"
	"github.com/loupe-dev/loupe/internal/api/tempo/jaeger"
)

// loupeCLI runs a loupe subcommand and returns its standard output.
func loupeCLI(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(loupeBin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "loupe %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.String()
}

// authedRequest sends method to url with the Authorization value authz ("" for none).
func authedRequest(t *testing.T, method, url, authz, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// authMeterProvider exports to s over tr with the given headers.
func authMeterProvider(t *testing.T, ctx context.Context, s *server, tr transport, headers map[string]string) *sdkmetric.MeterProvider {
	t.Helper()
	var exp sdkmetric.Exporter
	var err error
	switch tr {
	case viaGRPC:
		exp, err = otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(s.OTLPGRPC), otlpmetricgrpc.WithInsecure(),
			otlpmetricgrpc.WithHeaders(headers), otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}))
	case viaHTTP:
		exp, err = otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(s.OTLPHTTP+"/v1/metrics"),
			otlpmetrichttp.WithHeaders(headers), otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
	}
	require.NoError(t, err)
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(serviceResource("auth-e2e")))
}

// sendAuthCounter sends one counter sample tagged with tr and returns ForceFlush's error.
func sendAuthCounter(t *testing.T, ctx context.Context, s *server, tr transport, headers map[string]string) error {
	t.Helper()
	mp := authMeterProvider(t, ctx, s, tr, headers)
	defer func() { _ = mp.Shutdown(ctx) }()
	c, err := mp.Meter("e2e").Int64Counter("auth.e2e.sent")
	require.NoError(t, err)
	c.Add(ctx, 1, metric.WithAttributes(attribute.String("transport", string(tr))))
	return mp.ForceFlush(ctx)
}

// queryWith runs a PromQL instant query with a token and returns the number of series.
func queryWith(t *testing.T, s *server, authz, query string) (int, error) {
	t.Helper()
	code, _, body := authedRequest(t, "GET", s.HTTP+"/api/v1/query?query="+url.QueryEscape(query), authz, "", "")
	if code != 200 {
		return 0, fmt.Errorf("query %s: %d %s", query, code, body)
	}
	return strings.Count(body, `"metric":`), nil
}

func TestAuthTokens(t *testing.T) {
	ctx := testContext(t)
	dataDir := t.TempDir()
	ingest := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "ingest", "--name", "collector", "--data-dir", dataDir))
	read := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "read", "--name", "grafana", "--data-dir", dataDir))
	admin := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "admin", "--name", "ops", "--data-dir", dataDir))
	list := loupeCLI(t, "token", "list", "--data-dir", dataDir)
	for _, name := range []string{"collector", "grafana", "ops"} {
		require.Contains(t, list, name)
	}
	for _, secret := range []string{ingest, read, admin} {
		require.NotContains(t, list, secret, "list never shows a token")
		require.Contains(t, list, "…"+secret[len(secret)-4:])
	}
	dsn, err := url.Parse(strings.TrimSpace(loupeCLI(t, "sentry-dsn", "create", "--project", "shop", "--data-dir", dataDir)))
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(dataDir, "tokens.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	s := startServer(t, dataDir)
	bearer := func(tok string) string { return "Bearer " + tok }
	basic := func(user, tok string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, tok)
		return req.Header.Get("Authorization")
	}

	// (a) The OpenTelemetry SDK with a bearer header, over OTLP/HTTP and gRPC; without it
	// or with a read token, refused with the status of each transport.
	for _, tr := range []transport{viaHTTP, viaGRPC} {
		require.NoError(t, sendAuthCounter(t, ctx, s, tr, map[string]string{"Authorization": bearer(ingest)}), tr)
		err := sendAuthCounter(t, ctx, s, tr, nil)
		require.Error(t, err, "%s without a token", tr)
		errRead := sendAuthCounter(t, ctx, s, tr, map[string]string{"Authorization": bearer(read)})
		require.Error(t, errRead, "%s with a read token", tr)
		if tr == viaGRPC {
			require.Equal(t, codes.Unauthenticated, grpcCode(err), err.Error())
			require.Equal(t, codes.PermissionDenied, grpcCode(errRead), errRead.Error())
		} else {
			require.Contains(t, err.Error(), "401")
			require.Contains(t, errRead.Error(), "403")
		}
	}
	eventually(t, 30*time.Second, func() error {
		n, err := queryWith(t, s, bearer(read), `auth_e2e_sent_total`)
		if err == nil && n != 2 {
			err = fmt.Errorf("%d series of auth_e2e_sent_total, want one per transport", n)
		}
		return err
	})

	// (c) A Loki push with basic auth (promtail's basic_auth: any user name, the token as
	// password), read back with the read token as basic auth (a Grafana data source).
	now := time.Now().UnixNano()
	push := fmt.Sprintf(`{"streams":[{"stream":{"job":"auth-e2e"},"values":[["%d","hello with a token"]]}]}`, now)
	code, _, body := authedRequest(t, "POST", s.HTTP+"/loki/api/v1/push", basic("promtail", ingest), "application/json", push)
	require.Equal(t, 204, code, body)
	eventually(t, 30*time.Second, func() error {
		q := url.Values{"query": {`{job="auth-e2e"}`}, "start": {fmt.Sprint(now - int64(time.Minute))}, "end": {fmt.Sprint(now + int64(time.Minute))}}
		code, _, body := authedRequest(t, "GET", s.HTTP+"/loki/api/v1/query_range?"+q.Encode(), basic("grafana", read), "", "")
		if code != 200 || !strings.Contains(body, "hello with a token") {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})

	// (d) Without credentials: 401 with a Basic challenge on every ingest, read and admin
	// route; the probes stay open.
	type route struct{ method, url string }
	var routes []route
	for _, p := range []string{"/api/v1/write", "/api/v1/otlp/v1/metrics", "/loki/api/v1/push", "/api/prom/push"} {
		routes = append(routes, route{"POST", s.HTTP + p})
	}
	for _, p := range []string{"/v1/traces", "/v1/logs", "/v1/metrics"} {
		routes = append(routes, route{"POST", s.OTLPHTTP + p})
	}
	read1 := []string{"/api/v1/query?query=up", "/api/v1/query_range", "/api/v1/labels", "/api/v1/series", "/api/v1/metadata",
		"/api/v1/targets", "/api/v1/rules", "/api/v1/alerts", "/api/v1/status/buildinfo",
		"/api/loupe/v1/issues", "/api/loupe/v1/runs", "/api/loupe/v1/logs", "/loki/api/v1/query_range", "/loki/api/v1/labels",
		"/loki/api/v1/tail", jaeger.Prefix + "api/services", "/metrics", "/alertmanager/api/v2/alerts"}
	for _, p := range tempo.Paths() {
		read1 = append(read1, strings.NewReplacer("{id}", "0af7651916cd43dd8448eb211c80319c", "{tag}", "service.name").Replace(p))
	}
	for _, p := range lokiapi.RulePaths {
		read1 = append(read1, strings.NewReplacer("{namespace}", "ns", "{group}", "g").Replace(p))
	}
	for _, p := range read1 {
		routes = append(routes, route{"GET", s.HTTP + p})
	}
	routes = append(routes, route{"POST", s.HTTP + "/-/reload"}, route{"GET", s.HTTP + "/debug/pprof/"},
		route{"POST", s.HTTP + "/alertmanager/api/v2/silences"})
	for _, r := range routes {
		code, hdr, body := authedRequest(t, r.method, r.url, "", "", "")
		require.Equal(t, 401, code, "%s %s: %s", r.method, r.url, body)
		require.Equal(t, `Basic realm="Loupe", charset="UTF-8"`, hdr.Get("WWW-Authenticate"), r.url)
		require.Contains(t, body, "authentication required", r.url)
	}
	for _, p := range []string{"/-/healthy", "/-/ready"} {
		code, _, _ := authedRequest(t, "GET", s.HTTP+p, "", "", "")
		require.Equal(t, 200, code, p)
	}
	// The UI's page loads without credentials (it holds no data), so that it can show its
	// sign-in page; its API calls are refused above.
	for _, p := range []string{"/", "/logs", "/index.html"} {
		code, _, body := authedRequest(t, "GET", s.HTTP+p, "", "", "")
		require.Equal(t, 200, code, p)
		require.Contains(t, body, `<div id="root">`, p)
	}

	// (e) A read token cannot ingest, an ingest token cannot read, only admin reloads.
	code, _, body = authedRequest(t, "POST", s.HTTP+"/loki/api/v1/push", bearer(read), "application/json", push)
	require.Equal(t, 403, code, body)
	require.Contains(t, body, "needs the ingest scope")
	code, _, body = authedRequest(t, "GET", s.HTTP+"/api/v1/query?query=up", bearer(ingest), "", "")
	require.Equal(t, 403, code, body)
	require.Contains(t, body, "needs the read scope")
	code, _, body = authedRequest(t, "GET", s.HTTP+"/api/loupe/v1/logs", basic("me", ingest), "", "")
	require.Equal(t, 403, code, body)
	code, _, body = authedRequest(t, "POST", s.HTTP+"/-/reload", bearer(read), "", "")
	require.Equal(t, 403, code, body)
	require.Contains(t, body, "needs the admin scope")
	code, _, body = authedRequest(t, "GET", s.HTTP+"/api/loupe/v1/logs", basic("me", read), "", "")
	require.Equal(t, 200, code, "the UI's API with the read token as basic auth password: %s", body)
	code, _, body = authedRequest(t, "GET", s.HTTP+"/api/v1/query?query=up", bearer(admin), "", "")
	require.Equal(t, 200, code, "admin includes read: %s", body)

	// The Sentry ingest keeps its own DSN key auth: no token needed, a wrong key refused
	// by Sentry's handler (its JSON error, no Basic challenge).
	sentryPost := func(key string) (int, http.Header, string) {
		req, err := http.NewRequest("POST", s.HTTP+"/api"+dsn.Path+"/envelope/",
			strings.NewReader("{}\n{\"type\":\"event\"}\n{\"message\":\"from sentry with auth on\"}\n"))
		require.NoError(t, err)
		req.Header.Set("X-Sentry-Auth", "Sentry sentry_version=7, sentry_key="+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	code, _, body = sentryPost(dsn.User.Username())
	require.Equal(t, 200, code, body)
	code, hdr, body := sentryPost("0123456789abcdef0123456789abcdef")
	require.NotEqual(t, 200, code, body)
	require.Empty(t, hdr.Get("WWW-Authenticate"))
	require.Contains(t, body, `"detail"`)

	// A revoked token is refused once the server sees the file change (checked at most
	// once a second), without a reload.
	loupeCLI(t, "token", "revoke", "grafana", "--data-dir", dataDir)
	eventually(t, 10*time.Second, func() error {
		if code, _, _ := authedRequest(t, "GET", s.HTTP+"/api/v1/query?query=up", bearer(read), "", ""); code != 401 {
			return fmt.Errorf("revoked token answered %d", code)
		}
		return nil
	})
}

func grpcCode(err error) codes.Code {
	for e := err; e != nil; {
		if st, ok := status.FromError(e); ok {
			return st.Code()
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return codes.Unknown
}

// TestAuthPrometheusRemoteWriteBasicAuth: Debian's Prometheus remote-writes with
// remote_write.basic_auth, the token as password.
func TestAuthPrometheusRemoteWriteBasicAuth(t *testing.T) {
	const promBin = "/usr/bin/prometheus"
	if _, err := os.Stat(promBin); err != nil {
		t.Skipf("%s is installed by `make test` (Debian package prometheus): %v", promBin, err)
	}
	dataDir := t.TempDir()
	ingest := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "ingest", "--name", "prometheus", "--data-dir", dataDir))
	read := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "read", "--name", "check", "--data-dir", dataDir))
	s := startServer(t, dataDir)

	promPort := freePort(t)
	dir := t.TempDir()
	promCfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(promCfg, []byte(fmt.Sprintf(`
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: self
    static_configs: [{targets: ['127.0.0.1:%d']}]
remote_write:
  - url: %s/api/v1/write
    basic_auth: {username: prometheus, password: %s}
    queue_config: {batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 1s}
`, promPort, s.HTTP, ingest)), 0o600))
	startProcess(t, promBin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))

	eventually(t, 60*time.Second, func() error {
		n, err := queryWith(t, s, "Bearer "+read, `up{job="self"}`)
		if err == nil && n != 1 {
			err = fmt.Errorf("%d series of up{job=\"self\"} so far", n)
		}
		return err
	})
}

// TestAuthRefusesOpenListenerWithoutAuth: a listener beyond loopback without a token does
// not start unless --insecure-listen says so; with a token it starts.
func TestAuthRefusesOpenListenerWithoutAuth(t *testing.T) {
	dataDir := t.TempDir()
	cmd := exec.Command(loupeBin, "serve", "--data-dir", dataDir, "--http-listen", "0.0.0.0:0",
		"--otlp-grpc-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0", "--statsd-listen", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	require.Contains(t, string(out), "refusing to listen on 0.0.0.0:0 (beyond loopback) without authentication")
	require.Contains(t, string(out), "loupe token create")
	require.Contains(t, string(out), "--insecure-listen")

	// The message docs/security.md shows is the one printed (nothing is bound: the check
	// comes before any listener).
	doc, err := os.ReadFile("../docs/security.md")
	require.NoError(t, err)
	shown := regexp.MustCompile("(?m)^loupe: refusing to listen .*$").FindString(string(doc))
	require.NotEmpty(t, shown)
	cmd = exec.Command(loupeBin, "serve", "--http-listen", "0.0.0.0:7070")
	cmd.Dir = t.TempDir() // for its default data directory, loupe-data
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	require.Equal(t, shown+"\n", string(out))

	s := startServer(t, dataDir, "--http-listen", "0.0.0.0:0", "--insecure-listen")
	b, err := os.ReadFile(s.logPath)
	require.NoError(t, err)
	require.Contains(t, string(b), "WITHOUT authentication")
	s.stop()

	dataDir = t.TempDir()
	loupeCLI(t, "token", "create", "--scope", "ingest,read", "--name", "x", "--data-dir", dataDir)
	s = startServer(t, dataDir, "--otlp-grpc-listen", "0.0.0.0:0")
	code, _, _ := authedRequest(t, "GET", s.HTTP+"/api/v1/labels", "", "", "")
	require.Equal(t, 401, code)
}

// TestAuthLoupeRun: `loupe run` and `loupe push` reach a server that asks for a token
// with LOUPE_TOKEN (or OTEL_EXPORTER_OTLP_HEADERS), as the OpenTelemetry SDKs do; without
// it the server refuses the run's records.
func TestAuthLoupeRun(t *testing.T) {
	dataDir := t.TempDir()
	ingest := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "ingest", "--name", "jobs", "--data-dir", dataDir))
	read := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "read", "--name", "me", "--data-dir", dataDir))
	s := startServer(t, dataDir)

	run := func(name string, env ...string) string {
		c := exec.Command(loupeBin, "run", "--server", s.OTLPHTTP, "--name", name, "--", "true")
		c.Env = append(os.Environ(), append([]string{"XDG_STATE_HOME=" + t.TempDir(), "LOUPE_TOKEN=", "OTEL_EXPORTER_OTLP_HEADERS="}, env...)...)
		out, err := c.CombinedOutput()
		require.NoError(t, err, "loupe run exits with the job's status: %s", out)
		return string(out)
	}
	runsOf := func(name string) string {
		code, _, body := authedRequest(t, "GET", s.HTTP+"/api/loupe/v1/runs?name="+name, "Bearer "+read, "", "")
		require.Equal(t, http.StatusOK, code, body)
		return body
	}
	run("with-token", "LOUPE_TOKEN="+ingest)
	run("with-otel-headers", "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20"+ingest)
	out := run("without-token")
	require.Contains(t, out, "401", "loupe run says the server refused its records")
	eventually(t, 30*time.Second, func() error {
		for _, name := range []string{"with-token", "with-otel-headers"} {
			if !strings.Contains(runsOf(name), `"run_id"`) {
				return fmt.Errorf("no run %s yet", name)
			}
		}
		return nil
	})
	require.NotContains(t, runsOf("without-token"), `"run_id"`)
}
