package duck

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanRow is one span ready for the appender (the columns of spansSchema). Its strings
// point into the request's pdata or into the batch's textArena.
type spanRow struct {
	day                              int64
	traceHi, traceLo, spanID, parent int64
	hasParent                        bool
	traceState                       string
	flags                            uint32
	name                             string
	kind                             int8
	start, duration                  int64
	statusCode                       int8
	statusMessage, service           string
	attrKeys, attrVals               string
	events, links                    string
	hasEvents, hasLinks              bool
	droppedAttrs, droppedEvents      uint32
	droppedLinks                     uint32
	resID                            int64
}

// appendTo writes r as one row, in the column order of spansSchema.
func (r *spanRow) appendTo(a *chunkAppender) error {
	a.Int64(0, r.traceHi)
	a.Int64(1, r.traceLo)
	a.Int64(2, r.spanID)
	a.NullableInt64(3, r.parent, r.hasParent)
	a.String(4, r.traceState)
	a.Uint32(5, r.flags)
	a.String(6, r.name)
	a.Int8(7, r.kind)
	a.Int64(8, r.start)
	a.Int64(9, r.duration)
	a.Int8(10, r.statusCode)
	a.String(11, r.statusMessage)
	a.String(12, r.service)
	a.String(13, r.attrKeys)
	a.String(14, r.attrVals)
	a.NullableString(15, r.events, r.hasEvents)
	a.NullableString(16, r.links, r.hasLinks)
	a.Uint32(17, r.droppedAttrs)
	a.Uint32(18, r.droppedEvents)
	a.Uint32(19, r.droppedLinks)
	a.Int64(20, r.resID)
	return a.EndRow()
}

// spanName is one entry of the span_names catalog.
type spanName struct {
	day           int64
	service, name string
}

// WriteTraces appends td in one transaction, together with new span_names catalog
// entries. See store.SpanWriter.
func (s *Store) WriteTraces(ctx context.Context, td ptrace.Traces) error {
	if td.SpanCount() == 0 {
		return nil
	}
	began := time.Now()
	rows, days, names, resources, err := spanRows(td)
	if err != nil {
		s.metrics.failures.WithLabelValues("spans").Inc()
		return err
	}
	newNames := s.spanNames.missing(names)
	newResources := s.spanResources.missing(resources)
	err = s.spans.writeBatch(ctx, days, func(day int64, a *chunkAppender) error {
		for i := range rows {
			if rows[i].day != day {
				continue
			}
			if err := rows[i].appendTo(a); err != nil {
				return err
			}
		}
		return nil
	}, func(conn *sql.Conn) error {
		if err := insertSpanResources(ctx, conn, newResources); err != nil {
			return err
		}
		return insertSpanNames(ctx, conn, newNames)
	})
	if err != nil {
		s.metrics.failures.WithLabelValues("spans").Inc()
		return fmt.Errorf("write traces: %w", err)
	}
	// Days are part of the key, so a name is inserted again on a new day; retention
	// resets the set when it deletes catalog rows.
	s.spanNames.committed(newNames)
	s.spanResources.committed(newResources)
	s.metrics.rows.WithLabelValues("spans").Add(float64(len(rows)))
	s.metrics.latency.WithLabelValues("spans").Observe(time.Since(began).Seconds())
	return nil
}

// insertSpanNames adds catalog entries not yet committed (the INSERT of every batch's
// names was 4% of the CPU profile); one multi-row INSERT for the few new ones.
func insertSpanNames(ctx context.Context, conn *sql.Conn, names map[spanName]struct{}) error {
	args := make([]any, 0, 3*len(names))
	for n := range names {
		args = append(args, n.day, n.service, n.name)
	}
	if err := insertIgnoringDuplicates(ctx, conn, "span_names (day, service, name)", 3, args); err != nil {
		return fmt.Errorf("update span names: %w", err)
	}
	return nil
}

