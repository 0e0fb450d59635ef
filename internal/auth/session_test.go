package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/tenant"
	"golang.org/x/crypto/bcrypt"
)

func TestMain(m *testing.M) {
	bcryptCost = bcrypt.MinCost // the cost is bcrypt's business; tests check the logic
	os.Exit(m.Run())
}

const password = "correct horse battery"

func TestUsersFile(t *testing.T) {
	path := t.TempDir() + "/users.json"
	_, err := AddUser(path, "alice", "short", []Scope{ScopeRead}, false, time.Now())
	require.ErrorContains(t, err, "at least 12")
	_, err = AddUser(path, "alice", strings.Repeat("x", 73), []Scope{ScopeRead}, false, time.Now())
	require.ErrorContains(t, err, "72 bytes")
	_, err = AddUser(path, "a b", password, []Scope{ScopeRead}, false, time.Now())
	require.ErrorContains(t, err, "spaces")
	u, err := AddUser(path, "alice", password, []Scope{ScopeRead}, false, time.Now())
	require.NoError(t, err)
	_, err = AddUser(path, "alice", password, []Scope{ScopeRead}, false, time.Now())
	require.ErrorContains(t, err, "exists")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(b), password, "only the hash is stored")
	require.True(t, verifyPassword(u, true, password))
	require.False(t, verifyPassword(u, true, password+"!"))
	require.False(t, verifyPassword(User{}, false, password))

	// passwd: a new password, and new scopes when given.
	_, err = AddUser(path, "alice", "another long password", []Scope{ScopeAdmin}, true, time.Now())
	require.NoError(t, err)
	users, err := ReadUsers(path)
	require.NoError(t, err)
	require.Len(t, users, 1)
	require.Equal(t, []Scope{ScopeAdmin}, users[0].Scopes)
	require.False(t, verifyPassword(users[0], true, password))
	_, err = AddUser(path, "bob", password, nil, true, time.Now())
	require.ErrorContains(t, err, `no user named "bob"`)

	_, err = UserScopes("ingest,read")
	require.ErrorContains(t, err, "ingest is for tokens")
	require.NoError(t, RemoveUser(path, "alice"))
	require.ErrorContains(t, RemoveUser(path, "alice"), "no user")
}

// browser keeps the cookies a server sets, as a browser does for one origin.
type browser struct {
	t       *testing.T
	h       http.Handler
	ip      string
	cookies map[string]string
}

func (b *browser) do(method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = b.ip + ":5555"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return rec
}

func sessionServer(t *testing.T) (*Keyring, *clock, http.Handler) {
	k, _, c := newTestKeyring(t, "auto")
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux := http.NewServeMux()
	mux.Handle(SessionPath, k.SessionHandler())
	mux.Handle("/", ok)
	h := k.HTTP(mux, func(r *http.Request) (Scope, bool) {
		if r.URL.Path == SessionPath {
			return "", true
		}
		return Scope(strings.TrimPrefix(r.URL.Path, "/")), false
	})
	return k, c, h
}

