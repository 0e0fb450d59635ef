package chattrs

import (
	"fmt"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// Cond is the condition of one attribute filter on a table with the maps attributes and
// resource (stored as Split writes them) and a service column. The key is looked up in
// attributes, then in resource; a missing key compares as "" (as a missing Prometheus
// label does, and as the embedded backend does). service.name reads the service column.
//
// equalHint(k, v), given the key and value as SQL literals, is ANDed before an equality
// test of another key with a non-empty value: a condition the table's bloom_filter skip
// indexes can answer, which differs between tables (see chlogs and chspans).
func Cond(f store.AttrFilter, equalHint func(k, v string) string) (string, error) {
	if f.Key == "" {
		return "", fmt.Errorf("attribute filter with empty key")
	}
	k, v := chsql.String(f.Key), chsql.String(f.Value)
	expr := "if(mapContains(attributes, " + k + "), attributes[" + k + "], resource[" + k + "])"
	if f.Key == "service.name" {
		expr = "service"
	}
	switch f.Op {
	case store.MatchEqual:
		if f.Key != "service.name" && f.Value != "" {
			return equalHint(k, v) + " AND " + expr + " = " + v, nil
		}
		return expr + " = " + v, nil
	case store.MatchNotEqual:
		return expr + " != " + v, nil
	case store.MatchRegexp, store.MatchNotRegexp:
		c, err := chsql.MatchWhole(expr, f.Value, f.Op == store.MatchNotRegexp)
		if err != nil {
			return "", fmt.Errorf("attribute filter %s: bad regexp %q: %w", f.Key, f.Value, err)
		}
		return c, nil
	default:
		return "", fmt.Errorf("attribute filter %s: unknown match operator %d", f.Key, f.Op)
	}
}
