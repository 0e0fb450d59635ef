package auth

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// outcome is the answer to a request's credentials.
type outcome int

const (
	allowed     outcome = iota
	missing             // no credentials: 401, UNAUTHENTICATED
	invalid             // a token that is not known: 401, UNAUTHENTICATED
	forbidden           // a known token without the scope: 403, PERMISSION_DENIED
	rateLimited         // too many failed attempts from the address: 429, RESOURCE_EXHAUSTED
)

// check decides on the Authorization value header of a request from ip that needs scope,
// with a message for the client.
func (k *Keyring) check(ip, header string, scope Scope) (outcome, string) {
	if !k.Enabled() {
		return allowed, ""
	}
	secret, ok := credentials(header)
	if !ok {
		return missing, fmt.Sprintf("authentication required: send a token with the %s scope as \"Authorization: Bearer <token>\" or as the password of HTTP basic auth (docs/security.md)", scope)
	}
	if k.throttled(ip) {
		return rateLimited, "too many failed authentication attempts from this address; try again later"
	}
	t, ok := k.Lookup(secret)
	if !ok {
		k.fail(ip)
		return invalid, "invalid token: it is not in the tokens file (revoked, or mistyped?)"
	}
	if !t.Allows(scope) {
		return forbidden, fmt.Sprintf("token %q has scopes %v; this needs the %s scope", t.Name, t.Scopes, scope)
	}
	return allowed, ""
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
		out, msg := k.check(remoteIP(r.RemoteAddr), r.Header.Get("Authorization"), scope)
		switch out {
		case allowed:
			next.ServeHTTP(w, r)
			return
		case missing, invalid:
			// Basic, so that a browser asks for credentials; the token is the password.
			w.Header().Set("WWW-Authenticate", `Basic realm="Loupe", charset="UTF-8"`)
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
