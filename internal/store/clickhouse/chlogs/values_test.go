package chlogs

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestAttrsRoundTrip(t *testing.T) {
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

	keys, vals, types := splitAttrs(m)
	require.Equal(t, "siddbnjjj", types)
	require.Equal(t, []string{"x\"y", "-7", "2.0", "NaN", "false", "", `{"@bytes":"AP8="}`,
		`[1,1.5,{"@double":"-Inf"}]`, `{"raw":{"@bytes":"aGk="}}`}, vals)
	got, err := joinAttrs(keys, vals, types)
	require.NoError(t, err)
	require.True(t, math.IsNaN(got["nan"].(float64)))
	delete(got, "nan")
	require.Equal(t, map[string]any{
		"s": "x\"y", "i": int64(-7), "d": 2.0, "b": false, "e": nil, "y": "AP8=",
		"arr": []any{int64(1), 1.5, math.Inf(-1)}, "m": map[string]any{"raw": "aGk="},
	}, got)

	_, err = joinAttrs([]string{"a"}, []string{"1"}, "q")
	require.ErrorContains(t, err, "unknown type letter")
	_, err = joinAttrs([]string{"a"}, []string{"1", "2"}, "ii")
	require.Error(t, err)
}
