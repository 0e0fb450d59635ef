package chsql

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chdbOutput is what chDB printed for a table of these types (JSONFormat).
const chdbOutput = `["a", "b", "c", "d", "m", "s", "e", "bo", "dt"]
["DateTime64(9, 'UTC')", "UInt64", "Int64", "Float64", "Map(LowCardinality(String), String)", "Array(LowCardinality(String))", "Int8", "Bool", "DateTime64(3, 'Europe/Paris')"]
["2026-11-18 00:00:00.000001234", 18446744073709551615, "-5", "nan", {"k":"v","q'":"x"}, ["a","b"], -3, true, "2026-11-18 01:00:00.000"]
`

func TestJSONRows(t *testing.T) {
	r, err := NewJSONRows([]byte(chdbOutput))
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d", "m", "s", "e", "bo", "dt"}, r.Columns())
	require.True(t, r.Next())
	var (
		a, dt time.Time
		b     uint64
		c     int64
		d     float64
		m     map[string]string
		s     []string
		e     int8
		bo    bool
	)
	require.NoError(t, r.Scan(&a, &b, &c, &d, &m, &s, &e, &bo, &dt))
	require.Equal(t, time.Date(2026, 11, 18, 0, 0, 0, 1234, time.UTC), a)
	require.Equal(t, uint64(math.MaxUint64), b)
	require.Equal(t, int64(-5), c)
	require.True(t, math.IsNaN(d))
	require.Equal(t, map[string]string{"k": "v", "q'": "x"}, m)
	require.Equal(t, []string{"a", "b"}, s)
	require.Equal(t, int8(-3), e)
	require.True(t, bo)
	require.True(t, time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC).Equal(dt), dt)
	require.False(t, r.Next())
	require.NoError(t, r.Err())

	empty, err := NewJSONRows(nil)
	require.NoError(t, err)
	require.False(t, empty.Next())
}

func TestJSONRowsMismatch(t *testing.T) {
	f := func(typ, val string, dest any, msg string) {
		t.Helper()
		r, err := NewJSONRows([]byte("[\"x\"]\n[\"" + typ + "\"]\n[" + val + "]\n"))
		require.NoError(t, err)
		require.True(t, r.Next())
		require.ErrorContains(t, r.Scan(dest), msg)
	}
	f("UInt64", "1", new(int64), "want Int64")
	f("Int32", "1", new(int64), "want Int64")
	f("UInt8", "300", new(uint8), "out of range")
	f("String", "1", new(int64), "want Int64")
	f("Int64", "1", new(string), "cannot scan Int64 into *string")
	f("Nullable(String)", "null", new(string), "Nullable")
	f("Map(String, UInt64)", "{}", new(map[string]string), "cannot scan")
	f("Array(UInt64)", "[1]", new([]int64), "cannot scan")
	f("String", `"x"`, new(struct{}), "unsupported destination")

	_, err := NewJSONRows([]byte("[\"a\"]\n"))
	require.ErrorContains(t, err, "header")
	r, err := NewJSONRows([]byte("[\"a\"]\n[\"UInt8\"]\n[1, 2]\n"))
	require.NoError(t, err)
	require.False(t, r.Next())
	require.ErrorContains(t, r.Err(), "2 values for 1 columns")
}

// FuzzJSONRows feeds arbitrary results to the decoder: it may refuse them, never panic, and
// it reads those the reference decoder (the one it replaced) accepts into the same values.
func FuzzJSONRows(f *testing.F) {
	f.Add([]byte(chdbOutput))
	f.Add([]byte("[\"a\"]\n[\"Array(Map(LowCardinality(String), String))\"]\n[[{\"k\":\"v\"}]]\n"))
	f.Add([]byte("[\"a\",\"b\"]\n[\"Enum8('x' = 1, 'y,z' = 2)\", \"DateTime('Europe/Paris')\"]\n[\"x\", \"2026-01-01 00:00:00\"]\n"))
	for _, in := range diffInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareDecoders(t, data)
	})
}
