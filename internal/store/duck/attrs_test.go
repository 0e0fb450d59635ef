package duck

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestAttrsJSONRoundTrip(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("s", "a\"b\\c\n\x01\u2028 ☃ \xff")
	m.PutInt("i", math.MinInt64)
	m.PutDouble("d", 1e21)
	m.PutDouble("whole", -3)
	m.PutDouble("nan", math.NaN())
	m.PutDouble("inf", math.Inf(-1))
	m.PutBool("b", true)
	m.PutEmptyBytes("bytes").FromRaw([]byte("\x00\x01"))
	m.PutEmptySlice("list").AppendEmpty().SetEmptyMap().PutInt("x", 1)
	m.PutEmpty("empty")
	buf := appendMapJSON(nil, m)
	require.True(t, json.Valid(buf), "%s", buf)

	got := pcommon.NewMap()
	require.NoError(t, decodeMapJSON(string(buf), got))
	require.Equal(t, m.Len(), got.Len())
	s, _ := got.Get("s")
	require.Equal(t, "a\"b\\c\n\x01\u2028 ☃ \ufffd", s.Str(), "invalid UTF-8 is replaced")
	for _, k := range []string{"i", "d", "whole", "inf", "b", "bytes", "list", "empty"} {
		want, _ := m.Get(k)
		have, ok := got.Get(k)
		require.True(t, ok, k)
		require.Equal(t, want.Type(), have.Type(), k)
		require.Equal(t, want.AsRaw(), have.AsRaw(), k)
	}
	nan, _ := got.Get("nan")
	require.True(t, math.IsNaN(nan.Double()))
}

func TestJSONPointer(t *testing.T) {
	require.Equal(t, "/a.b", jsonPointer("a.b"))
	require.Equal(t, "/a~1b~0c", jsonPointer("a/b~c"))
}

// FuzzDecodeMapJSON checks that stored attribute text never crashes the decoder, and that
// whatever decodes re-encodes to valid JSON that decodes to the same thing.
func FuzzDecodeMapJSON(f *testing.F) {
	f.Add(`{"a":1,"b":1.5,"c":"x","d":[true,null],"e":{"@bytes":"AAE="}}`)
	f.Add(`{"@double":"NaN"}`)
	f.Add(`{}`)
	f.Add(`null`)
	f.Add(`[1]`)
	f.Add(`{"a":1e400}`)
	f.Fuzz(func(t *testing.T, s string) {
		m := pcommon.NewMap()
		if err := decodeMapJSON(s, m); err != nil {
			return
		}
		buf := appendMapJSON(nil, m)
		if !json.Valid(buf) {
			t.Fatalf("re-encoded %q to invalid JSON %q", s, buf)
		}
		again := pcommon.NewMap()
		if err := decodeMapJSON(string(buf), again); err != nil {
			t.Fatalf("decode of re-encoded %q: %v", buf, err)
		}
		if string(appendMapJSON(nil, again)) != string(buf) {
			t.Fatalf("not stable: %q -> %q", buf, appendMapJSON(nil, again))
		}
	})
}