func TestSessionWithPassword(t *testing.T) {
	k, c, h := sessionServer(t)
	_, err := AddUser(k.UsersPath(), "alice", password, []Scope{ScopeRead}, false, time.Now())
	require.NoError(t, err)
	_, err = AddUser(k.UsersPath(), "root", password, []Scope{ScopeAdmin}, false, time.Now())
	require.NoError(t, err)
	require.NoError(t, k.Reload())
	require.True(t, k.Enabled(), "a user turns auth on")

	b := &browser{t: t, h: h, ip: "192.0.2.10", cookies: map[string]string{}}
	rec := b.do("GET", "/read", "", map[string]string{"Sec-Fetch-Mode": "cors"})
	require.Equal(t, 401, rec.Code)
	require.Empty(t, rec.Header().Get("WWW-Authenticate"), "no browser prompt for the UI's fetches")

	rec = b.do("POST", SessionPath, `{"user":"alice","password":"wrong password!"}`, nil)
	require.Equal(t, 401, rec.Code)
	require.Contains(t, rec.Body.String(), "wrong user name or password")
	rec = b.do("POST", SessionPath, `{"user":"nobody","password":"`+password+`"}`, nil)
	require.Equal(t, 401, rec.Code)
	require.Contains(t, rec.Body.String(), "wrong user name or password", "the same answer whether the user exists or not")
	rec = b.do("POST", SessionPath, "user=alice", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	require.Equal(t, 415, rec.Code, "a form post (what another site can make a browser send) is refused")

	rec = b.do("POST", SessionPath, `{"user":"alice","password":"`+password+`"}`, nil)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var cookies = map[string]*http.Cookie{}
	for _, ck := range rec.Result().Cookies() {
		cookies[ck.Name] = ck
	}
	require.True(t, cookies[SessionCookie].HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookies[SessionCookie].SameSite)
	require.False(t, cookies[SessionCookie].Secure, "not over TLS")
	require.False(t, cookies[CSRFCookie].HttpOnly, "the UI reads the CSRF token")
	require.Equal(t, 12*3600, cookies[SessionCookie].MaxAge)
	var resp struct{ Data SessionInfo }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.Equal(t, "alice", resp.Data.Name)
	require.Equal(t, b.cookies[CSRFCookie], resp.Data.CSRFToken)

	require.Equal(t, 204, b.do("GET", "/read", "", nil).Code, "read with the cookie")
	rec = b.do("GET", "/admin", "", nil)
	require.Equal(t, 403, rec.Code)
	require.Contains(t, rec.Body.String(), `user "alice" has scopes [read]; this needs the admin scope`)
	rec = b.do("PUT", "/read", `{}`, nil)
	require.Equal(t, 403, rec.Code, "a state-changing call with the cookie needs the CSRF token")
	require.Contains(t, rec.Body.String(), CSRFHeader)
	require.Equal(t, 403, b.do("PUT", "/read", `{}`, map[string]string{CSRFHeader: "forged"}).Code)
	require.Equal(t, 204, b.do("PUT", "/read", `{}`, map[string]string{CSRFHeader: b.cookies[CSRFCookie]}).Code)
	require.Equal(t, 200, b.do("GET", SessionPath, "", nil).Code)

	// The Authorization header wins over the cookie: not cookie-authenticated, no CSRF.
	secret, _, err := Create(k.Path(), "ci", []Scope{ScopeAdmin}, time.Now())
	require.NoError(t, err)
	require.NoError(t, k.Reload())
	require.Equal(t, 204, b.do("POST", "/admin", `{}`, map[string]string{"Authorization": "Bearer " + secret}).Code)

	// Sign-out needs the CSRF token too, then deletes the cookies and the session.
	old := b.cookies[SessionCookie]
	require.Equal(t, 403, b.do("DELETE", SessionPath, "", nil).Code)
	require.Equal(t, 200, b.do("DELETE", SessionPath, "", map[string]string{CSRFHeader: b.cookies[CSRFCookie]}).Code)
	require.Empty(t, b.cookies)
	b.cookies[SessionCookie] = old // a copy of the cookie kept elsewhere is no use now
	rec = b.do("GET", "/read", "", nil)
	require.Equal(t, 401, rec.Code)
	require.Contains(t, rec.Body.String(), "your session has ended")

	// A session ends when its time is up, and when its user is removed.
	delete(b.cookies, SessionCookie)
	require.Equal(t, 200, b.do("POST", SessionPath, `{"user":"root","password":"`+password+`"}`, nil).Code)
	require.Equal(t, 204, b.do("GET", "/admin", "", nil).Code)
	c.t = c.t.Add(12 * time.Hour)
	require.Equal(t, 401, b.do("GET", "/admin", "", nil).Code, "expired after session_max_age")
	require.Equal(t, 200, b.do("POST", SessionPath, `{"user":"root","password":"`+password+`"}`, nil).Code)
	require.NoError(t, RemoveUser(k.UsersPath(), "root"))
	c.t = c.t.Add(2 * time.Second) // the file is looked at at most once a second
	require.Equal(t, 401, b.do("GET", "/admin", "", nil).Code, "the user was removed")
}

func TestSessionWithToken(t *testing.T) {
	k, c, h := sessionServer(t)
	read, _, err := CreateExpiring(k.Path(), "viewer", []Scope{ScopeRead}, c.t, c.t.Add(time.Hour))
	require.NoError(t, err)
	ingest, _, err := Create(k.Path(), "collector", []Scope{ScopeIngest}, c.t)
	require.NoError(t, err)
	require.NoError(t, k.Reload())
	b := &browser{t: t, h: h, ip: "192.0.2.11", cookies: map[string]string{}}

	rec := b.do("POST", SessionPath, `{"token":"`+ingest+`"}`, nil)
	require.Equal(t, 403, rec.Code)
	require.Contains(t, rec.Body.String(), "the UI needs the read scope")
	rec = b.do("POST", SessionPath, `{"token":"loupe_guess"}`, nil)
	require.Equal(t, 401, rec.Code)
	require.Contains(t, rec.Body.String(), "invalid token")
	rec = b.do("POST", SessionPath, `{"token":"`+read+`"}`, nil)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var resp struct{ Data SessionInfo }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.Equal(t, "token", resp.Data.Kind)
	require.Equal(t, c.t.Add(time.Hour).UTC().Truncate(time.Second), resp.Data.Expires.UTC(), "a session ends no later than its token")
	require.Equal(t, 204, b.do("GET", "/read", "", nil).Code)

	// The token expires: the session ends, and the token itself gets a 401 that says so.
	c.t = c.t.Add(time.Hour)
	require.Equal(t, 401, b.do("GET", "/read", "", nil).Code)
	rec = b.do("GET", "/read", "", map[string]string{"Authorization": "Bearer " + read})
	require.Equal(t, 401, rec.Code)
	require.Contains(t, rec.Body.String(), `token "viewer" expired at`)
	rec = b.do("POST", SessionPath, `{"token":"`+read+`"}`, nil)
	require.Equal(t, 401, rec.Code)
	require.Contains(t, rec.Body.String(), "expired")
}

func TestFailedSignInsAreRateLimited(t *testing.T) {
	k, c, h := sessionServer(t)
	_, err := AddUser(k.UsersPath(), "alice", password, []Scope{ScopeRead}, false, time.Now())
	require.NoError(t, err)
	require.NoError(t, k.Reload())
	b := &browser{t: t, h: h, ip: "198.51.100.20", cookies: map[string]string{}}
	for i := range failBurst {
		require.Equal(t, 401, b.do("POST", SessionPath, `{"user":"alice","password":"guess number `+string(rune('a'+i))+`"}`, nil).Code, "attempt %d", i)
	}
	good := `{"user":"alice","password":"` + password + `"}`
	require.Equal(t, 429, b.do("POST", SessionPath, good, nil).Code, "throttled even with the right password")
	// Failed sign-ins share the bucket of failed tokens.
	require.Equal(t, 429, b.do("GET", "/read", "", map[string]string{"Authorization": "Bearer loupe_x"}).Code)
	other := &browser{t: t, h: h, ip: "198.51.100.21", cookies: map[string]string{}}
	require.Equal(t, 200, other.do("POST", SessionPath, good, nil).Code, "other addresses are not affected")
	c.t = c.t.Add(time.Second)
	require.Equal(t, 200, b.do("POST", SessionPath, good, nil).Code)
}

func TestSignInWithAuthOff(t *testing.T) {
	_, _, h := sessionServer(t)
	b := &browser{t: t, h: h, ip: "192.0.2.12", cookies: map[string]string{}}
	rec := b.do("GET", SessionPath, "", nil)
	require.Equal(t, 200, rec.Code)
	require.Contains(t, rec.Body.String(), `"auth_enabled":false`)
	require.Equal(t, 409, b.do("POST", SessionPath, `{"token":"x"}`, nil).Code)
}

func TestSessionCookiesSecureOverTLS(t *testing.T) {
	k, _, h := sessionServer(t)
	secret, _, err := Create(k.Path(), "viewer", []Scope{ScopeRead}, time.Now())
	require.NoError(t, err)
	require.NoError(t, k.Reload())
	req := httptest.NewRequest("POST", "https://loupe.example"+SessionPath, strings.NewReader(`{"token":"`+secret+`"}`))
	req.Header.Set("Content-Type", "application/json")
	require.NotNil(t, req.TLS)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 2)
	for _, c := range cookies {
		require.True(t, c.Secure, c.Name)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite, c.Name)
		require.Equal(t, "/", c.Path, c.Name)
	}
}

