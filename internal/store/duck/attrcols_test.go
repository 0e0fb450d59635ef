package duck

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestAttrColsRoundTrip(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("s", "plain ☃ \"quoted\" \\ \n")
	m.PutStr("sep", "a\x1fb")
	m.PutStr("nul", "a\x00b")
	m.PutStr("bad utf8", "\xff")
	m.PutStr("", "empty key")
	m.PutStr("key\x1fwith sep", "v")
	m.PutStr(`"quoted key"`, "v")
	m.PutInt("i", math.MinInt64)
	m.PutDouble("d", 1e21)
	m.PutDouble("whole", -3)
	m.PutDouble("nan", math.NaN())
	m.PutDouble("inf", math.Inf(-1))
	m.PutBool("b", false)
	m.PutEmptyBytes("bytes").FromRaw([]byte("\x00\x1f"))
	m.PutEmptySlice("list").AppendEmpty().SetEmptyMap().PutInt("x", 1)
	m.PutEmpty("empty")
	keys, vals := appendAttrCols(nil, nil, m)
	require.NotContains(t, string(keys)+string(vals), "\x00", "DuckDB takes C strings")

	got := pcommon.NewMap()
	require.NoError(t, decodeAttrCols(string(keys), string(vals), got))
	require.Equal(t, m.Len(), got.Len())
	var wantKeys, gotKeys []string
	for k := range m.All() {
		wantKeys = append(wantKeys, k)
	}
	for k := range got.All() {
		gotKeys = append(gotKeys, k)
	}
	require.Equal(t, wantKeys, gotKeys, "keys in order")
	for k, want := range m.All() {
		have, ok := got.Get(k)
		require.True(t, ok, k)
		require.Equal(t, want.Type(), have.Type(), k)
		switch k {
		case "nan":
			require.True(t, math.IsNaN(have.Double()))
		case "bad utf8":
			require.Equal(t, "\ufffd", have.Str(), "invalid UTF-8 is replaced")
		default:
			require.Equal(t, want.AsRaw(), have.AsRaw(), k)
		}
	}
}

func TestAttrColsEmpty(t *testing.T) {
	keys, vals := appendAttrCols(nil, nil, pcommon.NewMap())
	require.Empty(t, keys)
	require.Empty(t, vals)
	m := pcommon.NewMap()
	require.NoError(t, decodeAttrCols("", "", m))
	require.Zero(t, m.Len())

	one := pcommon.NewMap()
	one.PutStr("", "")
	keys, vals = appendAttrCols(nil, nil, one)
	require.NoError(t, decodeAttrCols(string(keys), string(vals), m))
	require.Equal(t, map[string]any{"": ""}, m.AsRaw(), "one empty key is not an empty map")
}

func TestAttrColsBadInput(t *testing.T) {
	m := pcommon.NewMap()
	require.ErrorContains(t, decodeAttrCols("a\x1fb", "s1", m), "1 values for 2 keys")
	require.ErrorContains(t, decodeAttrCols("a", "x1", m), "unknown type")
	require.ErrorContains(t, decodeAttrCols("a", "inot-a-number", m), `key "a"`)
}

// FuzzDecodeAttrCols checks that stored attribute text never crashes the decoder and that
// whatever decodes re-encodes stably.
func FuzzDecodeAttrCols(f *testing.F) {
	f.Add("a\x1fb", "s1\x1fi2")
	f.Add(`"k"`, "d1.5")
	f.Add("", "")
	f.Add("x", "j[1,{\"@bytes\":\"AAE=\"}]")
	f.Add("x", "n")
	f.Fuzz(func(t *testing.T, keys, vals string) {
		m := pcommon.NewMap()
		if err := decodeAttrCols(keys, vals, m); err != nil {
			return
		}
		k1, v1 := appendAttrCols(nil, nil, m)
		again := pcommon.NewMap()
		if err := decodeAttrCols(string(k1), string(v1), again); err != nil {
			t.Fatalf("decode of re-encoded %q %q: %v", k1, v1, err)
		}
		k2, v2 := appendAttrCols(nil, nil, again)
		if string(k1) != string(k2) || string(v1) != string(v2) {
			t.Fatalf("not stable: %q %q -> %q %q", k1, v1, k2, v2)
		}
		if strings.ContainsRune(string(k1)+string(v1), 0) {
			t.Fatalf("NUL in stored text %q %q", k1, v1)
		}
	})
}
