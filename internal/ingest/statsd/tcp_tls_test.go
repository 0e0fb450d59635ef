package statsd

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/tsdb"
	"github.com/loupe-dev/loupe/internal/tlsconfig"
	"github.com/loupe-dev/loupe/internal/tlsconfig/tlstest"
)

// TestTCPTLSClientCertificates: with tcp_tls and client certificates required (the
// server's configuration from listen.tls), a client with a certificate of the trusted CA
// sends lines that are stored; a client with a certificate of another CA and a plain-text
// client are closed in the handshake, their lines never read, and both are counted.
func TestTCPTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "clients")
	srv := ca.Server(t, "loupe")
	trusted := ca.Client(t, "trusted")
	untrusted := tlstest.NewCA(t, dir, "other").Client(t, "untrusted")
	rl, err := tlsconfig.New(tlsconfig.Files{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: ca.CAFile}, nil, nil)
	require.NoError(t, err)
	serverTLS, err := rl.ServerConfig(tls.RequireAndVerifyClientCert)
	require.NoError(t, err)
	h := newHarness(t, func(c *Config) { c.TCPTLS, c.TLS = true, serverTLS })
	addr := h.r.TCPAddr().String()

	// Plain text: the server reads no TLS handshake and closes the connection.
	plain, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = io.WriteString(plain, "plain.hits:1|c\n")
	require.NoError(t, err)
	require.True(t, closedByServer(plain, 10*time.Second), "plain-text connection still open")
	_ = plain.Close()

	// A certificate the server does not trust: with TLS 1.3 the client's handshake ends
	// before the server checks it, so the refusal arrives as an alert on the next read.
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{untrusted.TLS}})
	if err == nil {
		_, _ = io.WriteString(c, "untrusted.hits:1|c\n")
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		_ = c.Close()
	}
	require.ErrorContains(t, err, "certificate")

	// No certificate at all.
	c, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool})
	if err == nil {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		_ = c.Close()
	}
	require.ErrorContains(t, err, "certificate")

	c, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{trusted.TLS}})
	require.NoError(t, err)
	_, err = io.WriteString(c, "tls.hits:2|c\ntls.hits:3|c\n")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	h.waitLines(2)
	require.Equal(t, 5.0, h.value(`tls_hits_total`))
	require.Empty(t, h.query(`plain_hits_total`))
	require.Empty(t, h.query(`untrusted_hits_total`))
	require.Equal(t, 3.0, testutil.ToFloat64(h.r.metrics.tlsFailed))
	require.Equal(t, 2, h.received(), "only the trusted client's lines were read")
}

// tcp_tls without a TLS configuration is refused, not served as a plain listener.
func TestTCPTLSNeedsConfig(t *testing.T) {
	cfg := Default()
	cfg.TCPTLS = true
	st, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	_, err = New(cfg, st, nil, nil, nil)
	require.ErrorContains(t, err, "statsd tcp_tls: needs the certificate of listen.tls")
	cfg.TCPAddr = ""
	_, err = New(cfg, st, nil, nil, nil)
	require.NoError(t, err)
}
