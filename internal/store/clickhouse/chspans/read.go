package chspans

import (
	"context"
	"encoding/hex"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chattrs"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

const (
	defaultTraceLimit = 20
	maxTraceLimit     = 1000
	statusError       = int(ptrace.StatusCodeError)
)

// spanColumns are what GetTrace reads of each span. Numbers are cast to Int64 so that they
// scan into int64 whatever their column type.
const spanColumns = `span_id, parent_span_id, trace_state, toInt64(flags), name, toInt64(kind),
	toUnixTimestamp64Nano(start), duration_ns, toInt64(status_code), status_message,
	mapKeys(attributes), mapValues(attributes), attr_types,
	mapKeys(resource), mapValues(resource), resource_types, resource_schema_url,
	scope_name, scope_version, scope_attrs, scope_schema_url, events, links,
	toInt64(dropped_attributes), toInt64(dropped_events), toInt64(dropped_links)`

// GetTrace reads the trace's time range from span_traces by primary key, then its spans
// in that range only (schema.go). See store.TraceReader.
func (s *Store) GetTrace(ctx context.Context, traceID pcommon.TraceID) (ptrace.Traces, error) {
	if traceID.IsEmpty() {
		return ptrace.Traces{}, fmt.Errorf("get trace: empty trace id")
	}
	query := s.getTraceQuery(traceID)
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return ptrace.Traces{}, fmt.Errorf("get trace: %w", err)
	}
	defer rows.Close()
	g := newGrouper()
	for rows.Next() {
		if err := g.scan(rows, traceID); err != nil {
			return ptrace.Traces{}, fmt.Errorf("get trace: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return ptrace.Traces{}, fmt.Errorf("get trace: %w", err)
	}
	if g.td.SpanCount() == 0 {
		return ptrace.Traces{}, store.ErrNotFound
	}
	return g.td, nil
}

// getTraceQuery is the query of GetTrace. The scalar subquery is evaluated first, so the
// time range it reads from span_traces prunes partitions and primary key ranges of spans
// as constants would (TestGetTraceReadsLittle shows it).
func (s *Store) getTraceQuery(traceID pcommon.TraceID) string {
	id := chsql.String(hex.EncodeToString(traceID[:]))
	return `WITH (` + s.traceRangeQuery(id) + `) AS r
		SELECT ` + spanColumns + ` FROM ` + s.table("spans") + `
		WHERE tenant = ` + s.tenant + ` AND start >= r.1 AND start <= r.2 AND trace_id = ` + id + `
		ORDER BY start, span_id`
}

// traceRangeQuery is GetTrace's lookup in span_traces: the first and last span start of
// the trace whose id is the SQL literal id, over every day that holds it.
func (s *Store) traceRangeQuery(id string) string {
	return `SELECT (min(start_min), max(start_max)) FROM ` + s.table("span_traces") +
		` WHERE tenant = ` + s.tenant + ` AND trace_id = ` + id
}

// grouper rebuilds the resource/scope nesting of spans read back as flat rows: spans of
// equal resources (attributes and schema URL) share a ResourceSpans, and within it spans
// of equal scopes share a ScopeSpans, in order of first appearance.
type grouper struct {
	td        ptrace.Traces
	resources map[string]ptrace.ResourceSpans
	scopes    map[string]ptrace.ScopeSpans
}

func newGrouper() *grouper {
	return &grouper{td: ptrace.NewTraces(), resources: map[string]ptrace.ResourceSpans{}, scopes: map[string]ptrace.ScopeSpans{}}
}

// scan appends the span of the current row (spanColumns).
func (g *grouper) scan(rows chsql.Rows, traceID pcommon.TraceID) error {
	var (
		spanID, parent, traceState, name, statusMsg      string
		attrTypes, resTypes, resURL                      string
		scName, scVersion, scAttrs, scURL, events, links string
		flags, kind, startNs, duration, status           int64
		dAttrs, dEvents, dLinks                          int64
		attrKeys, attrVals, resKeys, resVals             []string
	)
	err := rows.Scan(&spanID, &parent, &traceState, &flags, &name, &kind, &startNs, &duration, &status, &statusMsg,
		&attrKeys, &attrVals, &attrTypes, &resKeys, &resVals, &resTypes, &resURL,
		&scName, &scVersion, &scAttrs, &scURL, &events, &links, &dAttrs, &dEvents, &dLinks)
	if err != nil {
		return err
	}
	resKey := strings.Join(resKeys, "\x00") + "\x01" + strings.Join(resVals, "\x00") + "\x01" + resTypes + "\x01" + resURL
	rs, ok := g.resources[resKey]
	if !ok {
		rs = g.td.ResourceSpans().AppendEmpty()
		rs.SetSchemaUrl(resURL)
		if err := chattrs.JoinInto(resKeys, resVals, resTypes, rs.Resource().Attributes()); err != nil {
			return err
		}
		g.resources[resKey] = rs
	}
	scopeKey := resKey + "\x02" + scName + "\x01" + scVersion + "\x01" + scAttrs + "\x01" + scURL
	ss, ok := g.scopes[scopeKey]
	if !ok {
		ss = rs.ScopeSpans().AppendEmpty()
		ss.SetSchemaUrl(scURL)
		ss.Scope().SetName(scName)
		ss.Scope().SetVersion(scVersion)
		if err := chattrs.DecodeMapJSON(scAttrs, ss.Scope().Attributes()); err != nil {
			return err
		}
		g.scopes[scopeKey] = ss
	}
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(traceID)
	var sid pcommon.SpanID
	if err := decodeHex(spanID, sid[:]); err != nil {
		return err
	}
	sp.SetSpanID(sid)
	if parent != "" {
		var pid pcommon.SpanID
		if err := decodeHex(parent, pid[:]); err != nil {
			return err
		}
		sp.SetParentSpanID(pid)
	}
	sp.TraceState().FromRaw(traceState)
	sp.SetFlags(uint32(flags))
	sp.SetName(name)
	sp.SetKind(ptrace.SpanKind(kind))
	sp.SetStartTimestamp(pcommon.Timestamp(startNs))
	sp.SetEndTimestamp(pcommon.Timestamp(startNs + duration))
	sp.Status().SetCode(ptrace.StatusCode(status))
	sp.Status().SetMessage(statusMsg)
	sp.SetDroppedAttributesCount(uint32(dAttrs))
	sp.SetDroppedEventsCount(uint32(dEvents))
	sp.SetDroppedLinksCount(uint32(dLinks))
	if err := chattrs.JoinInto(attrKeys, attrVals, attrTypes, sp.Attributes()); err != nil {
		return err
	}
	if err := putEvents(events, sp.Events()); err != nil {
		return err
	}
	return putLinks(links, sp.Links())
}

// traceConds translates q into conditions on spans.
func (s *Store) traceConds(q store.TraceQuery) (conds, error) {
	c := s.spanTimeConds(q.Start, q.End)
	if q.Service != "" {
		c.add("service = " + chsql.String(q.Service))
	}
	if q.SpanName != "" {
		c.add("name = " + chsql.String(q.SpanName))
	}
	if q.MinDuration > 0 {
		c.add("duration_ns >= " + strconv.FormatInt(int64(q.MinDuration), 10))
	}
	if q.MaxDuration > 0 {
		c.add("duration_ns <= " + strconv.FormatInt(int64(q.MaxDuration), 10))
	}
	if q.ErrorsOnly {
		c.add("status_code = " + strconv.Itoa(statusError))
	}
	for _, f := range q.Attrs {
		cond, err := attrCond(f)
		if err != nil {
			return nil, err
		}
		c.add(cond)
	}
	return c, nil
}

// attrCond is the condition of one attribute filter (chattrs.Cond): the span
// attributes, then the resource attributes.
func attrCond(f store.AttrFilter) (string, error) {
	return chattrs.Cond(f, func(_, v string) string {
		// has() on the map values is what the bloom_filter indexes can answer, so granules
		// without the value anywhere are skipped before the lookup.
		return "(has(mapValues(attributes), " + v + ") OR has(mapValues(resource), " + v + "))"
	})
}

// FindTraces picks the Limit traces whose earliest matching span is the most recent (one
// query), then summarises them over all their spans (a second query, which reads only
// their time range, from span_traces, and their ids, through the bloom_filter index). See
// store.TraceReader.
func (s *Store) FindTraces(ctx context.Context, q store.TraceQuery) iter.Seq2[store.TraceSummary, error] {
	return func(yield func(store.TraceSummary, error) bool) {
		limit := q.Limit
		if limit <= 0 {
			limit = defaultTraceLimit
		}
		limit = min(limit, maxTraceLimit)
		c, err := s.traceConds(q)
		if err != nil {
			yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
			return
		}
		ids, err := s.strings(ctx, s.matchQuery(c, limit))
		if err != nil || len(ids) == 0 {
			if err != nil {
				yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
			}
			return
		}
		list := make([]string, len(ids))
		for i, id := range ids {
			list[i] = chsql.String(id)
		}
		in := "trace_id IN (" + strings.Join(list, ",") + ")"
		// The root is the span without a parent, or the earliest span when it is missing.
		root := func(col string) string {
			return "if(countIf(parent_span_id = '') > 0, argMinIf(" + col + ", start, parent_span_id = ''), argMin(" + col + ", start))"
		}
		query := `WITH (SELECT (min(start_min), max(start_max)) FROM ` + s.table("span_traces") +
			` WHERE tenant = ` + s.tenant + ` AND ` + in + `) AS r
			SELECT trace_id, toString(` + root("service") + `), toString(` + root("name") + `),
				toUnixTimestamp64Nano(min(start)) AS first, max(toUnixTimestamp64Nano(start) + duration_ns),
				toInt64(count()), toInt64(countIf(status_code = ` + strconv.Itoa(statusError) + `)),
				arraySort(groupUniqArray(toString(service)))
			FROM ` + s.table("spans") + `
			WHERE tenant = ` + s.tenant + ` AND start >= r.1 AND start <= r.2 AND ` + in + `
			GROUP BY trace_id ORDER BY first DESC, trace_id`
		rows, err := s.conn.Query(ctx, query)
		if err != nil {
			yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id          string
				first, last int64
				spans, errs int64
				ts          store.TraceSummary
			)
			if err := rows.Scan(&id, &ts.RootService, &ts.RootSpanName, &first, &last, &spans, &errs, &ts.Services); err != nil {
				yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
				return
			}
			if err := decodeHex(id, ts.TraceID[:]); err != nil {
				yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
				return
			}
			ts.Start = time.Unix(0, first).UTC()
			ts.Duration = time.Duration(last - first)
			ts.SpanCount = int(spans)
			ts.ErrorCount = int(errs)
			if !yield(ts, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
		}
	}
}

// matchQuery is FindTraces' first query: the ids of the limit traces whose earliest span
// matching c is the most recent.
func (s *Store) matchQuery(c conds, limit int) string {
	return `SELECT trace_id FROM ` + s.table("spans") + c.sql() + `
		GROUP BY trace_id ORDER BY min(start) DESC, trace_id LIMIT ` + strconv.Itoa(limit)
}

// Services lists service names from the span_names catalog. See store.TraceReader.
func (s *Store) Services(ctx context.Context) ([]string, error) {
	out, err := s.strings(ctx, `SELECT DISTINCT toString(service) AS v FROM `+s.table("span_names")+
		` WHERE tenant = `+s.tenant+` ORDER BY v`)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	return out, nil
}

// SpanNames lists span names of one service from the span_names catalog.
func (s *Store) SpanNames(ctx context.Context, service string) ([]string, error) {
	out, err := s.strings(ctx, `SELECT DISTINCT toString(name) AS v FROM `+s.table("span_names")+
		` WHERE tenant = `+s.tenant+` AND service = `+chsql.String(service)+` ORDER BY v`)
	if err != nil {
		return nil, fmt.Errorf("list span names: %w", err)
	}
	return out, nil
}
