package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"time"
)

// The web UI signs in once (with a token or a user name and password) and then holds a
// session: a random id in an HttpOnly cookie, which scripts cannot read, so that the
// credential itself never sits in the browser. Sessions live in the server's memory and,
// by the SHA-256 of their id, in the sessions file (sessionstore.go), so that a restart
// keeps them.
const (
	// SessionPath is the sign-in (POST), current session (GET) and sign-out (DELETE) API.
	SessionPath = "/api/loupe/v1/session"
	// SessionCookie holds the session id: HttpOnly, SameSite=Strict, Secure over TLS.
	SessionCookie = "loupe_session"
	// CSRFCookie holds the session's CSRF token, readable by the UI's scripts, which send
	// it back in CSRFHeader on every state-changing request. A page on another site can
	// neither read the cookie nor set the header, so it cannot forge such a request.
	CSRFCookie = "loupe_csrf"
	CSRFHeader = "X-CSRF-Token"

	maxSessions    = 10000 // sessions kept; beyond it the one closest to its end goes
	maxSignInBytes = 8 << 10
)

// session is one signed-in browser.
type session struct {
	kind      string // "user" or "token"
	name      string // the user's or the token's name
	tokenHash string // a token session's token, looked up again on every request
	// userHash is the fingerprint of a user session's password hash at sign-in
	// (passwordFingerprint): a new password (`loupe user passwd`) ends the session.
	userHash string
	csrf     string // csrfFor(id); not stored
	expires  time.Time
}