// spanRows flattens td into rows, the sorted days they fall on, the distinct
// (day, service, span name) triples and the resources the rows refer to.
func spanRows(td ptrace.Traces) ([]spanRow, []int64, map[spanName]struct{}, map[int64]spanResource, error) {
	rows := make([]spanRow, 0, td.SpanCount())
	var days []int64
	names := make(map[spanName]struct{})
	resources := make(map[int64]spanResource)
	var buf, keys, vals []byte
	var text textArena
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		service := serviceName(res)
		buf = appendMapJSON(buf[:0], res)
		resource := string(buf)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope()
			buf = appendMapJSON(buf[:0], scope.Attributes())
			sres := spanResource{resource, rs.SchemaUrl(), scope.Name(), scope.Version(), string(buf), ss.SchemaUrl()}
			resID := spanResourceID(sres)
			resources[resID] = sres
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				if sp.TraceID().IsEmpty() {
					return nil, nil, nil, nil, fmt.Errorf("span %q (%d of scope %q): empty trace id", sp.Name(), k, scope.Name())
				}
				if sp.SpanID().IsEmpty() {
					return nil, nil, nil, nil, fmt.Errorf("span %q (%d of scope %q): empty span id", sp.Name(), k, scope.Name())
				}
				// The end is stored as a duration, so end before start (which the
				// pipeline already rejects) or times past 2262 could not come back.
				if sp.EndTimestamp() < sp.StartTimestamp() {
					return nil, nil, nil, nil, fmt.Errorf("span %q (%d of scope %q): end before start", sp.Name(), k, scope.Name())
				}
				if sp.EndTimestamp() > math.MaxInt64 {
					return nil, nil, nil, nil, fmt.Errorf("span %q (%d of scope %q): end time %d past the year 2262", sp.Name(), k, scope.Name(), sp.EndTimestamp())
				}
				startNs, endNs := int64(sp.StartTimestamp()), int64(sp.EndTimestamp())
				duration := endNs - startNs
				hi, lo := traceIDHalves(sp.TraceID())
				keys, vals = appendAttrCols(keys[:0], vals[:0], sp.Attributes())
				sid, parent := sp.SpanID(), sp.ParentSpanID()
				r := spanRow{
					day: dayOf(startNs), traceHi: hi, traceLo: lo,
					spanID: int64(binary.BigEndian.Uint64(sid[:])), parent: int64(binary.BigEndian.Uint64(parent[:])),
					hasParent: !parent.IsEmpty(), traceState: sp.TraceState().AsRaw(), flags: sp.Flags(),
					name: sp.Name(), kind: int8(sp.Kind()), start: startNs, duration: duration,
					statusCode: int8(sp.Status().Code()), statusMessage: sp.Status().Message(), service: service,
					attrKeys: text.add(keys), attrVals: text.add(vals),
					droppedAttrs: sp.DroppedAttributesCount(), droppedEvents: sp.DroppedEventsCount(),
					droppedLinks: sp.DroppedLinksCount(), resID: resID,
				}
				r.events, r.hasEvents = eventsJSON(sp.Events()).(string)
				r.links, r.hasLinks = linksJSON(sp.Links()).(string)
				rows = append(rows, r)
				if !slices.Contains(days, r.day) {
					days = append(days, r.day)
				}
				names[spanName{day: r.day, service: service, name: sp.Name()}] = struct{}{}
			}
		}
	}
	slices.Sort(days)
	return rows, days, names, resources, nil
}

