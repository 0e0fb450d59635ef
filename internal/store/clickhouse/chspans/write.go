package chspans

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chattrs"
)

// insertCols are the columns WriteTraces inserts, in row order. The maps are given as
// their EPHEMERAL key and value arrays (schema.go).
var insertCols = []string{
	"tenant", "service", "name", "start", "duration_ns", "trace_id", "span_id", "parent_span_id",
	"trace_state", "flags", "kind", "status_code", "status_message",
	"attr_keys", "attr_values", "attr_types", "res_keys", "res_values", "resource_types", "resource_schema_url",
	"scope_name", "scope_version", "scope_attrs", "scope_schema_url",
	"events", "links", "dropped_attributes", "dropped_events", "dropped_links",
}

// WriteTraces inserts td in one INSERT. See store.SpanWriter.
//
// ClickHouse makes one INSERT atomic per partition: a batch whose spans fall on one day
// (the usual case) lands whole or not at all; a batch spanning midnight lands as one part
// per day, and a failure between them can leave one day written. The materialized views
// fill span_traces and span_names from the same INSERT.
func (s *Store) WriteTraces(ctx context.Context, td ptrace.Traces) error {
	if td.SpanCount() == 0 {
		return nil
	}
	rows, err := s.rows(td)
	if err != nil {
		return err
	}
	if err := s.conn.Insert(ctx, "spans", insertCols, rows); err != nil {
		return fmt.Errorf("write traces: %w", err)
	}
	return nil
}

// rows flattens td into rows of insertCols.
func (s *Store) rows(td ptrace.Traces) ([][]any, error) {
	rows := make([][]any, 0, td.SpanCount())
	var buf []byte
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		service := serviceName(res)
		resKeys, resVals, resTypes := chattrs.Split(res)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope()
			scopeAttrs := ""
			if scope.Attributes().Len() > 0 {
				scopeAttrs = string(chattrs.AppendMapJSON(nil, scope.Attributes()))
			}
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				if err := checkSpan(sp, k, scope.Name()); err != nil {
					return nil, err
				}
				tid, sid, parent := sp.TraceID(), sp.SpanID(), sp.ParentSpanID()
				parentHex := ""
				if !parent.IsEmpty() {
					parentHex = hex.EncodeToString(parent[:])
				}
				keys, vals, types := chattrs.Split(sp.Attributes())
				status := sp.Status()
				buf = appendEventsJSON(buf[:0], sp.Events())
				events := string(buf)
				buf = appendLinksJSON(buf[:0], sp.Links())
				links := string(buf)
				start := int64(sp.StartTimestamp())
				rows = append(rows, []any{
					s.opts.Tenant, service, sp.Name(), time.Unix(0, start).UTC(), int64(sp.EndTimestamp()) - start,
					hex.EncodeToString(tid[:]), hex.EncodeToString(sid[:]), parentHex,
					sp.TraceState().AsRaw(), sp.Flags(), int8(sp.Kind()), int8(status.Code()), status.Message(),
					keys, vals, types, resKeys, resVals, resTypes, rs.SchemaUrl(),
					scope.Name(), scope.Version(), scopeAttrs, ss.SchemaUrl(),
					events, links, sp.DroppedAttributesCount(), sp.DroppedEventsCount(), sp.DroppedLinksCount(),
				})
			}
		}
	}
	return rows, nil
}

// serviceName is the resource's service.name in string form, "" without one, as the
// embedded backend stores it.
func serviceName(res pcommon.Map) string {
	if v, ok := res.Get("service.name"); ok {
		return v.AsString()
	}
	return ""
}

// checkSpan returns an error for a span that cannot be stored (k is its index in the
// scope, for the message).
func checkSpan(sp ptrace.Span, k int, scope string) error {
	if sp.TraceID().IsEmpty() {
		return fmt.Errorf("span %q (%d of scope %q): empty trace id", sp.Name(), k, scope)
	}
	if sp.SpanID().IsEmpty() {
		return fmt.Errorf("span %q (%d of scope %q): empty span id", sp.Name(), k, scope)
	}
	// The end is stored as a duration from the start, and DateTime64(9) ends in 2262.
	if sp.EndTimestamp() < sp.StartTimestamp() {
		return fmt.Errorf("span %q (%d of scope %q): end before start", sp.Name(), k, scope)
	}
	if sp.EndTimestamp() > math.MaxInt64 || time.Unix(0, int64(sp.StartTimestamp())).After(maxTime) {
		return fmt.Errorf("span %q (%d of scope %q): time past the year 2262", sp.Name(), k, scope)
	}
	return nil
}
