package auth

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/internal/tenant"
)

func TestCreateListRevoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d", "tokens.json")
	secret, tok, err := Create(path, "collector", []Scope{ScopeIngest}, time.Now())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, "loupe_"))
	require.Equal(t, secret[len(secret)-4:], tok.Last4)

	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(b), secret, "the secret itself is never stored")
	require.NotContains(t, string(b), secret[6:20])

	_, _, err = Create(path, "collector", []Scope{ScopeRead}, time.Now())
	require.ErrorContains(t, err, `a token named "collector" exists`)
	_, grafana, err := Create(path, "grafana", []Scope{ScopeRead}, time.Now())
	require.NoError(t, err)

	tokens, err := ReadFile(path)
	require.NoError(t, err)
	require.Len(t, tokens, 2)

	_, err = Revoke(path, grafana.ID) // by id
	require.NoError(t, err)
	_, err = Revoke(path, "collector") // by name
	require.NoError(t, err)
	_, err = Revoke(path, "collector")
	require.ErrorContains(t, err, `no token named or with id "collector"`)
	tokens, err = ReadFile(path)
	require.NoError(t, err)
	require.Empty(t, tokens)
}

func TestParseScopes(t *testing.T) {
	s, err := ParseScopes("ingest, read,ingest")
	require.NoError(t, err)
	require.Equal(t, []Scope{ScopeIngest, ScopeRead}, s)
	_, err = ParseScopes("write")
	require.ErrorContains(t, err, `unknown scope "write"`)
	_, err = ParseScopes("")
	require.Error(t, err)
}

func TestBadFileStopsStart(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens.json"), []byte(`{"tokens":[{"name":"x"}]}`), 0o600))
	_, err := NewKeyring(Default(), dir, nil)
	require.ErrorContains(t, err, "needs a name, scopes and a sha256")
}

// clock is a settable time for the keyring's once-a-second file check and rate limit.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestKeyring(t *testing.T, mode string) (*Keyring, string, *clock) {
	dir := t.TempDir()
	cfg := Default()
	cfg.Enabled = mode
	k, err := NewKeyring(cfg, dir, nil)
	require.NoError(t, err)
	c := &clock{t: time.Now()}
	k.now = c.now
	return k, k.Path(), c
}

func TestAutoTurnsOnWithFirstTokenAndRevokeTakesEffect(t *testing.T) {
	k, path, c := newTestKeyring(t, "auto")
	require.False(t, k.Enabled())
	secret, _, err := Create(path, "a", []Scope{ScopeRead}, time.Now())
	require.NoError(t, err)
	c.t = c.t.Add(2 * time.Second) // the file is looked at at most once a second
	require.True(t, k.Enabled())
	_, ok := k.Lookup(secret)
	require.True(t, ok)

	// Revoked: refused after the next look at the file; and with the last token gone,
	// auto turns auth off again unless Require was called (a port beyond loopback).
	k.Require()
	_, err = Revoke(path, "a")
	require.NoError(t, err)
	c.t = c.t.Add(2 * time.Second)
	_, ok = k.Lookup(secret)
	require.False(t, ok)
	require.True(t, k.Enabled(), "Require keeps auth on without tokens")
}

