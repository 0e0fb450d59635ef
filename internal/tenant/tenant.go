// Package tenant names the tenant a request acts for. Tenants keep their data apart: each
// has its own stores, and every query sees one tenant only (docs/security.md, Tenants).
//
// A request's tenant comes from its credentials (a token or user bound to a tenant) or,
// for credentials bound to none, from the X-Scope-OrgID header that Loki, Mimir and Tempo
// read; internal/server resolves it and puts it in the request's context.
package tenant

import (
	"context"
	"fmt"
)

// Header is the HTTP header (and, lower-cased, the gRPC metadata key) that names the
// tenant, as in Loki, Mimir and Tempo.
const Header = "X-Scope-OrgID"

// MaxLen is the longest tenant id, as Cortex and Loki allow.
const MaxLen = 150

// Validate checks that id can name a tenant: 1 to MaxLen characters among letters,
// digits and !-_.*'() (the set Cortex, Loki and Mimir accept), and not "." or "..",
// so that it is also a safe directory name.
func Validate(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("empty tenant id")
	case len(id) > MaxLen:
		return fmt.Errorf("tenant id of %d characters: at most %d", len(id), MaxLen)
	case id == "." || id == "..":
		return fmt.Errorf("tenant id %q is not allowed", id)
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!', c == '-', c == '_', c == '.', c == '*', c == '\'', c == '(', c == ')':
		default:
			return fmt.Errorf("tenant id %q: character %q is not allowed (letters, digits and !-_.*'() are)", id, c)
		}
	}
	return nil
}

type boundKey struct{}
type idKey struct{}

// WithBound returns ctx recording that the request's credentials are bound to tenant id;
// authentication sets it.
func WithBound(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, boundKey{}, id)
}

// Bound returns the tenant the request's credentials are bound to, if any.
func Bound(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(boundKey{}).(string)
	return id, ok
}

// With returns ctx acting for tenant id; the server sets it once it has resolved the
// request's tenant.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// From returns the tenant ctx acts for, if resolved.
func From(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(idKey{}).(string)
	return id, ok
}
