package tenant

import (
	"context"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, ok := range []string{"a", "team-1", "Org_2.prod", "x!*'()", strings.Repeat("a", MaxLen)} {
		if err := Validate(ok); err != nil {
			t.Errorf("Validate(%q): %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"":                       "empty",
		".":                      "not allowed",
		"..":                     "not allowed",
		"a/b":                    `'/'`,
		"a b":                    `' '`,
		"é":                      `'é'`,
		strings.Repeat("a", 151): "at most 150",
		"../etc":                 `'/'`,
		"a\x00":                  `'\x00'`,
	} {
		err := Validate(bad)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%q) = %v, want an error with %s", bad, err, want)
		}
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := Bound(ctx); ok {
		t.Fatal("bound without WithBound")
	}
	if _, ok := From(ctx); ok {
		t.Fatal("tenant without With")
	}
	ctx = With(WithBound(ctx, "a"), "b")
	if id, ok := Bound(ctx); !ok || id != "a" {
		t.Fatalf("Bound = %q, %v", id, ok)
	}
	if id, ok := From(ctx); !ok || id != "b" {
		t.Fatalf("From = %q, %v", id, ok)
	}
}