func TestModes(t *testing.T) {
	k, _, _ := newTestKeyring(t, "true")
	require.True(t, k.Enabled(), "true without tokens refuses everything")
	k, path, c := newTestKeyring(t, "false")
	_, _, err := Create(path, "a", []Scope{ScopeRead}, time.Now())
	require.NoError(t, err)
	c.t = c.t.Add(2 * time.Second)
	require.False(t, k.Enabled())
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestHTTPMiddleware(t *testing.T) {
	k, path, c := newTestKeyring(t, "auto")
	ingest, _, err := Create(path, "i", []Scope{ScopeIngest}, time.Now())
	require.NoError(t, err)
	read, _, err := Create(path, "r", []Scope{ScopeRead}, time.Now())
	require.NoError(t, err)
	admin, _, err := Create(path, "a", []Scope{ScopeAdmin}, time.Now())
	require.NoError(t, err)
	require.NoError(t, k.Reload())

	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := k.HTTP(ok, func(r *http.Request) (Scope, bool) {
		if r.URL.Path == "/open" {
			return "", true
		}
		return Scope(strings.TrimPrefix(r.URL.Path, "/")), false
	})
	do := func(path, authz, ip string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = ip + ":1234"
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	type cred struct{ name, header string }
	creds := []cred{
		{"none", ""}, {"bad", "Bearer loupe_nope"}, {"ingest", "Bearer " + ingest},
		{"read", basic("grafana", read)}, {"admin", "bearer " + admin},
	}
	want := map[string]map[string]int{ // route class -> credential -> status
		"open":   {"none": 204, "bad": 204, "ingest": 204, "read": 204, "admin": 204},
		"ingest": {"none": 401, "bad": 401, "ingest": 204, "read": 403, "admin": 204},
		"read":   {"none": 401, "bad": 401, "ingest": 403, "read": 204, "admin": 204},
		"admin":  {"none": 401, "bad": 401, "ingest": 403, "read": 403, "admin": 204},
	}
	for class, byCred := range want {
		for _, cr := range creds {
			rec := do("/"+class, cr.header, "192.0.2.1")
			require.Equal(t, byCred[cr.name], rec.Code, "%s route with %s token: %s", class, cr.name, rec.Body)
			switch rec.Code {
			case 401:
				require.Equal(t, `Basic realm="Loupe", charset="UTF-8"`, rec.Header().Get("WWW-Authenticate"))
			case 403:
				require.Contains(t, rec.Body.String(), "needs the "+class+" scope")
			}
		}
	}
	require.Contains(t, do("/read", "", "192.0.2.1").Body.String(), "authentication required")
	require.Contains(t, do("/read", "Bearer x", "192.0.2.1").Body.String(), "invalid token")
	// The token as basic auth user name with an empty password works too.
	require.Equal(t, 204, do("/read", basic(read, ""), "192.0.2.1").Code)

	// Failed attempts: 20 at once from one address, then 429 (even with a good token),
	// while other addresses are not affected; the bucket refills at 10 a second.
	for i := range 20 {
		require.Equal(t, 401, do("/read", "Bearer wrong", "198.51.100.7").Code, "attempt %d", i)
	}
	require.Equal(t, 429, do("/read", "Bearer wrong", "198.51.100.7").Code)
	require.Equal(t, 429, do("/read", "Bearer "+read, "198.51.100.7").Code)
	require.Equal(t, 401, do("/read", "", "198.51.100.7").Code, "no credentials is not an attempt")
	require.Equal(t, 204, do("/read", "Bearer "+read, "198.51.100.8").Code)
	c.t = c.t.Add(time.Second)
	require.Equal(t, 204, do("/read", "Bearer "+read, "198.51.100.7").Code)
}

func TestGRPCCheck(t *testing.T) {
	k, path, _ := newTestKeyring(t, "auto")
	ingest, _, err := Create(path, "i", []Scope{ScopeIngest}, time.Now())
	require.NoError(t, err)
	read, _, err := Create(path, "r", []Scope{ScopeRead}, time.Now())
	require.NoError(t, err)
	require.NoError(t, k.Reload())
	call := func(authz string) codes.Code {
		ctx := context.Background()
		if authz != "" {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", authz))
		}
		_, err := k.grpcCheck(ctx, ScopeIngest)
		return status.Code(err)
	}
	require.Equal(t, codes.OK, call("Bearer "+ingest))
	require.Equal(t, codes.Unauthenticated, call(""))
	require.Equal(t, codes.Unauthenticated, call("Bearer loupe_x"))
	require.Equal(t, codes.PermissionDenied, call("Bearer "+read))

	old, _, err := CreateExpiring(path, "old", []Scope{ScopeIngest}, time.Now().Add(-time.Hour), time.Now().Add(-time.Minute))
	require.NoError(t, err)
	require.NoError(t, k.Reload())
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+old))
	_, err = k.grpcCheck(ctx, ScopeIngest)
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	require.Contains(t, err.Error(), `token "old" expired at`)
}

// A token bound to a tenant puts it in the request's context (HTTP and gRPC); a token
// bound to none puts nothing there.
func TestTokenTenant(t *testing.T) {
	k, path, _ := newTestKeyring(t, "auto")
	bound, tok, err := CreateFor(path, "team-a", []Scope{ScopeIngest, ScopeRead}, "team-a", time.Now(), time.Time{})
	require.NoError(t, err)
	require.Equal(t, "team-a", tok.Tenant)
	free, _, err := Create(path, "ops", []Scope{ScopeRead, ScopeIngest}, time.Now())
	require.NoError(t, err)
	_, _, err = CreateFor(path, "bad", []Scope{ScopeRead}, "a/b", time.Now(), time.Time{})
	require.ErrorContains(t, err, `character '/' is not allowed`)
	require.NoError(t, k.Reload())

	var got []string
	h := k.HTTP(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		id, ok := tenant.Bound(r.Context())
		got = append(got, fmt.Sprintf("%s %v", id, ok))
	}), Only(ScopeRead))
	for _, secret := range []string{bound, free} {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/query", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	require.Equal(t, []string{"team-a true", " false"}, got)

	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+bound))
	ctx, err = k.grpcCheck(ctx, ScopeIngest)
	require.NoError(t, err)
	id, ok := tenant.Bound(ctx)
	require.True(t, ok)
	require.Equal(t, "team-a", id)
}
