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
	// h2 and http/1.1 as http.Server.ServeTLS offers them; gRPC takes h2.
	if s.tls.otlp, err = r.ServerConfig(ingestAuth, "h2", "http/1.1"); err != nil {
		return fmt.Errorf("listen.tls: %w", err)
	}
	if s.tls.http, err = r.ServerConfig(httpAuth, "h2", "http/1.1"); err != nil {
		return fmt.Errorf("listen.tls: %w", err)
	}
	s.logger.Info("listeners serve TLS", "cert_file", cert, "not_after", r.Certificate().Leaf.NotAfter,
		"client_auth", t.ClientAuth, "http_client_auth", httpName)
	return nil
}
