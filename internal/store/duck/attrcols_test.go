package duck

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

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

// plainTextRef is plainText as first written: the definition the fast version must match.
func plainTextRef(s string) bool {
	return !strings.ContainsAny(s, "\x00\x1f") && utf8.ValidString(s)
}

func TestPlainTextMatchesDefinition(t *testing.T) {
	// Every length around the 8-byte words, with each kind of byte at each position.
	specials := []string{"\x00", "\x1f", "\x1e", "\x20", "\x7f", "\x80", "\xff", "é", "☃", "😀",
		"\xe2\x98", "\xed\xa0\x80" /* surrogate */, "\xc0\xaf" /* overlong */}
	for n := 0; n <= 24; n++ {
		base := strings.Repeat("a", n)
		require.Equal(t, plainTextRef(base), plainText(base), "%q", base)
		for pos := 0; pos <= n; pos++ {
			for _, sp := range specials {
				s := base[:pos] + sp + base[pos:]
				require.Equal(t, plainTextRef(s), plainText(s), "%q", s)
				s = base[:pos] + sp + base[pos:] + sp
				require.Equal(t, plainTextRef(s), plainText(s), "%q", s)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', 'z', 0, 0x1f, 0x9f, 0xdf, 0x80, 0xbf, 0xc3, 0xa9, 0xe2, 0x98, 0x83, 0xf0, 0x9f, 0x98, 0x80, 0xff}
	for range 200_000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
			if rng.IntN(4) > 0 {
				b[i] = 'a' + byte(rng.IntN(26))
			}
		}
		require.Equal(t, plainTextRef(string(b)), plainText(string(b)), "%q", b)
	}
}

func FuzzPlainText(f *testing.F) {
	f.Add("plain text of some length")
	f.Add("a\x1fb")
	f.Add("☃\x00")
	f.Fuzz(func(t *testing.T, s string) {
		if plainTextRef(s) != plainText(s) {
			t.Fatalf("plainText(%q) = %v", s, plainText(s))
		}
	})
}