// A user bound to a tenant signs in to a session that acts for that tenant: the session
// says so, and its requests carry the tenant (tenant.Bound) as a bound token's do.
func TestSessionOfTenantUser(t *testing.T) {
	k, _, _ := sessionServer(t)
	_, err := AddTenantUser(k.UsersPath(), "bob", password, []Scope{ScopeRead}, "team-a", time.Now())
	require.NoError(t, err)
	_, err = AddTenantUser(k.UsersPath(), "eve", password, []Scope{ScopeRead}, "a/b", time.Now())
	require.ErrorContains(t, err, "not allowed")
	require.NoError(t, k.Reload())
	var bound []string
	mux := http.NewServeMux()
	mux.Handle(SessionPath, k.SessionHandler())
	mux.HandleFunc("/", func(_ http.ResponseWriter, r *http.Request) {
		id, _ := tenant.Bound(r.Context())
		bound = append(bound, id)
	})
	h := k.HTTP(mux, func(r *http.Request) (Scope, bool) { return ScopeRead, r.URL.Path == SessionPath })
	b := &browser{t: t, h: h, ip: "192.0.2.11", cookies: map[string]string{}}
	rec := b.do("POST", SessionPath, `{"user":"bob","password":"`+password+`"}`, nil)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"tenant":"team-a"`)
	rec = b.do("GET", "/api/v1/labels", "", nil)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.Equal(t, []string{"team-a"}, bound)
}
