package chspans

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// allTypes fills m with a value of every OTLP type, in an order that is not sorted.
func allTypes(m pcommon.Map) {
	m.PutStr("z.str", "text with \"quotes\", \\ and ☃")
	m.PutInt("int", -42)
	m.PutInt("big", math.MaxInt64)
	m.PutDouble("double", 3.25)
	m.PutDouble("whole", 2)
	m.PutDouble("nan", math.NaN())
	m.PutDouble("inf", math.Inf(-1))
	m.PutBool("bool", true)
	m.PutEmptyBytes("bytes").FromRaw([]byte{0, 1, 0xff})
	arr := m.PutEmptySlice("array")
	arr.AppendEmpty().SetInt(1)
	arr.AppendEmpty().SetDouble(1)
	arr.AppendEmpty().SetDouble(math.Inf(1))
	nested := m.PutEmptyMap("map")
	nested.PutStr("inner", "v")
	nested.PutEmptyMap("deeper").PutEmptyBytes("b")
	m.PutEmpty("empty")
	m.PutStr("", "empty key")
}

func TestAttrsRoundTrip(t *testing.T) {
	m := pcommon.NewMap()
	allTypes(m)
	keys, vals, types := splitAttrs(m)
	require.Equal(t, "siiddddbjjjns", types)
	require.Equal(t, []string{"text with \"quotes\", \\ and ☃", "-42", "9223372036854775807", "3.25", "2.0", "NaN", "-Inf",
		"true", `{"@bytes":"AAH/"}`, `[1,1.0,{"@double":"+Inf"}]`, `{"inner":"v","deeper":{"b":{"@bytes":""}}}`, "", "empty key"}, vals,
		"the string forms filters compare")
	got := pcommon.NewMap()
	require.NoError(t, joinAttrs(keys, vals, types, got))
	require.Equal(t, m.AsRaw()["z.str"], got.AsRaw()["z.str"])
	// NaN != NaN, so compare the typed JSON of both maps, which spells NaN out.
	require.Equal(t, string(appendMapJSON(nil, m)), string(appendMapJSON(nil, got)))
	var order []string
	got.Range(func(k string, _ pcommon.Value) bool { order = append(order, k); return true })
	require.Equal(t, keys, order, "order kept")

	empty, ev, et := splitAttrs(pcommon.NewMap())
	require.Empty(t, empty)
	require.Empty(t, ev)
	require.Empty(t, et)

	require.ErrorContains(t, joinAttrs([]string{"a"}, []string{"x"}, "i", pcommon.NewMap()), `decode attribute "a"`)
	require.ErrorContains(t, joinAttrs([]string{"a"}, []string{"x"}, "q", pcommon.NewMap()), "unknown type")
	require.ErrorContains(t, joinAttrs([]string{"a"}, nil, "s", pcommon.NewMap()), "1 keys, 0 values")
}

func TestEventsAndLinksRoundTrip(t *testing.T) {
	sp := ptrace.NewSpan()
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(123456789)
	allTypes(ev.Attributes())
	ev.SetDroppedAttributesCount(2)
	sp.Events().AppendEmpty()
	ln := sp.Links().AppendEmpty()
	ln.SetTraceID(pcommon.TraceID{1, 2, 3})
	ln.SetSpanID(pcommon.SpanID{4, 5})
	ln.TraceState().FromRaw("k=v")
	ln.SetFlags(1)
	ln.Attributes().PutInt("n", 1)
	ln.SetDroppedAttributesCount(3)

	got := ptrace.NewSpan()
	require.NoError(t, putEvents(string(appendEventsJSON(nil, sp.Events())), got.Events()))
	require.NoError(t, putLinks(string(appendLinksJSON(nil, sp.Links())), got.Links()))
	require.Equal(t, sp.Events().Len(), got.Events().Len())
	require.Equal(t, string(appendEventsJSON(nil, sp.Events())), string(appendEventsJSON(nil, got.Events())))
	require.Equal(t, sp.Links().At(0).TraceID(), got.Links().At(0).TraceID())
	require.Equal(t, sp.Links().At(0).SpanID(), got.Links().At(0).SpanID())
	require.Equal(t, string(appendLinksJSON(nil, sp.Links())), string(appendLinksJSON(nil, got.Links())))

	none := ptrace.NewSpan()
	require.Empty(t, appendEventsJSON(nil, none.Events()), "no events is the empty string")
	require.NoError(t, putEvents("", none.Events()))
	require.NoError(t, putLinks("", none.Links()))
	require.Error(t, putEvents("{}", none.Events()))
	require.Error(t, putLinks(`[{"tid":"zz"}]`, none.Links()))
}
