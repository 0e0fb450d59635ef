package chlogs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNeedleTokens(t *testing.T) {
	for needle, want := range map[string][]string{
		"u-054321":           {"054321"}, // open end, six bytes: a prefix
		"u-0543":             nil,        // open end, shorter: may continue
		"u-0543 ":            {"0543"},   // closed: a whole token
		"user u-054321 in":   {"u", "054321"},
		"-abcdefgh-":         {"abcdef"},
		"completed":          nil, // no separator before it
		"zq7needle":          nil,
		"(request_id=ab12)":  {"reques", "id", "ab12"},
		"a-Ü12345-b":         nil, // non-ASCII token: left alone; b is at the open end
		"x.Y":                nil,
		"x.Yz.":              {"yz"},
		"a--bcdefg--bcdefgz": {"bcdefg"}, // duplicates once
	} {
		require.Equal(t, want, needleTokens(strings.ToLower(needle)), "needle %q", needle)
	}
}

// TestNeedleTokensAreInBodies checks the rule the index relies on: every entry of a
// needle is the prefix of a token of any body that contains the needle. tokens() is
// mimicked by splitting on ASCII non-alphanumerics.
func TestNeedleTokensAreInBodies(t *testing.T) {
	bodies := []string{
		"user u-054321 logged in", "user u-0543210 logged in", "xu-054321", "payment for u-054321: ok",
		"(request_id=ab12)", "a-Ü12345-b", "x.yz.w", "abcdefgh-abcdefgz",
	}
	split := func(s string) map[string]bool {
		out := map[string]bool{}
		for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && !isTokenByte(byte(r)) }) {
			out[tok[:min(len(tok), tokenPrefix)]] = true
		}
		return out
	}
	for _, body := range bodies {
		lower := strings.ToLower(body)
		toks := split(lower)
		for i := range lower {
			for j := i + 1; j <= len(lower); j++ {
				for _, tok := range needleTokens(lower[i:j]) {
					require.True(t, toks[tok], "needle %q of body %q: %q not among %v", lower[i:j], body, tok, toks)
				}
			}
		}
	}
}
