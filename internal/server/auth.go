package server

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/loupe-dev/loupe/internal/alerting"
	dashapi "github.com/loupe-dev/loupe/internal/api/dashboards"
	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/auth"
	"github.com/loupe-dev/loupe/internal/ingest/loki"
	"github.com/loupe-dev/loupe/internal/ingest/promscrape"
	"github.com/loupe-dev/loupe/internal/ingest/pyroscope"
	"github.com/loupe-dev/loupe/internal/ingest/sentry"
)

// setupAuth reads the tokens file and refuses a listener beyond loopback while
// authentication is off, unless listen.insecure says so (docs/security.md). StatsD
// listeners beyond loopback count as open unless TCP with client certificates required:
// tokens cannot protect them, as StatsD has no credentials of its own.
func (s *Server) setupAuth() error {
	k, err := auth.NewKeyring(s.cfg.Auth, s.cfg.DataDir, s.logger.With("component", "auth"))
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	s.auth = k
	var public []string
	for _, a := range []string{s.cfg.Listen.HTTP, s.cfg.Listen.OTLPGRPC, s.cfg.Listen.OTLPHTTP} {
		if a != "" && !loopbackAddr(a) {
			public = append(public, a)
		}
	}
	if len(public) > 0 && k.Enabled() {
		// Auth stays on for as long as the server runs, even when the last token is
		// revoked (every request is then refused).
		k.Require()
		public = nil
	}
	statsdOpen := s.openStatsd()
	switch {
	case len(public) == 0 && len(statsdOpen) == 0:
		return nil
	case s.cfg.Listen.Insecure:
		s.logger.Warn("listening beyond loopback WITHOUT authentication (listen.insecure): anyone who reaches these ports can send and read all data",
			"addresses", strings.Join(append(public, statsdOpen...), " "))
		return nil
	case len(public) > 0:
		return fmt.Errorf("refusing to listen on %s (beyond loopback) without authentication: "+
			"create a token with `loupe token create --scope ingest,read --name NAME --data-dir %s` (auth turns on when one exists), "+
			"or accept open ports with --insecure-listen (listen.insecure: true); see docs/security.md",
			strings.Join(public, ", "), s.cfg.DataDir)
	}
	return fmt.Errorf("refusing to listen for StatsD on %s (beyond loopback) without authentication: "+
		"StatsD has no credentials, so only TCP with client certificates is authenticated "+
		"(statsd.tcp_tls: true and listen.tls.statsd_client_auth: require, with statsd.udp_addr on loopback or \"\"); "+
		"or keep StatsD on loopback, or accept open ports with --insecure-listen (listen.insecure: true); see docs/security.md",
		strings.Join(statsdOpen, ", "))
}

// openStatsd lists StatsD's listeners beyond loopback that do not authenticate clients:
// UDP always, TCP unless client certificates are required.
func (s *Server) openStatsd() []string {
	var open []string
	if a := s.cfg.Statsd.UDPAddr; a != "" && !loopbackAddr(a) {
		open = append(open, "udp "+a)
	}
	if a := s.cfg.Statsd.TCPAddr; a != "" && !loopbackAddr(a) && !s.statsdAuthenticated() {
		open = append(open, "tcp "+a)
	}
	return open
}

// loopbackAddr reports whether a listen address binds loopback only: a loopback IP or
// "localhost". An empty host or 0.0.0.0 binds every interface.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// classifyWithUI is classifyHTTP with the UI's page and assets open: GET and HEAD of what
// mux routes to the UI handler at "/", outside /api/ and /alertmanager/. They hold no
// data, and the UI must load to show its sign-in page; its API calls need credentials.
func classifyWithUI(mux *http.ServeMux) auth.Classifier {
	return func(r *http.Request) (auth.Scope, bool) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			p := r.URL.Path
			if _, pattern := mux.Handler(r); pattern == "/" && !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, alerting.Prefix+"/") {
				return "", true
			}
		}
		return classifyHTTP(r)
	}
}

// classifyHTTP is the scope each route of the HTTP port needs. Health probes and the UI's
// sign-in (which checks what it is sent itself) are open, and so is the Sentry ingest: SDKs authenticate with their DSN key (sentry.keys_file) and
// cannot send a bearer token.
func classifyHTTP(r *http.Request) (auth.Scope, bool) {
	p := r.URL.Path
	if p == "/-/healthy" || p == "/-/ready" || p == auth.SessionPath {
		return "", true
	}
	if _, _, ok := sentry.IsIngestPath(p); ok {
		return "", true
	}
	switch {
	case p == prom.Prefix+"/write", strings.HasPrefix(p, prom.Prefix+"/otlp/"),
		p == loki.Path, p == "/api/prom/push", p == pyroscope.Path, p == pyroscope.PushPath:
		return auth.ScopeIngest, false
	case p == promscrape.ReloadPath, strings.HasPrefix(p, "/debug/pprof/"),
		strings.HasPrefix(p, prom.Prefix+"/admin/"):
		return auth.ScopeAdmin, false
	case strings.HasPrefix(p, alerting.Prefix+"/") && r.Method != http.MethodGet && r.Method != http.MethodHead:
		return auth.ScopeAdmin, false // silences: creating and expiring them
	case (p == dashapi.Prefix || strings.HasPrefix(p, dashapi.Prefix+"/")) && r.Method != http.MethodGet && r.Method != http.MethodHead:
		return auth.ScopeAdmin, false // creating, changing, deleting and importing dashboards
	}
	// Every query API, /metrics, the UI and its assets. Setting an issue's status
	// (PUT /api/loupe/v1/issues/{id}) is triage from the UI and needs read too.
	return auth.ScopeRead, false
}
