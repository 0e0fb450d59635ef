package chspans

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// Span attribute catalogs for the Tempo tag APIs (api/tempo.TagReader, which the Tempo API
// finds by type assertion). Like the embedded backend, there is no catalog table of
// attribute keys: these read the attribute maps of the spans in the requested range, so
// callers bound the range (the Tempo API defaults to the last hour) and the result size.
// ClickHouse reads only the key (mapKeys) or value (mapValues) subcolumns it needs.

// Attribute scopes accepted by SpanAttributeValues.
const (
	ScopeSpan     = "span"
	ScopeResource = "resource"
)

// SpanAttributeKeys lists the distinct attribute keys of spans that started in
// [start, end): the keys of span attributes and of resource attributes separately, each
// sorted and at most limit long. A zero start or end does not bound that side.
func (s *Store) SpanAttributeKeys(ctx context.Context, start, end time.Time, limit int) (span, resource []string, err error) {
	where := s.spanTimeConds(start, end).sql()
	keys := func(col string) ([]string, error) {
		// col is one of two constants below, never input.
		return s.strings(ctx, `SELECT DISTINCT toString(arrayJoin(mapKeys(`+col+`))) AS k FROM `+s.table("spans")+where+
			` ORDER BY k LIMIT `+strconv.Itoa(max(limit, 1)))
	}
	if span, err = keys("attributes"); err != nil {
		return nil, nil, fmt.Errorf("span attribute keys: %w", err)
	}
	if resource, err = keys("resource"); err != nil {
		return nil, nil, fmt.Errorf("span attribute keys: %w", err)
	}
	return span, resource, nil
}

// SpanAttributeValues lists the distinct values (in string form, as attribute filters
// compare them) of attribute key on spans that started in [start, end), sorted, at most
// limit. scope is ScopeSpan, ScopeResource, or "" for either (the span's own attribute
// first). Resource "service.name" reads the service column.
func (s *Store) SpanAttributeValues(ctx context.Context, scope, key string, start, end time.Time, limit int) ([]string, error) {
	if key == "" {
		return nil, fmt.Errorf("span attribute values: empty key")
	}
	k := chsql.String(key)
	c := s.spanTimeConds(start, end)
	var expr string
	switch {
	case key == "service.name" && scope != ScopeSpan:
		expr = "toString(service)"
	case scope == ScopeSpan:
		expr = "attributes[" + k + "]"
		c.add("mapContains(attributes, " + k + ")")
	case scope == ScopeResource:
		expr = "resource[" + k + "]"
		c.add("mapContains(resource, " + k + ")")
	case scope == "":
		expr = "if(mapContains(attributes, " + k + "), attributes[" + k + "], resource[" + k + "])"
		c.add("(mapContains(attributes, " + k + ") OR mapContains(resource, " + k + "))")
	default:
		return nil, fmt.Errorf("span attribute values: unknown scope %q", scope)
	}
	out, err := s.strings(ctx, `SELECT DISTINCT `+expr+` AS v FROM `+s.table("spans")+c.sql()+
		` ORDER BY v LIMIT `+strconv.Itoa(max(limit, 1)))
	if err != nil {
		return nil, fmt.Errorf("span attribute values: %w", err)
	}
	return out, nil
}
