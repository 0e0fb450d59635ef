package chspans

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chattrs"
)

// Events and links are stored as typed JSON arrays (chattrs), in the same form as the
// embedded backend: they are read back whole with their span and never filtered on.

// appendEventsJSON appends span events as a JSON array:
// [{"t":<ns>,"n":"name","a":{attrs},"d":<dropped attributes>}]. No events is "".
func appendEventsJSON(buf []byte, events ptrace.SpanEventSlice) []byte {
	if events.Len() == 0 {
		return buf
	}
	buf = append(buf, '[')
	for i := 0; i < events.Len(); i++ {
		e := events.At(i)
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"t":`...)
		buf = strconv.AppendUint(buf, uint64(e.Timestamp()), 10)
		buf = append(buf, `,"n":`...)
		buf = chattrs.AppendJSONString(buf, e.Name())
		buf = append(buf, `,"a":`...)
		buf = chattrs.AppendMapJSON(buf, e.Attributes())
		buf = append(buf, `,"d":`...)
		buf = strconv.AppendUint(buf, uint64(e.DroppedAttributesCount()), 10)
		buf = append(buf, '}')
	}
	return append(buf, ']')
}

// appendLinksJSON appends span links as a JSON array:
// [{"tid":"<hex>","sid":"<hex>","ts":"tracestate","f":<flags>,"a":{attrs},"d":<dropped>}].
// No links is "".
func appendLinksJSON(buf []byte, links ptrace.SpanLinkSlice) []byte {
	if links.Len() == 0 {
		return buf
	}
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
		buf = chattrs.AppendJSONString(buf, l.TraceState().AsRaw())
		buf = append(buf, `,"f":`...)
		buf = strconv.AppendUint(buf, uint64(l.Flags()), 10)
		buf = append(buf, `,"a":`...)
		buf = chattrs.AppendMapJSON(buf, l.Attributes())
		buf = append(buf, `,"d":`...)
		buf = strconv.AppendUint(buf, uint64(l.DroppedAttributesCount()), 10)
		buf = append(buf, '}')
	}
	return append(buf, ']')
}

// decodeArray decodes a stored events or links column ("" is none) into its elements.
func decodeArray(s, what string) (pcommon.Slice, error) {
	if s == "" {
		return pcommon.NewSlice(), nil
	}
	v := pcommon.NewValueEmpty()
	if err := chattrs.DecodeValueJSON(s, v); err != nil {
		return pcommon.Slice{}, fmt.Errorf("decode %s: %w", what, err)
	}
	if v.Type() != pcommon.ValueTypeSlice {
		return pcommon.Slice{}, fmt.Errorf("decode %s: not an array", what)
	}
	return v.Slice(), nil
}

// putEvents and putLinks are the inverse of appendEventsJSON and appendLinksJSON.
func putEvents(s string, events ptrace.SpanEventSlice) error {
	arr, err := decodeArray(s, "events")
	if err != nil {
		return err
	}
	for i := 0; i < arr.Len(); i++ {
		m := arr.At(i).Map()
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
	arr, err := decodeArray(s, "links")
	if err != nil {
		return err
	}
	for i := 0; i < arr.Len(); i++ {
		m := arr.At(i).Map()
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
