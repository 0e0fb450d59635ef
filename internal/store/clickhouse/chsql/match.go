package chsql

import "regexp"

// MatchWhole returns the condition that expr matches the RE2 pattern as a whole, anchored
// like Prometheus matchers (ClickHouse's match() is unanchored), or with not that it does
// not. The pattern is compiled with Go's regexp (RE2 as well) first, so that a bad one is
// an error of the caller's rather than of the query.
func MatchWhole(expr, pattern string, not bool) (string, error) {
	if _, err := regexp.Compile(pattern); err != nil {
		return "", err
	}
	c := "match(" + expr + ", " + String("^(?:"+pattern+")$") + ")"
	if not {
		c = "NOT " + c
	}
	return c, nil
}
