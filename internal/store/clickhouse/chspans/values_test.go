package chspans

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// someTypes fills m with values of the types events and links carry through typed JSON
// (chattrs tests every type).
func someTypes(m pcommon.Map) {
	m.PutStr("z.str", "text with \"quotes\", \\ and ☃")
	m.PutInt("int", -42)
	m.PutDouble("nan", math.NaN())
	m.PutEmptyBytes("bytes").FromRaw([]byte{0, 1, 0xff})
	m.PutEmptyMap("map").PutEmptySlice("arr").AppendEmpty().SetDouble(1)
	m.PutEmpty("empty")
}

func TestEventsAndLinksRoundTrip(t *testing.T) {
	sp := ptrace.NewSpan()
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(123456789)
	someTypes(ev.Attributes())
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
