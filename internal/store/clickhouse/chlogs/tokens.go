package chlogs

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// Body token index (migration 2, idx_body_tokens): a bloom_filter over the first
// tokenPrefix bytes of every token of lowerUTF8(body). The body's ngrambf_v1 index cannot
// narrow a search for digits or hex: a granule of 8,192 records holds every digit
// trigram, so `u-054321` read every granule (13-70x the embedded backend's time, whose
// term index does the same as this one: internal/store/duck/terms.go).
//
// A token is what ClickHouse's tokens() splits out: a maximal run of bytes that are not
// ASCII non-alphanumerics (so non-ASCII bytes belong to tokens). Six bytes, as the
// embedded backend's term prefixes: neighbouring user ids share five.
//
// The search stays a substring search. A needle token is looked up only where the
// needle shows where it starts (an ASCII separator before it): at that place in a body
// that contains the needle, a body token starts with the needle token, so its prefix is
// in the filter. A needle token of fewer than six bytes is looked up whole only when the
// needle also shows where it ends (an ASCII separator after it). Tokens at the needle's
// open ends prune nothing, so a single word or hex id goes without this index (the
// ngram index still applies).
const (
	tokenPrefix = 6
	// bodyTokensSQL is the index's expression; conditions must spell it the same way
	// for ClickHouse to match them to the index.
	bodyTokensSQL = "arrayMap(t -> substring(t, 1, 6), tokens(lowerUTF8(body)))"
)

// isTokenByte tells whether c belongs to a token as tokens() splits them.
func isTokenByte(c byte) bool {
	return c >= 0x80 || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// needleTokens returns the index entries a body containing needle (ASCII letters
// lowered, as lowerUTF8 lowers them) must have: see above. Only tokens made of ASCII
// letters and digits qualify, so that Go's lowering of the needle and ClickHouse's of the
// body agree on them.
func needleTokens(needle string) []string {
	var out []string
	seen := map[string]bool{}
	for i := 1; i < len(needle); i++ {
		if isTokenByte(needle[i-1]) || !isTokenByte(needle[i]) {
			continue // not the start of a token after a separator
		}
		j := i
		ascii := true
		for j < len(needle) && isTokenByte(needle[j]) {
			ascii = ascii && needle[j] < 0x80
			j++
		}
		tok := strings.ToLower(needle[i:j])
		closed := j < len(needle) // a separator follows
		switch {
		case !ascii:
		case len(tok) >= tokenPrefix:
			tok = tok[:tokenPrefix]
		case !closed:
			tok = ""
		}
		if ascii && tok != "" && !seen[tok] {
			seen[tok] = true
			out = append(out, tok)
		}
		i = j
	}
	return out
}

// tokenConds are the conditions on the body token index that a body containing needle
// (case-insensitively for ASCII letters) meets: one has() per needle token.
func tokenConds(needle string) []string {
	var out []string
	for _, tok := range needleTokens(needle) {
		out = append(out, "has("+bodyTokensSQL+", "+chsql.String(tok)+")")
	}
	return out
}
