package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"

	"github.com/loupe-dev/loupe/internal/tlsconfig/tlstest"
)

// tlsSetup is a CA with a server and a client certificate in <config dir>/tls, and a
// configuration file naming them relative to its directory.
type tlsSetup struct {
	ca             *tlstest.CA
	server, client tlstest.Pair
	config         string
}

func newTLSSetup(t *testing.T, listenTLS string) tlsSetup {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "tls"), 0o755))
	ca := tlstest.NewCA(t, filepath.Join(dir, "tls"), "clients")
	s := tlsSetup{ca: ca, server: ca.Server(t, "loupe"), client: ca.Client(t, "client"),
		config: filepath.Join(dir, "loupe.yaml")}
	require.NoError(t, writeFile(s.config, listenTLS))
	return s
}

// securityDocTLS returns the configuration example of docs/security.md's TLS section.
func securityDocTLS(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/security.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "\n## TLS\n")
	require.True(t, ok, "docs/security.md has a TLS section")
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(section)
	require.NotNil(t, m)
	return m[1]
}

// clientTLS trusts the test CA and, with cert, presents it.
func (s tlsSetup) clientTLS(cert *tlstest.Pair) *tls.Config {
	cfg := &tls.Config{RootCAs: s.ca.Pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS}
	}
	return cfg
}

// exportSpan sends one span with its own trace id through the OpenTelemetry SDK's OTLP
// exporter, over gRPC or HTTP with tlsCfg, without retries, and returns the trace id.
func exportSpan(ctx context.Context, s *server, tr transport, tlsCfg *tls.Config) (trace.TraceID, error) {
	var exp sdktrace.SpanExporter
	var err error
	if tr == viaGRPC {
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.OTLPGRPC),
			otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	} else {
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(https(s.OTLPHTTP)+"/v1/traces"),
			otlptracehttp.WithTLSClientConfig(tlsCfg),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	}
	if err != nil {
		return trace.TraceID{}, err
	}
	defer func() { _ = exp.Shutdown(ctx) }()
	var tid trace.TraceID
	var sid trace.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	now := time.Now()
	stub := tracetest.SpanStub{
		Name: "tls span",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid,
			TraceFlags: trace.FlagsSampled}),
		StartTime: now.Add(-time.Second), EndTime: now,
		Resource: resource.NewSchemaless(attribute.String("service.name", "tls-e2e")),
	}
	return tid, exp.ExportSpans(ctx, tracetest.SpanStubs{stub}.Snapshots())
}

func https(base string) string { return strings.Replace(base, "http://", "https://", 1) }

// getTLSTrace reads a trace back over HTTPS (HTTP/2, as ALPN offers it) by the Jaeger API.
func getTLSTrace(client *http.Client, s *server, id trace.TraceID) error {
	resp, err := client.Get(https(s.HTTP) + "/jaeger/api/traces/" + id.String())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 {
		return fmt.Errorf("want HTTP/2, got %s", resp.Proto)
	}
	if resp.StatusCode != 200 || !strings.Contains(string(body), id.String()) {
		return fmt.Errorf("trace %s: %d %s", id, resp.StatusCode, body)
	}
	return nil
}

// TestTLSListeners: with docs/security.md's example of listen.tls, client_auth require, the OpenTelemetry SDK sends
// over OTLP/HTTP and OTLP/gRPC with the CA-signed client certificate, is refused without
// one, and the HTTP port (http_client_auth none) answers queries over HTTPS to a client
// with no certificate. A rotated server certificate is then served without a restart.
func TestTLSListeners(t *testing.T) {
	setup := newTLSSetup(t, securityDocTLS(t)) // its listen addresses are overridden by startServer's flags
	s := startServer(t, t.TempDir(), "--config", setup.config)
	ctx := testContext(t)
	query := &http.Client{Transport: &http.Transport{TLSClientConfig: setup.clientTLS(nil), ForceAttemptHTTP2: true},
		Timeout: 10 * time.Second}

	for _, tr := range []transport{viaHTTP, viaGRPC} {
		id, err := exportSpan(ctx, s, tr, setup.clientTLS(&setup.client))
		require.NoError(t, err, "transport %v with the client certificate", tr)
		eventually(t, 30*time.Second, func() error { return getTLSTrace(query, s, id) })

		_, err = exportSpan(ctx, s, tr, setup.clientTLS(nil))
		require.Error(t, err, "transport %v without a client certificate", tr)
		t.Logf("%v without a client certificate: %v", tr, err)
		stranger := tlstest.NewCA(t, t.TempDir(), "stranger").Client(t, "stranger")
		_, err = exportSpan(ctx, s, tr, setup.clientTLS(&stranger))
		require.Error(t, err, "transport %v with a client certificate of another CA", tr)
		t.Logf("%v with another CA's client certificate: %v", tr, err)
	}

	// Plain HTTP to the TLS port gets no answer it can use.
	if resp, err := http.Get(s.HTTP + "/-/ready"); err == nil {
		resp.Body.Close()
		require.NotEqual(t, 200, resp.StatusCode)
	}

	// Rotation: a new certificate and key over the same files are served to new
	// connections without a restart (the files are looked at every few seconds).
	next := setup.ca.Server(t, "loupe-next")
	for _, f := range [][2]string{{next.CertFile, setup.server.CertFile}, {next.KeyFile, setup.server.KeyFile}} {
		b, err := os.ReadFile(f[0])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(f[1]+".tmp", b, 0o600))
		require.NoError(t, os.Rename(f[1]+".tmp", f[1])) // as certbot and cert-manager replace files
	}
	host := strings.TrimPrefix(s.HTTP, "http://")
	eventually(t, 30*time.Second, func() error {
		c, err := tls.Dial("tcp", host, setup.clientTLS(nil))
		if err != nil {
			return err
		}
		defer c.Close()
		if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "loupe-next" {
			return fmt.Errorf("served %q", cn)
		}
		return nil
	})
	id, err := exportSpan(ctx, s, viaGRPC, setup.clientTLS(&setup.client))
	require.NoError(t, err, "gRPC after the rotation")
	eventually(t, 30*time.Second, func() error { return getTLSTrace(query, s, id) })
}

