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
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanRow is one span ready for the appender (the columns of spansSchema): the columns
// computed from more than the span itself, and the span, whose other columns appendTo
// writes straight from pdata. It points into the request's pdata.
//
// The attribute columns, events and links are encoded only in appendTo, into the
// appender's scratch buffers, which the appender copies from: encoding them here into
// per-batch text (as before) allocated 256 KB arena blocks per batch plus a string per
// span with events or links, and copied each string twice. spanRow shrinks from 240 to
// 48 bytes.
type spanRow struct {
	day     int64
	service string
	resID   int64
	sp      ptrace.Span
}

// appendTo writes r as one row, in the column order of spansSchema.
func (r *spanRow) appendTo(a *chunkAppender) error {
	sp := r.sp
	hi, lo := traceIDHalves(sp.TraceID())
	sid, parent := sp.SpanID(), sp.ParentSpanID()
	start := int64(sp.StartTimestamp())
	a.Int64(0, hi)
	a.Int64(1, lo)
	a.Int64(2, int64(binary.BigEndian.Uint64(sid[:])))
	a.NullableInt64(3, int64(binary.BigEndian.Uint64(parent[:])), !parent.IsEmpty())
	a.String(4, sp.TraceState().AsRaw())
	a.Uint32(5, sp.Flags())
	a.String(6, sp.Name())
	a.Int8(7, int8(sp.Kind()))
	a.Int64(8, start)
	a.Int64(9, int64(sp.EndTimestamp())-start) // spanRows checked end >= start
	status := sp.Status()
	a.Int8(10, int8(status.Code()))
	a.String(11, status.Message())
	a.String(12, r.service)
	a.scratch[0], a.scratch[1] = appendAttrCols(a.scratch[0][:0], a.scratch[1][:0], sp.Attributes())
	a.Bytes(13, a.scratch[0])
	a.Bytes(14, a.scratch[1])
	if events := sp.Events(); events.Len() > 0 {
		a.scratch[0] = appendEventsJSON(a.scratch[0][:0], events)
		a.Bytes(15, a.scratch[0])
	} else {
		a.Null(15)
	}
	if links := sp.Links(); links.Len() > 0 {
		a.scratch[0] = appendLinksJSON(a.scratch[0][:0], links)
		a.Bytes(16, a.scratch[0])
	} else {
		a.Null(16)
	}
	a.Uint32(17, sp.DroppedAttributesCount())
	a.Uint32(18, sp.DroppedEventsCount())
	a.Uint32(19, sp.DroppedLinksCount())
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
	defer spanRowPool.put(rows)
	newNames := s.spanNames.missing(names)
	putSpanNames(names)
	newResources := s.spanResources.missing(resources)
	var finish func(conn *sql.Conn) error
	if len(newResources) > 0 || len(newNames) > 0 {
		// Only then: a batch without finish may skip BEGIN and COMMIT (writeRows).
		finish = func(conn *sql.Conn) error {
			if err := insertSpanResources(ctx, conn, newResources); err != nil {
				return err
			}
			return insertSpanNames(ctx, conn, newNames)
		}
	}
	err = s.spans.writeRows(ctx, days, len(rows), func(day int64, a *chunkAppender) error {
		for i := range rows {
			if rows[i].day != day {
				continue
			}
			if err := rows[i].appendTo(a); err != nil {
				return err
			}
		}
		return nil
	}, finish, nil)
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
	rows := spanRowPool.get(td.SpanCount())
	var days []int64
	names := getSpanNames()
	resources := make(map[int64]spanResource)
	var buf []byte
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
				if err := checkSpan(sp, k, scope.Name()); err != nil {
					spanRowPool.put(rows)
					putSpanNames(names)
					return nil, nil, nil, nil, err
				}
				day := dayOf(int64(sp.StartTimestamp()))
				rows = append(rows, spanRow{day: day, service: service, resID: resID, sp: sp})
				if !slices.Contains(days, day) {
					days = append(days, day)
				}
				names[spanName{day: day, service: service, name: sp.Name()}] = struct{}{}
			}
		}
	}
	slices.Sort(days)
	return rows, days, names, resources, nil
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
	// The end is stored as a duration, so end before start (which the pipeline already
	// rejects) or times past 2262 could not come back.
	if sp.EndTimestamp() < sp.StartTimestamp() {
		return fmt.Errorf("span %q (%d of scope %q): end before start", sp.Name(), k, scope)
	}
	if sp.EndTimestamp() > math.MaxInt64 {
		return fmt.Errorf("span %q (%d of scope %q): end time %d past the year 2262", sp.Name(), k, scope, sp.EndTimestamp())
	}
	return nil
}

// spanNamePool keeps the per-batch span name sets (*map, empty) between batches: grown
// entry by entry for every batch, the set was ~2/3 of the bytes spanRows allocated (~50 KB
// per batch of the harness's 1,000 spans, which have a few hundred distinct names).
var spanNamePool sync.Pool

// maxPooledSpanNames bounds the sets kept, so a batch with very many names is not kept
// alive (and clearing and ranging over a mostly empty big map costs little).
const maxPooledSpanNames = 4096

// getSpanNames returns an empty set.
func getSpanNames() map[spanName]struct{} {
	if p, ok := spanNamePool.Get().(*map[spanName]struct{}); ok {
		return *p
	}
	return make(map[spanName]struct{})
}

// putSpanNames gives names back to the pool, cleared so that the pool keeps no pdata
// strings alive. Nothing may use names afterwards.
func putSpanNames(names map[spanName]struct{}) {
	if len(names) > maxPooledSpanNames {
		return
	}
	clear(names)
	spanNamePool.Put(&names)
}

// appendEventsJSON appends span events (at least one) as a JSON array:
// [{"t":<ns>,"n":"name","a":{attrs},"d":<dropped attributes>}]. No events is NULL.
func appendEventsJSON(buf []byte, events ptrace.SpanEventSlice) []byte {
	buf = append(buf, '[')
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
	return append(buf, ']')
}

// appendLinksJSON appends span links (at least one) as a JSON array:
// [{"tid":"<hex>","sid":"<hex>","ts":"tracestate","f":<flags>,"a":{attrs},"d":<dropped>}].
// No links is NULL.
func appendLinksJSON(buf []byte, links ptrace.SpanLinkSlice) []byte {
	buf = append(buf, '[')
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
	return append(buf, ']')
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
