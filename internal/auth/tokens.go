// Package auth is Loupe's authentication: the API tokens file in the data directory
// (written by `loupe token`), the users file of the web UI's password sign-in (`loupe
// user`), the UI's sessions, the HTTP middleware of the HTTP and OTLP/HTTP ports and the
// gRPC interceptors of OTLP/gRPC. See docs/security.md.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/atomicfile"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// Scope is what a token may do.
type Scope string

// The scopes. Admin includes the other two.
const (
	ScopeIngest Scope = "ingest" // send data: OTLP, remote write, Loki push
	ScopeRead   Scope = "read"   // query APIs, the UI, /metrics
	ScopeAdmin  Scope = "admin"  // /-/reload, silences and other writes, pprof; and all of the above
)

// ParseScopes parses a comma-separated list of scopes ("ingest,read").
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.Split(s, ",") {
		sc := Scope(strings.TrimSpace(f))
		switch sc {
		case ScopeIngest, ScopeRead, ScopeAdmin:
			if !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		case "":
		default:
			return nil, fmt.Errorf("unknown scope %q: want ingest, read or admin", sc)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scope: want one or more of ingest, read, admin")
	}
	return out, nil
}

// Token is one token as the file keeps it: never the secret, only its hash.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Scopes  []Scope   `json:"scopes"`
	Created time.Time `json:"created"`
	// Last4 are the last four characters of the secret, to tell tokens apart in lists.
	Last4 string `json:"last4"`
	// Hash is the hex SHA-256 of the secret. A plain hash, not a slow password hash
	// (bcrypt, argon2), is enough here: the secret is 32 random bytes, so there is nothing
	// to guess from a stolen hash, and checking a request costs one SHA-256 instead of tens
	// of milliseconds per request on the ingest path.
	Hash string `json:"sha256"`
	// Expires is when the token stops being accepted (401 "token expired"); zero for never.
	Expires time.Time `json:"expires,omitzero"`
	// Tenant, when set, is the only tenant the token acts for (internal/tenant); a token
	// without one acts for the tenant its requests name in X-Scope-OrgID.
	Tenant string `json:"tenant,omitempty"`
}

// Expired reports whether the token has expired at now.
func (t Token) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// Allows reports whether the token grants scope (admin grants every scope).
func (t Token) Allows(scope Scope) bool {
	return slices.Contains(t.Scopes, scope) || slices.Contains(t.Scopes, ScopeAdmin)
}

type tokensFile struct {
	Tokens []Token `json:"tokens"`
}

// secretPrefix starts every secret, so that a leaked one is recognisable (secret scanners).
const secretPrefix = "loupe_"

// hashSecret is the stored form of a secret.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ReadFile returns the tokens of the file at path; none when it does not exist.
func ReadFile(path string) ([]Token, error) {
	var f tokensFile
	if err := atomicfile.ReadJSON(path, &f); err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	for i, t := range f.Tokens {
		if len(t.Hash) != sha256.Size*2 || t.Name == "" || len(t.Scopes) == 0 {
			return nil, fmt.Errorf("tokens file %s: token %d (%q): needs a name, scopes and a sha256", path, i, t.Name)
		}
		if t.Tenant != "" {
			if err := tenant.Validate(t.Tenant); err != nil {
				return nil, fmt.Errorf("tokens file %s: token %d (%q): %w", path, i, t.Name, err)
			}
		}
	}
	return f.Tokens, nil
}

// Create adds a token named name with scopes to the file at path and returns its secret,
// which is not stored anywhere and cannot be shown again. Names are unique.
func Create(path, name string, scopes []Scope, now time.Time) (string, Token, error) {
	return CreateExpiring(path, name, scopes, now, time.Time{})
}

// CreateExpiring is Create for a token that expires at expires (zero: never).
func CreateExpiring(path, name string, scopes []Scope, now, expires time.Time) (string, Token, error) {
	return CreateFor(path, name, scopes, "", now, expires)
}

// CreateFor is CreateExpiring for a token bound to tenant ("": bound to none).
func CreateFor(path, name string, scopes []Scope, tenantID string, now, expires time.Time) (string, Token, error) {
	if tenantID != "" {
		if err := tenant.Validate(tenantID); err != nil {
			return "", Token{}, err
		}
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Token{}, errors.New("a token name is required (--name)")
	}
	if len(scopes) == 0 {
		return "", Token{}, errors.New("a token needs at least one scope")
	}
	tokens, err := ReadFile(path)
	if err != nil {
		return "", Token{}, err
	}
	if slices.ContainsFunc(tokens, func(t Token) bool { return t.Name == name }) {
		return "", Token{}, fmt.Errorf("a token named %q exists: revoke it first or pick another name", name)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, err
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Token{}, err
	}
	secret := secretPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	t := Token{
		ID: hex.EncodeToString(id[:]), Name: name, Scopes: scopes, Created: now.UTC().Truncate(time.Second),
		Last4: secret[len(secret)-4:], Hash: hashSecret(secret), Tenant: tenantID,
	}
	if !expires.IsZero() {
		t.Expires = expires.UTC().Truncate(time.Second)
	}
	if err := writeFile(path, append(tokens, t)); err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

// Revoke removes the token whose name or id is nameOrID and returns it.
func Revoke(path, nameOrID string) (Token, error) {
	tokens, err := ReadFile(path)
	if err != nil {
		return Token{}, err
	}
	i := slices.IndexFunc(tokens, func(t Token) bool { return t.Name == nameOrID || t.ID == nameOrID })
	if i < 0 {
		return Token{}, fmt.Errorf("no token named or with id %q in %s", nameOrID, path)
	}
	t := tokens[i]
	if err := writeFile(path, slices.Delete(tokens, i, i+1)); err != nil {
		return Token{}, err
	}
	return t, nil
}

// writeFile replaces the file at path atomically (a temporary file renamed over it),
// readable by its owner only, as the Sentry keys file is.
func writeFile(path string, tokens []Token) error {
	if tokens == nil {
		tokens = []Token{}
	}
	return atomicfile.WriteJSON(path, tokensFile{Tokens: tokens})
}
