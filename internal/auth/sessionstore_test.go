package auth

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/atomicfile"
)

// restartable is a keyring on a data directory that can be "restarted": a new keyring
// on the same files, as a new server process makes.
type restartable struct {
	t   *testing.T
	dir string
	c   *clock
}

func (r *restartable) start() (*Keyring, http.Handler) {
	r.t.Helper()
	k, err := NewKeyring(Default(), r.dir, nil)
	require.NoError(r.t, err)
	k.now = r.c.now
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux := http.NewServeMux()
	mux.Handle(SessionPath, k.SessionHandler())
	mux.Handle("/", ok)
	return k, k.HTTP(mux, func(r *http.Request) (Scope, bool) {
		if r.URL.Path == SessionPath {
			return "", true
		}
		return Scope(strings.TrimPrefix(r.URL.Path, "/")), false
	})
}

func (r *restartable) file() string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, "sessions.json"))
	require.NoError(r.t, err)
	return string(b)
}

// Sessions survive a restart with their CSRF token; the file holds hashes only and is
// the owner's alone; a sign-out is not undone by a restart; `loupe user passwd` and a
// revoked token end sessions, in memory and in the file.
func TestSessionsSurviveRestart(t *testing.T) {
	r := &restartable{t: t, dir: t.TempDir(), c: &clock{t: time.Now()}}
	_, err := AddUser(filepath.Join(r.dir, "users.json"), "alice", password, []Scope{ScopeRead}, false, time.Now())
	require.NoError(t, err)
	viewer, _, err := Create(filepath.Join(r.dir, "tokens.json"), "viewer", []Scope{ScopeRead}, time.Now())
	require.NoError(t, err)
	_, h := r.start()

	alice := &browser{t: t, h: h, ip: "192.0.2.30", cookies: map[string]string{}}
	require.Equal(t, 200, alice.do("POST", SessionPath, `{"user":"alice","password":"`+password+`"}`, nil).Code)
	tok := &browser{t: t, h: h, ip: "192.0.2.31", cookies: map[string]string{}}
	require.Equal(t, 200, tok.do("POST", SessionPath, `{"token":"`+viewer+`"}`, nil).Code)
	gone := &browser{t: t, h: h, ip: "192.0.2.32", cookies: map[string]string{}}
	require.Equal(t, 200, gone.do("POST", SessionPath, `{"token":"`+viewer+`"}`, nil).Code)
	signedOut := gone.cookies[SessionCookie]
	require.Equal(t, 200, gone.do("DELETE", SessionPath, "", map[string]string{CSRFHeader: gone.cookies[CSRFCookie]}).Code)

	file := r.file()
	require.Equal(t, 2, strings.Count(file, `"id_sha256"`), file)
	for _, secret := range []string{alice.cookies[SessionCookie], alice.cookies[CSRFCookie], tok.cookies[SessionCookie], viewer, password} {
		require.NotContains(t, file, secret, "the file holds no session id, CSRF token, token or password")
	}
	require.Contains(t, file, hashSecret(alice.cookies[SessionCookie]))
	st, err := os.Stat(filepath.Join(r.dir, "sessions.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// Restart.
	k, h := r.start()
	alice.h, tok.h, gone.h = h, h, h
	require.Equal(t, 204, alice.do("GET", "/read", "", nil).Code, "the cookie still works")
	require.Equal(t, 204, alice.do("PUT", "/read", `{}`, map[string]string{CSRFHeader: alice.cookies[CSRFCookie]}).Code,
		"the CSRF token in the browser's cookie still matches")
	require.Equal(t, 403, alice.do("PUT", "/read", `{}`, map[string]string{CSRFHeader: tok.cookies[CSRFCookie]}).Code,
		"another session's CSRF token does not")
	require.Equal(t, 204, tok.do("GET", "/read", "", nil).Code)
	gone.cookies[SessionCookie] = signedOut
	require.Equal(t, 401, gone.do("GET", "/read", "", nil).Code, "signed out before the restart")

	// passwd ends alice's session; revoking the token ends the token's.
	_, err = AddUser(k.UsersPath(), "alice", "a brand new password", nil, true, time.Now())
	require.NoError(t, err)
	_, err = Revoke(k.Path(), "viewer")
	require.NoError(t, err)
	r.c.t = r.c.t.Add(2 * time.Second) // the files are looked at at most once a second
	require.Equal(t, 401, alice.do("GET", "/read", "", nil).Code, "a new password ends the session")
	require.Equal(t, 401, tok.do("GET", "/read", "", nil).Code, "a revoked token ends the session")
	require.NotContains(t, r.file(), `"id_sha256"`, "and they are gone from the file")
	require.Equal(t, 200, alice.do("POST", SessionPath, `{"user":"alice","password":"a brand new password"}`, nil).Code)
	require.Equal(t, 204, alice.do("GET", "/read", "", nil).Code)
}

// A password changed (or a user removed) while the server is down ends the sessions at
// the next start, and they are dropped from the file, as expired ones are.
func TestSessionsPrunedAtStart(t *testing.T) {
	r := &restartable{t: t, dir: t.TempDir(), c: &clock{t: time.Now()}}
	users := filepath.Join(r.dir, "users.json")
	for _, name := range []string{"alice", "bob", "carol"} {
		_, err := AddUser(users, name, password, []Scope{ScopeRead}, false, time.Now())
		require.NoError(t, err)
	}
	_, h := r.start()
	var bs []*browser
	for i, name := range []string{"alice", "bob", "carol"} {
		b := &browser{t: t, h: h, ip: "192.0.2.4" + string(rune('0'+i)), cookies: map[string]string{}}
		require.Equal(t, 200, b.do("POST", SessionPath, `{"user":"`+name+`","password":"`+password+`"}`, nil).Code)
		bs = append(bs, b)
	}
	require.Equal(t, 3, strings.Count(r.file(), `"id_sha256"`))

	_, err := AddUser(users, "alice", "a brand new password", nil, true, time.Now())
	require.NoError(t, err)
	require.NoError(t, RemoveUser(users, "bob"))
	_, h = r.start()
	require.Equal(t, 1, strings.Count(r.file(), `"id_sha256"`), "alice's and bob's sessions dropped at start")
	for i, want := range []int{401, 401, 204} {
		bs[i].h = h
		require.Equal(t, want, bs[i].do("GET", "/read", "", nil).Code, "browser %d", i)
	}

	// carol's session expires while the server is down (the start reads the real clock):
	// the next start drops it from the file.
	var f sessionsFile
	require.NoError(t, json.Unmarshal([]byte(r.file()), &f))
	f.Sessions[0].Expires = time.Now().Add(-time.Minute)
	require.NoError(t, atomicfile.WriteJSON(filepath.Join(r.dir, "sessions.json"), f))
	_, h = r.start()
	require.NotContains(t, r.file(), `"id_sha256"`)
	bs[2].h = h
	require.Equal(t, 401, bs[2].do("GET", "/read", "", nil).Code)
}

// A damaged sessions file does not stop the start: everyone signs in again, and the next
// sign-in replaces the file.
func TestDamagedSessionsFile(t *testing.T) {
	r := &restartable{t: t, dir: t.TempDir(), c: &clock{t: time.Now()}}
	_, err := AddUser(filepath.Join(r.dir, "users.json"), "alice", password, []Scope{ScopeRead}, false, time.Now())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "sessions.json"), []byte(`{"sessions": [`), 0o600))
	_, h := r.start()
	b := &browser{t: t, h: h, ip: "192.0.2.50", cookies: map[string]string{}}
	require.Equal(t, 200, b.do("POST", SessionPath, `{"user":"alice","password":"`+password+`"}`, nil).Code)
	require.Equal(t, 1, strings.Count(r.file(), `"id_sha256"`))
}
