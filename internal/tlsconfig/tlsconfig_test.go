package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/tlsconfig/tlstest"
)

// serve accepts TLS connections with cfg on loopback and answers "ok" on each.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	tln := tls.NewListener(ln, cfg)
	go func() {
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Write([]byte("ok"))
			}()
		}
	}()
	return ln.Addr().String()
}

// dial handshakes and reads the answer; it returns the server's certificate.
func dial(addr string, roots *x509.CertPool, client *tls.Certificate) (*x509.Certificate, error) {
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// With TLS 1.3 a refused client certificate shows at the first read, not in Dial.
	if _, err := io.ReadAll(c); err != nil {
		return nil, err
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

// replace writes src's content over dst and moves its modification time on, as a rotation
// does (a test may run within one tick of the file system's clock).
func replace(t *testing.T, dst, src string, step int) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o600))
	later := time.Now().Add(time.Duration(step) * time.Minute)
	require.NoError(t, os.Chtimes(dst, later, later))
}

func TestReloadServesRotatedCertificateAndKeepsOldOnBadFile(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "test")
	first := ca.Server(t, "server")
	second := ca.Server(t, "server-next")
	reg := prometheus.NewRegistry()
	r, err := New(Files{CertFile: first.CertFile, KeyFile: first.KeyFile}, nil, reg)
	require.NoError(t, err)
	r.CheckInterval = 0
	cfg, err := r.ServerConfig(tls.NoClientCert)
	require.NoError(t, err)
	addr := serve(t, cfg)

	got, err := dial(addr, ca.Pool, nil)
	require.NoError(t, err)
	require.Equal(t, "server", got.Subject.CommonName)

	// Rotation: the new certificate and key over the same paths.
	replace(t, first.CertFile, second.CertFile, 1)
	replace(t, first.KeyFile, second.KeyFile, 1)
	got, err = dial(addr, ca.Pool, nil)
	require.NoError(t, err)
	require.Equal(t, "server-next", got.Subject.CommonName)
	require.Equal(t, 1.0, testutil.ToFloat64(r.reloads.WithLabelValues("success")))
	require.Equal(t, float64(second.TLS.Leaf.NotAfter.Unix()), testutil.ToFloat64(r.expiry), "the expiry gauge follows")

	// A broken certificate file keeps the one in service.
	require.NoError(t, os.WriteFile(first.CertFile, []byte("not PEM"), 0o600))
	later := time.Now().Add(2 * time.Minute)
	require.NoError(t, os.Chtimes(first.CertFile, later, later))
	got, err = dial(addr, ca.Pool, nil)
	require.NoError(t, err)
	require.Equal(t, "server-next", got.Subject.CommonName)
	require.Equal(t, 1.0, testutil.ToFloat64(r.reloads.WithLabelValues("failure")))

	// A key that does not match the certificate is refused the same way, and counted once,
	// not at every handshake.
	other := ca.Server(t, "other")
	replace(t, first.CertFile, second.CertFile, 3)
	replace(t, first.KeyFile, other.KeyFile, 3)
	for range 3 {
		got, err = dial(addr, ca.Pool, nil)
		require.NoError(t, err)
		require.Equal(t, "server-next", got.Subject.CommonName)
	}
	require.Equal(t, 2.0, testutil.ToFloat64(r.reloads.WithLabelValues("failure")))

	// Fixed files are taken up.
	replace(t, first.KeyFile, second.KeyFile, 4)
	got, err = dial(addr, ca.Pool, nil)
	require.NoError(t, err)
	require.Equal(t, "server-next", got.Subject.CommonName)
	require.Equal(t, 2.0, testutil.ToFloat64(r.reloads.WithLabelValues("success")))
}

func TestClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "test")
	srv := ca.Server(t, "server")
	client := ca.Client(t, "client")
	stranger := tlstest.NewCA(t, dir, "stranger").Client(t, "stranger")
	r, err := New(Files{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: ca.CAFile}, nil, nil)
	require.NoError(t, err)

	listen := func(auth tls.ClientAuthType) string {
		cfg, err := r.ServerConfig(auth)
		require.NoError(t, err)
		return serve(t, cfg)
	}
	required := listen(tls.RequireAndVerifyClientCert)
	_, err = dial(required, ca.Pool, nil)
	require.Error(t, err, "no client certificate")
	_, err = dial(required, ca.Pool, &stranger.TLS)
	require.Error(t, err, "a client certificate of another CA")
	_, err = dial(required, ca.Pool, &client.TLS)
	require.NoError(t, err)

	requested := listen(tls.VerifyClientCertIfGiven)
	_, err = dial(requested, ca.Pool, nil)
	require.NoError(t, err)
	// Go's client sends no certificate that the server's list of CAs does not take, so a
	// stranger's client is anonymous here, as one without a certificate.
	_, err = dial(requested, ca.Pool, &stranger.TLS)
	require.NoError(t, err)
	_, err = dial(requested, ca.Pool, &client.TLS)
	require.NoError(t, err)

	// TLS 1.1 is refused.
	c, err := tls.Dial("tcp", requested, &tls.Config{RootCAs: ca.Pool, MaxVersion: tls.VersionTLS11})
	if err == nil {
		_ = c.Close()
	}
	require.Error(t, err)

	// Client certificates without a client CA file is a configuration error.
	r2, err := New(Files{CertFile: srv.CertFile, KeyFile: srv.KeyFile}, nil, nil)
	require.NoError(t, err)
	_, err = r2.ServerConfig(tls.RequireAndVerifyClientCert)
	require.ErrorContains(t, err, "no client CA file")
}

func TestNewNamesTheBadFile(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "test")
	srv := ca.Server(t, "server")
	other := ca.Server(t, "other")

	_, err := New(Files{CertFile: dir + "/missing.pem", KeyFile: srv.KeyFile}, nil, nil)
	require.ErrorContains(t, err, "tls certificate file: open "+dir+"/missing.pem")
	_, err = New(Files{CertFile: srv.CertFile, KeyFile: dir + "/missing-key.pem"}, nil, nil)
	require.ErrorContains(t, err, "tls key file: open "+dir+"/missing-key.pem")
	_, err = New(Files{CertFile: srv.CertFile, KeyFile: other.KeyFile}, nil, nil)
	require.ErrorContains(t, err, "tls certificate file "+srv.CertFile+" with key file "+other.KeyFile)
	_, err = New(Files{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: srv.KeyFile}, nil, nil)
	require.ErrorContains(t, err, "tls client CA file "+srv.KeyFile+": no PEM certificate")
	_, err = New(Files{CertFile: srv.CertFile}, nil, nil)
	require.Error(t, err)
}

func TestParseClientAuth(t *testing.T) {
	for in, want := range map[string]tls.ClientAuthType{"": tls.NoClientCert, "none": tls.NoClientCert,
		"request": tls.VerifyClientCertIfGiven, "require": tls.RequireAndVerifyClientCert} {
		got, err := ParseClientAuth(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := ParseClientAuth("optional")
	require.ErrorContains(t, err, "want none, request or require")
}
