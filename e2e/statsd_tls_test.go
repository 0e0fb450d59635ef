package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/tlsconfig/tlstest"
)

// securityDocStatsdTLS returns the configuration example of docs/security.md's "StatsD
// over TCP" section.
func securityDocStatsdTLS(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/security.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "\n### StatsD over TCP\n")
	require.True(t, ok, "docs/security.md has a StatsD over TCP section")
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(section)
	require.NotNil(t, m)
	return m[1]
}

// tlsQuery runs a PromQL instant query over HTTPS with a bearer token and returns the
// values by series.
func tlsQuery(client *http.Client, base, token, query string) (map[string]float64, error) {
	req, err := http.NewRequest("GET", https(base)+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var pr promResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &pr) != nil {
		return nil, fmt.Errorf("query %s: %d %s", query, resp.StatusCode, body)
	}
	out := map[string]float64{}
	for _, r := range pr.Data.Result {
		var v float64
		_, _ = fmt.Sscan(r.Value[1].(string), &v)
		out[fmt.Sprint(r.Metric)] = v
	}
	return out, nil
}

// TestStatsdTLSClientCertificates: with docs/security.md's StatsD example (TCP beyond
// loopback with TLS and client certificates required, UDP off) and a token (auth on), the
// server starts; openssl s_client with a certificate of the trusted CA sends a counter that
// PromQL then reads; a plain-text client, a client without a certificate and one with a
// certificate of another CA are closed in the handshake, and their lines are not stored.
func TestStatsdTLSClientCertificates(t *testing.T) {
	example := securityDocStatsdTLS(t)
	require.Contains(t, example, "tcp_addr: 0.0.0.0:8125")
	require.True(t, strings.HasSuffix(example, "\n"), "the example ends in the statsd section")
	setup := newTLSSetup(t, strings.Replace(example, "0.0.0.0:8125", "0.0.0.0:0", 1)+"  flush_interval: 1s\n")
	other := tlstest.NewCA(t, t.TempDir(), "other").Client(t, "intruder")
	dataDir := t.TempDir()
	read := strings.TrimSpace(loupeCLI(t, "token", "create", "--name", "grafana", "--scope", "read", "--data-dir", dataDir))
	s := startServerArgs(t, dataDir, "--config", setup.config)
	require.Empty(t, s.StatsdUDP, "udp_addr \"\" turns UDP off")
	_, port, err := net.SplitHostPort(s.StatsdTCP)
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", port)

	// Plain text: closed without an answer.
	plain, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = io.WriteString(plain, "plain.e2e:1|c\n")
	require.NoError(t, err)
	require.NoError(t, plain.SetReadDeadline(time.Now().Add(20*time.Second)))
	n, err := plain.Read(make([]byte, 1))
	require.Error(t, err)
	require.False(t, isTimeout(err), "the server should close a plain-text connection, not wait")
	require.Zero(t, n)
	_ = plain.Close()

	// No certificate, and a certificate of a CA the server does not trust: under TLS 1.3
	// the refusal comes as an alert on the client's first read.
	for _, cert := range [][]tls.Certificate{nil, {other.TLS}} {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: setup.ca.Pool, Certificates: cert})
		if err == nil {
			_, _ = io.WriteString(c, "untrusted.e2e:1|c\n")
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err = c.Read(make([]byte, 1))
			_ = c.Close()
		}
		require.ErrorContains(t, err, "certificate", "client certificates %d", len(cert))
	}

	// openssl s_client sends what it reads on standard input and, with -no_ign_eof,
	// closes the connection at its end.
	cmd := exec.Command("openssl", "s_client", "-quiet", "-no_ign_eof", "-connect", addr,
		"-cert", setup.client.CertFile, "-key", setup.client.KeyFile, "-CAfile", setup.ca.CAFile,
		"-verify_return_error", "-verify_ip", "127.0.0.1")
	cmd.Stdin = strings.NewReader("statsd.tls.e2e:5|c|#via:openssl\nstatsd.tls.e2e:2|c|#via:openssl\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: setup.clientTLS(nil)}, Timeout: 10 * time.Second}
	eventually(t, 30*time.Second, func() error {
		got, err := tlsQuery(client, s.HTTP, read, `statsd_tls_e2e_total{via="openssl"}`)
		if err == nil && (len(got) != 1 || firstValue(got) != 7) {
			err = fmt.Errorf("statsd_tls_e2e_total = %v", got)
		}
		return err
	})
	// The refused clients' lines came first: a flush holding them would have come no later.
	for _, q := range []string{"plain_e2e_total", "untrusted_e2e_total"} {
		got, err := tlsQuery(client, s.HTTP, read, q)
		require.NoError(t, err)
		require.Empty(t, got, q)
	}
	req, err := http.NewRequest("GET", https(s.HTTP)+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+read)
	resp, err := client.Do(req)
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(metrics), "\nloupe_statsd_tcp_tls_handshake_failures_total 3\n", "plain text, no certificate, another CA's")
	// Auth is on: the HTTP port still wants the token.
	resp, err = client.Get(https(s.HTTP) + "/api/v1/query?query=up")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestStatsdRefusedBeyondLoopback: with authentication on, StatsD over UDP beyond loopback
// stops `loupe serve` with the message docs/security.md shows (nothing is bound: the check
// comes first), as does plain TCP; --insecure-listen starts it with a warning.
func TestStatsdRefusedBeyondLoopback(t *testing.T) {
	dataDir := t.TempDir()
	loupeCLI(t, "token", "create", "--name", "x", "--scope", "ingest,read", "--data-dir", dataDir)
	doc, err := os.ReadFile("../docs/security.md")
	require.NoError(t, err)
	shown := regexp.MustCompile("(?m)^loupe: refusing to listen for StatsD .*$").FindString(string(doc))
	require.NotEmpty(t, shown)

	udp := writeConfig(t, "statsd:\n  udp_addr: 0.0.0.0:8125\n  tcp_addr: \"\"\n")
	cmd := exec.Command(loupeBin, "serve", "--data-dir", dataDir, "--config", udp, "--http-listen", "127.0.0.1:0",
		"--otlp-grpc-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	require.Equal(t, shown+"\n", string(out))

	cmd = exec.Command(loupeBin, "serve", "--data-dir", dataDir, "--http-listen", "127.0.0.1:0",
		"--otlp-grpc-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0", "--statsd-listen", "0.0.0.0:0")
	out, err = cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	require.Contains(t, string(out), "refusing to listen for StatsD on udp 0.0.0.0:0, tcp 0.0.0.0:0 (beyond loopback)")

	s := startServer(t, dataDir, "--statsd-listen", "0.0.0.0:0", "--insecure-listen")
	b, err := os.ReadFile(s.logPath)
	require.NoError(t, err)
	require.Contains(t, string(b), "WITHOUT authentication")
	require.Contains(t, string(b), "udp 0.0.0.0:0 tcp 0.0.0.0:0")
}
