package duck

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Span attribute catalogs for the Tempo tag APIs (api/tempo.TagReader). There is no
// catalog table for attribute keys: these scan the spans of the requested range and read
// the JSON of each row, so callers bound the range (the Tempo API defaults to the last
// hour) and the result size.

// Attribute scopes accepted by SpanAttributeValues.
const (
	ScopeSpan     = "span"
	ScopeResource = "resource"
)

// SpanAttributeKeys lists the distinct attribute keys of spans that started in
// [start, end): the keys of span attributes and of resource attributes separately, each
// sorted and at most limit long. A zero start or end does not bound that side.
func (s *Store) SpanAttributeKeys(ctx context.Context, start, end time.Time, limit int) (span, resource []string, err error) {
	span, err = s.attributeKeys(ctx, "attr_keys", start, end, limit)
	if err != nil {
		return nil, nil, err
	}
	resource, err = s.attributeKeys(ctx, "resource", start, end, limit)
	if err != nil {
		return nil, nil, err
	}
	return span, resource, nil
}

func (s *Store) attributeKeys(ctx context.Context, column string, start, end time.Time, limit int) ([]string, error) {
	tables := s.spans.tables(timeRange(start, end))
	if len(tables) == 0 {
		return []string{}, nil
	}
	w := spanTimeWhere(start, end)
	keys, cols, source := "json_keys(resource)", "start_ns, res_id", "s l"+spanResourceJoin
	if column == "attr_keys" {
		// Rows without attributes store '' (no key at all).
		keys, cols, source = "string_split(nullif(attr_keys, ''), chr(31))", "start_ns, attr_keys, attr_vals", "s"
		w.add("attr_vals <> ''")
	}
	// column is one of two constants chosen above, never input. Keys stored quoted
	// (attrcols.go) sort by their quoted form; they are rare enough not to matter.
	query := `WITH s AS NOT MATERIALIZED ` + unionAll(tables, cols) + `
		SELECT DISTINCT unnest(` + keys + `) AS k FROM ` + source + w.sql() + `
		ORDER BY k LIMIT ` + strconv.Itoa(max(limit, 1))
	out, err := s.strings(ctx, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("span attribute keys: %w", err)
	}
	for i, k := range out {
		if strings.HasPrefix(k, `"`) {
			v := pcommon.NewValueEmpty()
			if err := decodeValueJSON(k, v); err == nil && v.Type() == pcommon.ValueTypeStr {
				out[i] = v.Str()
			}
		}
	}
	return out, nil
}

// SpanAttributeValues lists the distinct values (in string form, as attribute filters
// compare them) of attribute key on spans that started in [start, end), sorted, at most
// limit. scope is ScopeSpan, ScopeResource, or "" for either. Resource "service.name"
// reads the promoted service column.
func (s *Store) SpanAttributeValues(ctx context.Context, scope, key string, start, end time.Time, limit int) ([]string, error) {
	if key == "" {
		return nil, fmt.Errorf("span attribute values: empty key")
	}
	var expr string
	var args []any
	path, stored := jsonPointer(key), attrKeyStored(key)
	switch {
	case key == "service.name" && scope != ScopeSpan:
		expr = "service"
	case scope == ScopeSpan:
		expr, args = "loupe_attr(attr_keys, attr_vals, ?)", []any{stored}
	case scope == ScopeResource:
		expr, args = "json_extract_string(resource, ?)", []any{path}
	case scope == "":
		expr, args = "coalesce(loupe_attr(attr_keys, attr_vals, ?), json_extract_string(resource, ?))", []any{stored, path}
	default:
		return nil, fmt.Errorf("span attribute values: unknown scope %q", scope)
	}
	tables := s.spans.tables(timeRange(start, end))
	if len(tables) == 0 {
		return []string{}, nil
	}
	w := spanTimeWhere(start, end)
	query := `WITH s AS NOT MATERIALIZED ` + unionAll(tables, "start_ns, service, attr_keys, attr_vals, res_id") + `
		SELECT v FROM (SELECT DISTINCT ` + expr + ` AS v FROM s l` + spanResourceJoin + w.sql() + `)
		WHERE v IS NOT NULL ORDER BY v LIMIT ` + strconv.Itoa(max(limit, 1))
	out, err := s.strings(ctx, query, append(args, w.args...)...)
	if err != nil {
		return nil, fmt.Errorf("span attribute values: %w", err)
	}
	return out, nil
}

func spanTimeWhere(start, end time.Time) *where {
	w := &where{}
	if !start.IsZero() {
		w.add("start_ns >= ?", start.UnixNano())
	}
	if !end.IsZero() {
		w.add("start_ns < ?", end.UnixNano())
	}
	return w
}