// csrfFor is the CSRF token of the session whose id is id. It is derived from the id,
// not stored, so that a session taken up again after a restart has the same token (the
// UI keeps it in the loupe_csrf cookie), and the sessions file holds no secret: the id,
// 32 random bytes, cannot be guessed from the token or from its hash in the file.
func csrfFor(id string) string {
	sum := sha256.Sum256([]byte("loupe csrf\x00" + id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// passwordFingerprint identifies the password a user has now; it changes with every
// `loupe user passwd` (bcrypt salts each hash).
func passwordFingerprint(u User) string { return hashSecret(u.Hash) }

func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// startSession stores s under a new id, in memory and in the sessions file, and returns
// the id.
func (k *Keyring) startSession(s *session) string {
	id := randomString()
	s.csrf = csrfFor(id)
	k.mu.Lock()
	if len(k.sessions) >= maxSessions {
		now := k.now()
		var soonest string
		for h, old := range k.sessions {
			if !now.Before(old.expires) {
				delete(k.sessions, h)
			} else if soonest == "" || old.expires.Before(k.sessions[soonest].expires) {
				soonest = h
			}
		}
		if len(k.sessions) >= maxSessions {
			delete(k.sessions, soonest)
		}
	}
	k.sessions[hashSecret(id)] = s
	k.mu.Unlock()
	k.saveSessions()
	return id
}

// sessionOf returns the live session of r's cookie, with the scopes it has now: the
// user's or token's scopes as the files say at this moment, so that removing a user,
// revoking a token or its expiry ends the session at once.
func (k *Keyring) sessionOf(r *http.Request) (s *session, g grant, ok bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, grant{}, false
	}
	h := hashSecret(c.Value)
	k.mu.Lock()
	s = k.sessions[h]
	now := k.now()
	expired := s != nil && !now.Before(s.expires)
	if expired {
		delete(k.sessions, h)
		s = nil
	}
	k.mu.Unlock()
	if expired {
		k.saveSessions()
	}
	if s == nil {
		return nil, grant{}, false
	}
	cp := *s
	cp.csrf = csrfFor(c.Value)
	s = &cp
	switch s.kind {
	case "user":
		if u, found := k.user(s.name); found && s.userHash == passwordFingerprint(u) {
			return s, grant{u.Scopes, u.Tenant}, true
		}
	case "token":
		if t, found := k.lookupHash(s.tokenHash); found && !t.Expired(now) {
			return s, grant{t.Scopes, t.Tenant}, true
		}
	}
	k.endSession(c.Value)
	return nil, grant{}, false
}

// grant is what a session may do now: its scopes, and the tenant its token is bound to.
type grant struct {
	scopes []Scope
	tenant string
}

func (k *Keyring) endSession(id string) {
	h := hashSecret(id)
	k.mu.Lock()
	_, found := k.sessions[h]
	delete(k.sessions, h)
	k.mu.Unlock()
	if found {
		k.saveSessions()
	}
}

// csrfOK reports whether r carries s's CSRF token in CSRFHeader.
func csrfOK(r *http.Request, s *session) bool {
	got := r.Header.Get(CSRFHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// stateChanging reports whether a request of method may change something and so needs
// the CSRF token when it is authenticated by the session cookie.
func stateChanging(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

func allows(scopes []Scope, scope Scope) bool {
	return slices.Contains(scopes, scope) || slices.Contains(scopes, ScopeAdmin)
}

// SessionInfo is what the session API answers about a signed-in browser.
type SessionInfo struct {
	AuthEnabled bool      `json:"auth_enabled"`
	Kind        string    `json:"kind,omitempty"` // user or token
	Name        string    `json:"name,omitempty"`
	Scopes      []Scope   `json:"scopes,omitempty"`
	Tenant      string    `json:"tenant,omitempty"` // the tenant the session's token or user is bound to
	Expires     time.Time `json:"expires,omitzero"`
	CSRFToken   string    `json:"csrf_token,omitempty"`
}

// SessionHandler serves SessionPath: POST signs in with {"token"} or {"user",
// "password"}, GET describes the current session, DELETE signs out. It is open (it does
// its own checks) and shares the failed-attempt limit of the other credentials.
func (k *Keyring) SessionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			k.signIn(w, r)
		case http.MethodGet, http.MethodHead:
			if !k.Enabled() {
				writeJSON(w, http.StatusOK, SessionInfo{})
				return
			}
			s, g, ok := k.sessionOf(r)
			if !ok {
				writeError(w, http.StatusUnauthorized, "not signed in")
				return
			}
			writeJSON(w, http.StatusOK, info(s, g))
		case http.MethodDelete:
			k.signOut(w, r)
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			writeError(w, http.StatusMethodNotAllowed, "use POST to sign in, GET to see the session, DELETE to sign out")
		}
	})
}

func info(s *session, g grant) SessionInfo {
	return SessionInfo{AuthEnabled: true, Kind: s.kind, Name: s.name, Scopes: g.scopes, Tenant: g.tenant, Expires: s.expires, CSRFToken: s.csrf}
}

type signInRequest struct {
	Token    string `json:"token"`
	User     string `json:"user"`
	Password string `json:"password"`
}

func (k *Keyring) signIn(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, `sign in with a JSON body: {"token": "..."} or {"user": "...", "password": "..."}`)
		return
	}
	var req signInRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSignInBytes)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "sign-in body: "+err.Error())
		return
	}
	if !k.Enabled() {
		writeError(w, http.StatusConflict, "authentication is off: there is nothing to sign in to (docs/security.md)")
		return
	}
	ip := remoteIP(r.RemoteAddr)
	if k.throttled(ip) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "too many failed authentication attempts from this address; try again later")
		return
	}
	now := k.now()
	s := &session{expires: now.Add(k.maxAge)}
	var g grant
	switch {
	case req.Token != "":
		t, ok := k.Lookup(req.Token)
		if !ok {
			k.fail(ip)
			writeError(w, http.StatusUnauthorized, "invalid token: it is not in the tokens file (revoked, or mistyped?)")
			return
		}
		if t.Expired(now) {
			writeError(w, http.StatusUnauthorized, expiredMessage(t))
			return
		}
		s.kind, s.name, s.tokenHash, g = "token", t.Name, t.Hash, grant{t.Scopes, t.Tenant}
		if !t.Expires.IsZero() && t.Expires.Before(s.expires) {
			s.expires = t.Expires
		}
	case req.User != "" && req.Password != "":
		u, found := k.user(req.User)
		if !verifyPassword(u, found, req.Password) {
			k.fail(ip)
			writeError(w, http.StatusUnauthorized, "wrong user name or password")
			return
		}
		s.kind, s.name, s.userHash, g = "user", u.Name, passwordFingerprint(u), grant{u.Scopes, u.Tenant}
	default:
		writeError(w, http.StatusBadRequest, `sign in with {"token": "..."} or {"user": "...", "password": "..."}`)
		return
	}
	if !allows(g.scopes, ScopeRead) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("%s %q has scopes %v; the UI needs the read scope", s.kind, s.name, g.scopes))
		return
	}
	id := k.startSession(s)
	setSessionCookies(w, r, id, s.csrf, s.expires.Sub(now))
	writeJSON(w, http.StatusOK, info(s, g))
}

func (k *Keyring) signOut(w http.ResponseWriter, r *http.Request) {
	if s, _, ok := k.sessionOf(r); ok {
		if !csrfOK(r, s) {
			writeError(w, http.StatusForbidden, "signing out needs the session's CSRF token in the "+CSRFHeader+" header")
			return
		}
		c, _ := r.Cookie(SessionCookie)
		k.endSession(c.Value)
	}
	setSessionCookies(w, r, "", "", -1)
	writeJSON(w, http.StatusOK, SessionInfo{AuthEnabled: k.Enabled()})
}

// setSessionCookies sets (maxAge > 0) or deletes both cookies. Secure when the request
// came over TLS: behind a proxy that terminates TLS, the proxy should add it.
func setSessionCookies(w http.ResponseWriter, r *http.Request, id, csrf string, maxAge time.Duration) {
	age := int(maxAge / time.Second)
	if maxAge < 0 {
		age = -1
	}
	secure := r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", MaxAge: age,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: csrf, Path: "/", MaxAge: age,
		Secure: secure, SameSite: http.SameSiteStrictMode})
}

func writeJSON(w http.ResponseWriter, code int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "error": msg})
}

func expiredMessage(t Token) string {
	return fmt.Sprintf("token %q expired at %s: create a new one with `loupe token create` (docs/security.md)",
		t.Name, t.Expires.Format(time.RFC3339))
}
