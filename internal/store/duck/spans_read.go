package duck

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

const (
	defaultTraceLimit = 20
	maxTraceLimit     = 1000
	statusCodeError   = int8(ptrace.StatusCodeError)
)

const spanColumns = `span_id, parent_span_id, trace_state, flags, name, kind, start_ns, duration_ns,
	status_code, status_message, attr_keys, attr_vals, events, links,
	dropped_attributes, dropped_events, dropped_links, res_id`

// GetTrace returns all spans of one trace. Each day partition is read only in the blocks
// its trace id filters say may hold the trace (trace_filter.go), not scanned whole. See
// store.TraceReader.
func (s *Store) GetTrace(ctx context.Context, traceID pcommon.TraceID) (ptrace.Traces, error) {
	if traceID.IsEmpty() {
		return ptrace.Traces{}, fmt.Errorf("get trace: empty trace id")
	}
	days := s.spans.daysIn(timeRange(time.Time{}, time.Time{}))
	if len(days) == 0 {
		return ptrace.Traces{}, store.ErrNotFound
	}
	hi, lo := traceIDHalves(traceID)
	// Each day is read through the trace id index (trace_filter.go). The query filters on
	// trace_hi alone, which an ART index of a partition written by an older Loupe can
	// also serve, and the other half is checked while scanning. The id is an integer
	// formatted here, not user text.
	cond := " WHERE trace_hi = " + strconv.FormatInt(hi, 10)
	var b strings.Builder
	for i, d := range days {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		ranges, err := s.traceRanges(ctx, d, []int64{hi})
		if err != nil {
			return ptrace.Traces{}, fmt.Errorf("get trace: %w", err)
		}
		b.WriteString("SELECT trace_lo, " + spanColumns + " FROM " + dayName(s.spans.schema.prefix, d) + cond)
		if rc := rangesCond(ranges); rc != "" {
			b.WriteString(" AND " + rc)
		}
	}
	b.WriteString(" ORDER BY start_ns, span_id")
	rows, err := s.db.QueryContext(ctx, b.String())
	if err != nil {
		return ptrace.Traces{}, fmt.Errorf("get trace: %w", err)
	}
	defer rows.Close()
	g := newTraceGrouper()
	for rows.Next() {
		if err := g.scanSpan(rows, traceID, lo); err != nil {
			return ptrace.Traces{}, fmt.Errorf("get trace: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return ptrace.Traces{}, fmt.Errorf("get trace: %w", err)
	}
	if len(g.order) == 0 {
		return ptrace.Traces{}, store.ErrNotFound
	}
	td, err := g.group(ctx, s.db, &s.spanResourceRows)
	if err != nil {
		return ptrace.Traces{}, fmt.Errorf("get trace: %w", err)
	}
	return td, nil
}

// traceGrouper rebuilds the resource/scope nesting of spans read back as flat rows. Spans
// are collected per res_id first; group then reads those few resources by primary key.
// Joining span_resources in the span query instead cost more than the index probe itself
// (~5-8 vs ~2 ms per partition of 300k spans).
type traceGrouper struct {
	spans map[int64]ptrace.SpanSlice
	order []int64 // res_ids in first-seen order
}

func newTraceGrouper() *traceGrouper {
	return &traceGrouper{spans: map[int64]ptrace.SpanSlice{}}
}

// group reads the resources of the collected spans (through cache) and nests the spans
// under them.
func (g *traceGrouper) group(ctx context.Context, db *sql.DB, cache *spanResourceCache) (ptrace.Traces, error) {
	found, err := cache.spanResources(ctx, db, g.order)
	if err != nil {
		return ptrace.Traces{}, err
	}
	td := ptrace.NewTraces()
	resources := map[string]ptrace.ResourceSpans{}
	for _, id := range g.order {
		r, ok := found[id]
		if !ok {
			return ptrace.Traces{}, fmt.Errorf("span resource %d is missing", id)
		}
		res, resURL, scName, scVer, scAttrs, scURL := r[0], r[1], r[2], r[3], r[4], r[5]
		resKey := res + "\x00" + resURL
		rs, ok := resources[resKey]
		if !ok {
			rs = td.ResourceSpans().AppendEmpty()
			rs.SetSchemaUrl(resURL)
			if err := decodeMapJSON(res, rs.Resource().Attributes()); err != nil {
				return ptrace.Traces{}, err
			}
			resources[resKey] = rs
		}
		// Distinct res_ids of one resource are distinct scopes.
		ss := rs.ScopeSpans().AppendEmpty()
		ss.SetSchemaUrl(scURL)
		ss.Scope().SetName(scName)
		ss.Scope().SetVersion(scVer)
		if err := decodeMapJSON(scAttrs, ss.Scope().Attributes()); err != nil {
			return ptrace.Traces{}, err
		}
		g.spans[id].MoveAndAppendTo(ss.Spans())
	}
	return td, nil
}

// scanSpan collects the span in the current row when its trace_lo is lo.
func (g *traceGrouper) scanSpan(rows *sql.Rows, traceID pcommon.TraceID, lo int64) error {
	var (
		traceLo                                 int64
		spanID                                  int64
		parent                                  sql.NullInt64
		traceState, name, statusMsg, keys, vals string
		flags, dAttrs, dEvents, dLinks          uint32
		kind, status                            int8
		startNs, duration, resID                int64
		events, links                           sql.NullString
	)
	err := rows.Scan(&traceLo, &spanID, &parent, &traceState, &flags, &name, &kind, &startNs, &duration,
		&status, &statusMsg, &keys, &vals, &events, &links, &dAttrs, &dEvents, &dLinks, &resID)
	if err != nil || traceLo != lo {
		return err
	}
	spans, ok := g.spans[resID]
	if !ok {
		spans = ptrace.NewSpanSlice()
		g.spans[resID] = spans
		g.order = append(g.order, resID)
	}
	sp := spans.AppendEmpty()
	sp.SetTraceID(traceID)
	sp.SetSpanID(spanIDFrom(spanID))
	if parent.Valid {
		sp.SetParentSpanID(spanIDFrom(parent.Int64))
	}
	sp.TraceState().FromRaw(traceState)
	sp.SetFlags(flags)
	sp.SetName(name)
	sp.SetKind(ptrace.SpanKind(kind))
	sp.SetStartTimestamp(pcommon.Timestamp(startNs))
	sp.SetEndTimestamp(pcommon.Timestamp(startNs + duration))
	sp.Status().SetCode(ptrace.StatusCode(status))
	sp.Status().SetMessage(statusMsg)
	sp.SetDroppedAttributesCount(dAttrs)
	sp.SetDroppedEventsCount(dEvents)
	sp.SetDroppedLinksCount(dLinks)
	if err := decodeAttrCols(keys, vals, sp.Attributes()); err != nil {
		return err
	}
	if events.Valid {
		if err := putEvents(events.String, sp.Events()); err != nil {
			return err
		}
	}
	if links.Valid {
		if err := putLinks(links.String, sp.Links()); err != nil {
			return err
		}
	}
	return nil
}

// spanSource returns the FROM clause over a spans source aliased l, joined with its
// resources when w reads them.
func spanSource(source string, w *where) string {
	if w.resource {
		return source + " l" + spanResourceJoin
	}
	return source + " l"
}

// traceFilterWhere translates q into conditions on a spans partition.
func traceFilterWhere(q store.TraceQuery) (*where, error) {
	w := &where{}
	if !q.Start.IsZero() {
		w.add("start_ns >= ?", q.Start.UnixNano())
	}
	if !q.End.IsZero() {
		w.add("start_ns < ?", q.End.UnixNano())
	}
	if q.Service != "" {
		w.add("service = ?", q.Service)
	}
	if q.SpanName != "" {
		w.add("name = ?", q.SpanName)
	}
	if q.MinDuration > 0 {
		w.add("duration_ns >= ?", int64(q.MinDuration))
	}
	if q.MaxDuration > 0 {
		w.add("duration_ns <= ?", int64(q.MaxDuration))
	}
	if q.ErrorsOnly {
		w.add("status_code = ?", statusCodeError)
	}
	if err := w.addAttrFilters(q.Attrs); err != nil {
		return nil, err
	}
	return w, nil
}

// FindTraces finds matching spans, keeps the Limit traces whose earliest matching span
// is most recent (one query), and summarises those traces over their spans in the same
// partitions (a second query). See store.TraceReader.
//
// Spans of a trace that fall in a partition outside the query's time range (a trace
// crossing midnight, queried up to midnight) are not counted in its summary.
func (s *Store) FindTraces(ctx context.Context, q store.TraceQuery) iter.Seq2[store.TraceSummary, error] {
	return func(yield func(store.TraceSummary, error) bool) {
		limit := q.Limit
		if limit <= 0 {
			limit = defaultTraceLimit
		}
		limit = min(limit, maxTraceLimit)
		w, err := traceFilterWhere(q)
		if err != nil {
			yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
			return
		}
		tables := s.spans.tables(timeRange(q.Start, q.End))
		if len(tables) == 0 {
			return
		}
		ids, err := s.matchingTraces(ctx, tables, w, limit)
		if err != nil || len(ids) == 0 {
			if err != nil {
				yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
			}
			return
		}
		// The summary reads only the spans of the chosen traces: their ids come from the
		// database, so they are inlined as constants, which DuckDB pushes into the scan as
		// a filter on trace_hi. Joining the spans with the chosen traces in the same query
		// instead read every column of every span of the range (~2x slower on 2M spans).
		// The trace id index (trace_filter.go) narrows each partition to the blocks that
		// may hold one of them.
		var his, pairs strings.Builder
		hiVals := make([]int64, len(ids))
		for i, id := range ids {
			if i > 0 {
				his.WriteByte(',')
				pairs.WriteByte(',')
			}
			fmt.Fprintf(&his, "%d", id[0])
			fmt.Fprintf(&pairs, "(%d,%d)", id[0], id[1])
			hiVals[i] = id[0]
		}
		source, err := s.unionAllTraces(ctx, s.spans.daysIn(timeRange(q.Start, q.End)), hiVals, "*")
		if err != nil {
			yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
			return
		}
		query := `SELECT trace_hi, trace_lo,
			coalesce(arg_min(service, start_ns) FILTER (WHERE parent_span_id IS NULL), arg_min(service, start_ns)),
			coalesce(arg_min(name, start_ns) FILTER (WHERE parent_span_id IS NULL), arg_min(name, start_ns)),
			min(start_ns) AS trace_start, max(start_ns + duration_ns), count(*),
			count(*) FILTER (WHERE status_code = ` + strconv.Itoa(int(statusCodeError)) + `),
			array_to_string(list_sort(list_distinct(list(service))), chr(0))
		FROM ` + source + ` s
		WHERE trace_hi IN (` + his.String() + `) AND (trace_hi, trace_lo) IN (` + pairs.String() + `)
		GROUP BY trace_hi, trace_lo
		ORDER BY trace_start DESC, trace_hi, trace_lo`
		rows, err := s.db.QueryContext(ctx, query)
		if err != nil {
			yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var (
				hi, lo, start, end, spans, errs int64
				services                        string
				ts                              store.TraceSummary
			)
			if err := rows.Scan(&hi, &lo, &ts.RootService, &ts.RootSpanName, &start, &end, &spans, &errs, &services); err != nil {
				yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
				return
			}
			ts.TraceID = traceIDFrom(hi, lo)
			ts.Start = time.Unix(0, start).UTC()
			ts.Duration = time.Duration(end - start)
			ts.SpanCount = int(spans)
			ts.ErrorCount = int(errs)
			ts.Services = strings.Split(services, "\x00")
			if !yield(ts, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(store.TraceSummary{}, fmt.Errorf("find traces: %w", err))
		}
	}
}

// matchingTraces returns the ids (high and low halves) of the limit traces whose earliest
// span matching w is the most recent, most recent first.
func (s *Store) matchingTraces(ctx context.Context, tables []string, w *where, limit int) ([][2]int64, error) {
	query := `SELECT trace_hi, trace_lo, min(start_ns) AS first FROM ` + spanSource(unionAll(tables, "*"), w) + w.sql() + `
		GROUP BY trace_hi, trace_lo ORDER BY first DESC LIMIT ` + strconv.Itoa(limit)
	rows, err := s.db.QueryContext(ctx, query, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids [][2]int64
	for rows.Next() {
		var hi, lo, first int64
		if err := rows.Scan(&hi, &lo, &first); err != nil {
			return nil, err
		}
		ids = append(ids, [2]int64{hi, lo})
	}
	return ids, rows.Err()
}

// Services lists service names from the span_names catalog. See store.TraceReader.
func (s *Store) Services(ctx context.Context) ([]string, error) {
	return s.strings(ctx, "SELECT DISTINCT service FROM span_names ORDER BY service")
}

// SpanNames lists span names of one service from the span_names catalog.
func (s *Store) SpanNames(ctx context.Context, service string) ([]string, error) {
	return s.strings(ctx, "SELECT DISTINCT name FROM span_names WHERE service = ? ORDER BY name", service)
}

func (s *Store) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list names: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("list names: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list names: %w", err)
	}
	return out, nil
}