// TestTLSBadFilesStopServe: a key that does not match the certificate, or a missing file,
// stops `loupe serve` with an error naming the files.
func TestTLSBadFilesStopServe(t *testing.T) {
	setup := newTLSSetup(t, "listen:\n  tls:\n    cert_file: tls/loupe.pem\n    key_file: tls/client-key.pem\n")
	dir := filepath.Dir(setup.config)
	for cfg, want := range map[string]string{
		setup.config: "listen.tls: tls certificate file " + filepath.Join(dir, "tls/loupe.pem") +
			" with key file " + filepath.Join(dir, "tls/client-key.pem") + ": tls: private key does not match public key",
		writeConfig(t, "listen:\n  tls:\n    cert_file: "+filepath.Join(dir, "tls/missing.pem")+"\n    key_file: x.pem\n"): "listen.tls: tls certificate file: open " + filepath.Join(dir, "tls/missing.pem") + ": no such file or directory",
	} {
		cmd := exec.Command(loupeBin, "serve", "--config", cfg, "--data-dir", t.TempDir(),
			"--http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0",
			"--statsd-listen", "127.0.0.1:0")
		out, err := cmd.CombinedOutput()
		require.Error(t, err)
		require.Contains(t, string(out), want)
	}
}

// TestTLSPrometheusRemoteWrite: Debian's Prometheus remote-writes to the HTTPS port
// trusting the CA by tls_config.ca_file and, as the port requires client certificates
// here, presenting its own by cert_file and key_file; the samples read back over HTTPS.
func TestTLSPrometheusRemoteWrite(t *testing.T) {
	const promBin = "/usr/bin/prometheus"
	if _, err := os.Stat(promBin); err != nil {
		t.Skipf("%s is installed by `make test` (Debian package prometheus): %v", promBin, err)
	}
	setup := newTLSSetup(t, "listen:\n  tls:\n    cert_file: tls/loupe.pem\n    key_file: tls/loupe-key.pem\n"+
		"    client_ca_file: tls/clients-ca.pem\n    client_auth: require\n")
	s := startServer(t, t.TempDir(), "--config", setup.config)

	promPort := freePort(t)
	dir := t.TempDir()
	promCfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(promCfg, []byte(fmt.Sprintf(`
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['127.0.0.1:%d']}]
remote_write:
  - url: %s/api/v1/write
    tls_config: {ca_file: %s, cert_file: %s, key_file: %s}
    queue_config: {batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 1s}
`, promPort, https(s.HTTP), setup.ca.CAFile, setup.client.CertFile, setup.client.KeyFile)), 0o644))
	startProcess(t, promBin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: setup.clientTLS(&setup.client)}, Timeout: 10 * time.Second}
	eventually(t, 90*time.Second, func() error {
		resp, err := client.Get(https(s.HTTP) + `/api/v1/query?query=up{job="prometheus"}`)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var out struct {
			Data struct {
				Result []struct {
					Value []any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return err
		}
		if len(out.Data.Result) != 1 || out.Data.Result[0].Value[1] != "1" {
			return fmt.Errorf("up{job=\"prometheus\"}: %+v", out.Data.Result)
		}
		return nil
	})

	// Without the client certificate the port refuses the connection.
	_, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: setup.clientTLS(nil)}}).Get(https(s.HTTP) + "/-/ready")
	require.Error(t, err)
}
