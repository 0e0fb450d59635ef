package auth

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/loupe-dev/loupe/internal/tenant"
)

// outcome is the answer to a request's credentials.
type outcome int

const (
	allowed     outcome = iota
	missing             // no credentials: 401, UNAUTHENTICATED
	invalid             // a token that is not known: 401, UNAUTHENTICATED
	expired             // an expired token, or a UI session that ended: 401, UNAUTHENTICATED
	forbidden           // a known token without the scope: 403, PERMISSION_DENIED
	rateLimited         // too many failed attempts from the address: 429, RESOURCE_EXHAUSTED
)

// check decides on the Authorization value header of a request from ip that needs scope,
// with a message for the client, and the tenant its token is bound to ("": none).
func (k *Keyring) check(ip, header string, scope Scope) (outcome, string, string) {
	if !k.Enabled() {
		return allowed, "", ""
	}
	secret, ok := credentials(header)
	if !ok {
		return missing, fmt.Sprintf("authentication required: send a token with the %s scope as \"Authorization: Bearer <token>\" or as the password of HTTP basic auth (docs/security.md)", scope), ""
	}
	if k.throttled(ip) {
		return rateLimited, "too many failed authentication attempts from this address; try again later", ""
	}
	t, ok := k.Lookup(secret)
	if !ok {
		k.fail(ip)
		return invalid, "invalid token: it is not in the tokens file (revoked, or mistyped?)", ""
	}
	if t.Expired(k.now()) {
		// Not counted as a failed attempt: the token was real, nothing is being guessed.
		return expired, expiredMessage(t), ""
	}
	if !t.Allows(scope) {
		return forbidden, fmt.Sprintf("token %q has scopes %v; this needs the %s scope", t.Name, t.Scopes, scope), ""
	}
	return allowed, "", t.Tenant
}

// checkHTTP is check for an HTTP request, which may instead carry the UI's session
// cookie. The Authorization header wins when both are sent: such a request is not
// authenticated by the cookie and needs no CSRF token.
func (k *Keyring) checkHTTP(r *http.Request, scope Scope) (outcome, string, string) {
	header := r.Header.Get("Authorization")
	if header != "" || !k.Enabled() {
		return k.check(remoteIP(r.RemoteAddr), header, scope)
	}
	if _, err := r.Cookie(SessionCookie); err != nil {
		return k.check(remoteIP(r.RemoteAddr), header, scope)
	}
	// A stale cookie (signed out, expired, a new password) is not a failed attempt: a browser
	// sends it with every request of the page until the user signs in again.
	s, g, ok := k.sessionOf(r)
	if !ok {
		return expired, "your session has ended (signed out, expired, or its user, password or token changed): sign in again", ""
	}
	if stateChanging(r.Method) && !csrfOK(r, s) {
		return forbidden, fmt.Sprintf("%s with the session cookie needs the session's CSRF token in the %s header (the %s cookie)",
			r.Method, CSRFHeader, CSRFCookie), ""
	}
	if !allows(g.scopes, scope) {
		return forbidden, fmt.Sprintf("%s %q has scopes %v; this needs the %s scope", s.kind, s.name, g.scopes, scope), ""
	}
	return allowed, "", g.tenant
}

// credentials takes the token of an Authorization value: "Bearer TOKEN", or "Basic" with
// the token as password and any user name (what promtail, Grafana and Prometheus'
// basic_auth send), or as user name with an empty password.
func credentials(header string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		return rest, rest != ""
	case "basic":
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", false
		}
		user, pass, _ := strings.Cut(string(b), ":")
		if pass == "" {
			pass = user
		}
		return pass, pass != ""
	}
	return "", false
}

// Classifier says which scope a request needs; open is true for requests that need none
// (health probes, and the Sentry ingest, which checks its own DSN keys).
type Classifier func(r *http.Request) (scope Scope, open bool)

// Only is a Classifier requiring scope for every request (the OTLP/HTTP port: ingest).
func Only(scope Scope) Classifier {
	return func(*http.Request) (Scope, bool) { return scope, false }
}

// HTTP wraps next with token authentication: a request classify does not call open must
// carry a token with the scope it needs while authentication is enabled.
func (k *Keyring) HTTP(next http.Handler, classify Classifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope, open := classify(r)
		if open {
			next.ServeHTTP(w, r)
			return
		}
		out, msg, bound := k.checkHTTP(r, scope)
		switch out {
		case allowed:
			if bound != "" {
				r = r.WithContext(tenant.WithBound(r.Context(), bound))
			}
			next.ServeHTTP(w, r)
			return
		case missing, invalid, expired:
			// Basic, so that a browser asks for credentials when it opens an API URL (the
			// token is the password). Not for the UI's own requests (fetch: Sec-Fetch-Mode
			// cors or same-origin), whose 401 shows the UI's sign-in page instead of the
			// browser's prompt.
			if mode := r.Header.Get("Sec-Fetch-Mode"); mode == "" || mode == "navigate" {
				w.Header().Set("WWW-Authenticate", `Basic realm="Loupe", charset="UTF-8"`)
			}
			http.Error(w, msg, http.StatusUnauthorized)
		case forbidden:
			http.Error(w, msg, http.StatusForbidden)
		case rateLimited:
			w.Header().Set("Retry-After", "1")
			http.Error(w, msg, http.StatusTooManyRequests)
		}
	})
}

func remoteIP(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