// eventsJSON encodes span events as a JSON array, or NULL when there are none:
// [{"t":<ns>,"n":"name","a":{attrs},"d":<dropped attributes>}].
func eventsJSON(events ptrace.SpanEventSlice) any {
	if events.Len() == 0 {
		return nil
	}
	buf := []byte{'['}
	for i := 0; i < events.Len(); i++ {
		e := events.At(i)
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"t":`...)
		buf = strconv.AppendUint(buf, uint64(e.Timestamp()), 10)
		buf = append(buf, `,"n":`...)
		buf = appendJSONString(buf, e.Name())
		buf = append(buf, `,"a":`...)
		buf = appendMapJSON(buf, e.Attributes())
		buf = append(buf, `,"d":`...)
		buf = strconv.AppendUint(buf, uint64(e.DroppedAttributesCount()), 10)
		buf = append(buf, '}')
	}
	return string(append(buf, ']'))
}

// linksJSON encodes span links as a JSON array, or NULL when there are none:
// [{"tid":"<hex>","sid":"<hex>","ts":"tracestate","f":<flags>,"a":{attrs},"d":<dropped>}].
func linksJSON(links ptrace.SpanLinkSlice) any {
	if links.Len() == 0 {
		return nil
	}
	buf := []byte{'['}
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		if i > 0 {
			buf = append(buf, ',')
		}
		tid, sid := l.TraceID(), l.SpanID()
		buf = append(buf, `{"tid":"`...)
		buf = hex.AppendEncode(buf, tid[:])
		buf = append(buf, `","sid":"`...)
		buf = hex.AppendEncode(buf, sid[:])
		buf = append(buf, `","ts":`...)
		buf = appendJSONString(buf, l.TraceState().AsRaw())
		buf = append(buf, `,"f":`...)
		buf = strconv.AppendUint(buf, uint64(l.Flags()), 10)
		buf = append(buf, `,"a":`...)
		buf = appendMapJSON(buf, l.Attributes())
		buf = append(buf, `,"d":`...)
		buf = strconv.AppendUint(buf, uint64(l.DroppedAttributesCount()), 10)
		buf = append(buf, '}')
	}
	return string(append(buf, ']'))
}

// putEvents and putLinks are the inverse of eventsJSON and linksJSON.
func putEvents(s string, events ptrace.SpanEventSlice) error {
	v := pcommon.NewValueEmpty()
	if err := decodeValueJSON(s, v); err != nil {
		return fmt.Errorf("decode events: %w", err)
	}
	if v.Type() != pcommon.ValueTypeSlice {
		return fmt.Errorf("decode events: not an array")
	}
	for i := 0; i < v.Slice().Len(); i++ {
		m := v.Slice().At(i).Map()
		e := events.AppendEmpty()
		if t, ok := m.Get("t"); ok {
			e.SetTimestamp(pcommon.Timestamp(t.Int()))
		}
		if n, ok := m.Get("n"); ok {
			e.SetName(n.Str())
		}
		if a, ok := m.Get("a"); ok && a.Type() == pcommon.ValueTypeMap {
			a.Map().MoveTo(e.Attributes())
		}
		if d, ok := m.Get("d"); ok {
			e.SetDroppedAttributesCount(uint32(d.Int()))
		}
	}
	return nil
}

func putLinks(s string, links ptrace.SpanLinkSlice) error {
	v := pcommon.NewValueEmpty()
	if err := decodeValueJSON(s, v); err != nil {
		return fmt.Errorf("decode links: %w", err)
	}
	if v.Type() != pcommon.ValueTypeSlice {
		return fmt.Errorf("decode links: not an array")
	}
	for i := 0; i < v.Slice().Len(); i++ {
		m := v.Slice().At(i).Map()
		l := links.AppendEmpty()
		if t, ok := m.Get("tid"); ok {
			var id pcommon.TraceID
			if err := decodeHex(t.Str(), id[:]); err != nil {
				return fmt.Errorf("decode links: %w", err)
			}
			l.SetTraceID(id)
		}
		if t, ok := m.Get("sid"); ok {
			var id pcommon.SpanID
			if err := decodeHex(t.Str(), id[:]); err != nil {
				return fmt.Errorf("decode links: %w", err)
			}
			l.SetSpanID(id)
		}
		if ts, ok := m.Get("ts"); ok {
			l.TraceState().FromRaw(ts.Str())
		}
		if f, ok := m.Get("f"); ok {
			l.SetFlags(uint32(f.Int()))
		}
		if a, ok := m.Get("a"); ok && a.Type() == pcommon.ValueTypeMap {
			a.Map().MoveTo(l.Attributes())
		}
		if d, ok := m.Get("d"); ok {
			l.SetDroppedAttributesCount(uint32(d.Int()))
		}
	}
	return nil
}

func decodeHex(s string, dst []byte) error {
	if hex.DecodedLen(len(s)) != len(dst) {
		return fmt.Errorf("bad id %q", s)
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("bad id %q: %w", s, err)
	}
	return nil
}
