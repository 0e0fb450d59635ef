package server

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/loupe-dev/loupe/internal/ingest/sentry"
)

// browserGuard protects an HTTP port from what a web page in a user's browser can do to a
// server it can reach (Loupe on a laptop or an internal network):
//
//   - Cross-site writes (CSRF): a page may POST to any address without reading the answer,
//     with a body and no Content-Type or a "simple" one. http.CrossOriginProtection refuses
//     state-changing requests that the browser marks as cross-site (Sec-Fetch-Site, or an
//     Origin that is not the Host). Clients that are not browsers send neither header and
//     are not affected.
//   - DNS rebinding: a page on evil.example whose name is made to resolve to 127.0.0.1 is
//     same-origin for the browser and may read every answer. The browser sends Host:
//     evil.example, so a port that listens on loopback accepts only loopback names, the
//     listen address's host and the configured allowed hosts.
func browserGuard(h http.Handler, listenAddr string, allowedHosts []string) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("cross-origin %s refused: a web page on another site may not write to Loupe (origin %q)",
			r.Method, r.Header.Get("Origin")), http.StatusForbidden)
	}))
	hosts := hostPolicy{allowed: allowedHosts}
	if host, _, err := net.SplitHostPort(listenAddr); err == nil {
		hosts.listenHost = strings.ToLower(host)
		hosts.any = !isLoopbackHost(host) && len(allowedHosts) == 0
	}
	protected := cop.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts.allows(r.Host) {
			http.Error(w, fmt.Sprintf("host %q is not allowed on this port: it listens on %s; add the name to listen.allowed_hosts to use it",
				r.Host, listenAddr), http.StatusMisdirectedRequest)
			return
		}
		// Sentry's browser SDK posts events from the pages of other sites; that is the
		// endpoint's purpose, and Sentry accepts it. The request is authenticated by the
		// DSN key (in the query string), not by cookies or the browser's ambient
		// credentials, so a page can do no more than a program holding the key: these two
		// paths (and only they) skip the cross-origin check. DNS rebinding is still
		// checked above.
		if _, _, ok := sentry.IsIngestPath(r.URL.Path); ok {
			h.ServeHTTP(w, r)
			return
		}
		protected.ServeHTTP(w, r)
	})
}

// hostPolicy decides which Host headers a port answers.
type hostPolicy struct {
	listenHost string   // the host of the listen address, always allowed
	allowed    []string // listen.allowed_hosts; "*" allows any
	any        bool     // a non-loopback listener without allowed_hosts answers any name
}

func (p hostPolicy) allows(hostport string) bool {
	if p.any || slices.Contains(p.allowed, "*") {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" || isLoopbackHost(host) || host == strings.Trim(p.listenHost, "[]") {
		return true
	}
	for _, a := range p.allowed {
		if strings.EqualFold(a, host) {
			return true
		}
	}
	return false
}

// isLoopbackHost reports whether host names this machine only: localhost (and its
// subdomains, which RFC 6761 reserves for loopback) or a loopback IP.
func isLoopbackHost(host string) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackOnly serves h to clients connecting from this machine only. Go's profiles show
// the server's code paths and can cost a lot of CPU (a 30 s CPU profile, a trace), so
// they are not for whoever can reach the port.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "/debug/pprof is served to clients on this machine only (loopback)", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
