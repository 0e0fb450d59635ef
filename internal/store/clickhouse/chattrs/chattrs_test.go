package chattrs

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
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

func TestJoinInto(t *testing.T) {
	m := pcommon.NewMap()
	allTypes(m)
	keys, vals, types := Split(m)
	require.Equal(t, "siiddddbjjjns", types)
	require.Equal(t, []string{"text with \"quotes\", \\ and ☃", "-42", "9223372036854775807", "3.25", "2.0", "NaN", "-Inf",
		"true", `{"@bytes":"AAH/"}`, `[1,1.0,{"@double":"+Inf"}]`, `{"inner":"v","deeper":{"b":{"@bytes":""}}}`, "", "empty key"}, vals,
		"the string forms filters compare")
	got := pcommon.NewMap()
	require.NoError(t, JoinInto(keys, vals, types, got))
	require.Equal(t, m.AsRaw()["z.str"], got.AsRaw()["z.str"])
	// NaN != NaN, so compare the typed JSON of both maps, which spells NaN out.
	require.Equal(t, string(AppendMapJSON(nil, m)), string(AppendMapJSON(nil, got)))
	var order []string
	got.Range(func(k string, _ pcommon.Value) bool { order = append(order, k); return true })
	require.Equal(t, keys, order, "order kept")

	empty, ev, et := Split(pcommon.NewMap())
	require.Empty(t, empty)
	require.Empty(t, ev)
	require.Empty(t, et)

	require.ErrorContains(t, JoinInto([]string{"a"}, []string{"x"}, "i", pcommon.NewMap()), `decode attribute "a"`)
	require.ErrorContains(t, JoinInto([]string{"a"}, []string{"x"}, "q", pcommon.NewMap()), "unknown type")
	require.ErrorContains(t, JoinInto([]string{"a"}, nil, "s", pcommon.NewMap()), "1 keys, 0 values")
}

func TestJoin(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("s", "x\"y")
	m.PutInt("i", -7)
	m.PutDouble("d", 2)
	m.PutDouble("nan", math.NaN())
	m.PutBool("b", false)
	m.PutEmpty("e")
	m.PutEmptyBytes("y").FromRaw([]byte{0, 255})
	arr := m.PutEmptySlice("arr")
	arr.AppendEmpty().SetInt(1)
	arr.AppendEmpty().SetDouble(1.5)
	arr.AppendEmpty().SetDouble(math.Inf(-1))
	m.PutEmptyMap("m").PutEmptyBytes("raw").FromRaw([]byte("hi"))

	keys, vals, types := Split(m)
	require.Equal(t, "siddbnjjj", types)
	require.Equal(t, []string{"x\"y", "-7", "2.0", "NaN", "false", "", `{"@bytes":"AP8="}`,
		`[1,1.5,{"@double":"-Inf"}]`, `{"raw":{"@bytes":"aGk="}}`}, vals)
	got, err := Join(keys, vals, types)
	require.NoError(t, err)
	require.True(t, math.IsNaN(got["nan"].(float64)))
	delete(got, "nan")
	require.Equal(t, map[string]any{
		"s": "x\"y", "i": int64(-7), "d": 2.0, "b": false, "e": nil, "y": "AP8=",
		"arr": []any{int64(1), 1.5, math.Inf(-1)}, "m": map[string]any{"raw": "aGk="},
	}, got)

	_, err = Join([]string{"a"}, []string{"1"}, "q")
	require.ErrorContains(t, err, "unknown type letter")
	_, err = Join([]string{"a"}, []string{"1", "2"}, "ii")
	require.Error(t, err)
}
