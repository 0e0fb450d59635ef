// Package tlsconfig builds server TLS configurations from certificate, key and client CA
// files, and re-reads the files when they change, so that a rotated certificate
// (cert-manager, certbot) is served without a restart.
//
// The files are checked at a handshake at most once per CheckInterval (by modification time
// and size): no watcher to set up, and a Kubernetes secret volume, which swaps a symlink,
// is seen as well as a file rewritten in place. A new set of files that does not load (a
// half-written file, a key that does not match the certificate) keeps the previous one in
// service, is logged and counted, and is tried again when a file changes again.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/selfmetrics"
)

// Files names the PEM files of a server. CertFile and KeyFile are required; ClientCAFile,
// when set, holds the CAs that sign accepted client certificates.
type Files struct {
	CertFile     string
	KeyFile      string
	ClientCAFile string
}

// DefaultCheckInterval is how often, at most, a handshake looks at the files.
const DefaultCheckInterval = 5 * time.Second

// ParseClientAuth maps the configuration's none, request and require to a tls.ClientAuthType.
// request asks for a certificate and verifies one that is sent; require refuses a client
// without a verified one.
func ParseClientAuth(s string) (tls.ClientAuthType, error) {
	switch s {
	case "", "none":
		return tls.NoClientCert, nil
	case "request":
		return tls.VerifyClientCertIfGiven, nil
	case "require":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("%q: want none, request or require", s)
}

// Reloader holds the loaded certificate and client CAs and reloads them when the files change.
type Reloader struct {
	files Files
	// CheckInterval is the least time between two looks at the files; 0 looks at every
	// handshake (tests). Set it before the first handshake.
	CheckInterval time.Duration
	logger        *slog.Logger
	reloads       *prometheus.CounterVec
	expiry        prometheus.Gauge

	mu        sync.Mutex
	cert      *tls.Certificate
	pool      *x509.CertPool
	stamps    []stamp // of the files as last tried, loaded or not
	lastCheck time.Time
}

// stamp identifies a version of a file without reading it.
type stamp struct {
	mod  time.Time
	size int64
}

// New loads the files, failing with an error naming the file at fault, so that a server
// does not start with a TLS configuration it cannot serve. A nil logger discards logs; a
// nil reg registers no metrics.
func New(files Files, logger *slog.Logger, reg prometheus.Registerer) (*Reloader, error) {
	if files.CertFile == "" || files.KeyFile == "" {
		return nil, errors.New("tls: both a certificate file and a key file are needed")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{
		files:         files,
		CheckInterval: DefaultCheckInterval,
		logger:        logger,
		reloads: selfmetrics.Register(reg, logger, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_tls_reloads_total",
			Help: "Reloads of the TLS certificate, key and client CA files after they changed, by result (success, failure: the previous ones stay in service).",
		}, []string{"result"})),
		expiry: selfmetrics.Register(reg, logger, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loupe_tls_certificate_expiry_timestamp_seconds",
			Help: "Unix time at which the served TLS certificate expires (its NotAfter).",
		})),
	}
	stamps := r.stat()
	cert, pool, err := load(files)
	if err != nil {
		return nil, err
	}
	r.cert, r.pool, r.stamps, r.lastCheck = cert, pool, stamps, time.Now()
	r.expiry.Set(float64(cert.Leaf.NotAfter.Unix()))
	return r, nil
}

// ServerConfig returns a configuration for a listener: TLS 1.2 at least, the current
// certificate at every handshake, client certificates per clientAuth (checked against the
// client CA file), and nextProtos offered by ALPN (h2 and http/1.1 for an HTTP server, h2
// for gRPC). A clientAuth other than NoClientCert needs a client CA file.
func (r *Reloader) ServerConfig(clientAuth tls.ClientAuthType, nextProtos ...string) (*tls.Config, error) {
	if clientAuth != tls.NoClientCert && r.files.ClientCAFile == "" {
		return nil, errors.New("tls: client certificates are asked for but no client CA file is set")
	}
	base := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: nextProtos}
	// GetConfigForClient rather than GetCertificate alone, as the client CAs reload too.
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cert, pool := r.current()
		return &tls.Config{
			MinVersion:   tls.VersionTLS12,
			NextProtos:   nextProtos,
			Certificates: []tls.Certificate{*cert},
			ClientAuth:   clientAuth,
			ClientCAs:    pool,
		}, nil
	}
	return base, nil
}

// Certificate returns the certificate in service.
func (r *Reloader) Certificate() *tls.Certificate {
	cert, _ := r.current()
	return cert
}

// current returns the certificate and client CAs in service, reloading them first when it
// is time to look and a file has changed.
func (r *Reloader) current() (*tls.Certificate, *x509.CertPool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.lastCheck) < r.CheckInterval {
		return r.cert, r.pool
	}
	r.lastCheck = now
	stamps := r.stat()
	if equalStamps(stamps, r.stamps) {
		return r.cert, r.pool
	}
	r.stamps = stamps // a failed set is not tried again until a file changes again
	cert, pool, err := load(r.files)
	if err != nil {
		r.reloads.WithLabelValues("failure").Inc()
		r.logger.Error("tls files changed but do not load; still serving the previous certificate", "err", err)
		return r.cert, r.pool
	}
	r.reloads.WithLabelValues("success").Inc()
	r.cert, r.pool = cert, pool
	r.expiry.Set(float64(cert.Leaf.NotAfter.Unix()))
	r.logger.Info("tls certificate reloaded", "cert_file", r.files.CertFile,
		"subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter)
	return r.cert, r.pool
}

// stat stamps the files; a file that cannot be stat'ed gets a zero stamp.
func (r *Reloader) stat() []stamp {
	out := make([]stamp, 0, 3)
	for _, p := range []string{r.files.CertFile, r.files.KeyFile, r.files.ClientCAFile} {
		var s stamp
		if p != "" {
			if fi, err := os.Stat(p); err == nil {
				s = stamp{fi.ModTime(), fi.Size()}
			}
		}
		out = append(out, s)
	}
	return out
}

func equalStamps(a, b []stamp) bool {
	for i := range a {
		if !a[i].mod.Equal(b[i].mod) || a[i].size != b[i].size {
			return false
		}
	}
	return true
}

// load reads and checks the files; errors name the file.
func load(f Files) (*tls.Certificate, *x509.CertPool, error) {
	certPEM, err := os.ReadFile(f.CertFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(f.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls key file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("tls certificate file %s with key file %s: %w", f.CertFile, f.KeyFile, err)
	}
	// Leaf is set by X509KeyPair since Go 1.23; parse it if not, for the expiry.
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, nil, fmt.Errorf("tls certificate file %s: %w", f.CertFile, err)
		}
	}
	var pool *x509.CertPool
	if f.ClientCAFile != "" {
		caPEM, err := os.ReadFile(f.ClientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls client CA file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, nil, fmt.Errorf("tls client CA file %s: no PEM certificate in it", f.ClientCAFile)
		}
	}
	return &cert, pool, nil
}
