package server

import (
	"crypto/tls"
	"fmt"

	"github.com/loupe-dev/loupe/internal/tlsconfig"
)

// listenerTLS holds the TLS configurations of the listeners; nil ones serve plain text.
type listenerTLS struct {
	http *tls.Config // the HTTP port
	otlp *tls.Config // OTLP/HTTP and OTLP/gRPC
	// statsd is StatsD's TCP listener; used when statsd.tcp_tls is set (statsdTLS).
	statsd *tls.Config
}

// setupTLS loads listen.tls's files, so that a missing or mismatched certificate or key
// stops the start with an error naming the file. The listeners share one reloader: the
// files are re-read when they change (internal/tlsconfig).
func (s *Server) setupTLS() error {
	t := s.cfg.Listen.TLS
	if !t.Enabled() {
		return nil
	}
	cert, key, ca := s.cfg.TLSFiles()
	r, err := tlsconfig.New(tlsconfig.Files{CertFile: cert, KeyFile: key, ClientCAFile: ca},
		s.logger.With("component", "tls"), s.reg)
	if err != nil {
		return fmt.Errorf("listen.tls: %w", err)
	}
	ingestAuth, err := tlsconfig.ParseClientAuth(t.ClientAuth)
	if err != nil {
		return fmt.Errorf("listen.tls.client_auth: %w", err)
	}
	httpAuth, httpName := ingestAuth, t.ClientAuth
	if t.HTTPClientAuth != "" {
		httpName = t.HTTPClientAuth
		if httpAuth, err = tlsconfig.ParseClientAuth(t.HTTPClientAuth); err != nil {
			return fmt.Errorf("listen.tls.http_client_auth: %w", err)
		}
	}
	statsdAuth, statsdName := ingestAuth, t.ClientAuth
	if t.StatsdClientAuth != "" {
		statsdName = t.StatsdClientAuth
		if statsdAuth, err = tlsconfig.ParseClientAuth(t.StatsdClientAuth); err != nil {
			return fmt.Errorf("listen.tls.statsd_client_auth: %w", err)
		}
	}
	// StatsD lines are not HTTP: no ALPN.
	if s.tls.statsd, err = r.ServerConfig(statsdAuth); err != nil {
		return fmt.Errorf("listen.tls: %w", err)
	}
	// h2 and http/1.1 as http.Server.ServeTLS offers them; gRPC takes h2.
	if s.tls.otlp, err = r.ServerConfig(ingestAuth, "h2", "http/1.1"); err != nil {
		return fmt.Errorf("listen.tls: %w", err)
	}
	if s.tls.http, err = r.ServerConfig(httpAuth, "h2", "http/1.1"); err != nil {
		return fmt.Errorf("listen.tls: %w", err)
	}
	s.logger.Info("listeners serve TLS", "cert_file", cert, "not_after", r.Certificate().Leaf.NotAfter,
		"client_auth", t.ClientAuth, "http_client_auth", httpName, "statsd_tcp_tls", s.cfg.Statsd.TCPTLS, "statsd_client_auth", statsdName)
	return nil
}

// statsdTLS is the TLS configuration of StatsD's TCP listener: nil (plain text) unless
// statsd.tcp_tls is set.
func (s *Server) statsdTLS() *tls.Config {
	if !s.cfg.Statsd.TCPTLS {
		return nil
	}
	return s.tls.statsd
}

// statsdAuthenticated reports whether StatsD's TCP listener authenticates its clients: TLS
// with client certificates required (StatsD has no credentials of its own).
func (s *Server) statsdAuthenticated() bool {
	t := s.cfg.Listen.TLS
	mode := t.ClientAuth
	if t.StatsdClientAuth != "" {
		mode = t.StatsdClientAuth
	}
	return s.cfg.Statsd.TCPTLS && t.Enabled() && mode == "require"
}
