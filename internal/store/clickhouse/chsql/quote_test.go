package chsql

import (
	"math"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestQuoting(t *testing.T) {
	f := func(got, want string) {
		t.Helper()
		require.Equal(t, want, got)
	}
	f(String(""), `''`)
	f(String("it's"), `'it\'s'`)
	f(String(`a\b`), `'a\\b'`)
	f(String("a\x00b\nc\x7f"), `'a\x00b\x0ac\x7f'`)
	f(String("☃\xff"), `'☃\xff'`)
	f(Ident("service.name"), "`service.name`")
	f(Ident("a`b\\"), "`a\\`b\\\\`")
	f(TableName("db.logs"), "`db`.`logs`")
	f(TableName("logs"), "`logs`")
	f(DateTime64(time.Date(2026, 11, 18, 1, 2, 3, 4, time.FixedZone("x", 3600))), "toDateTime64('2026-11-18 00:02:03.000000004', 9, 'UTC')")
	f(DateTime64(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), "toDateTime64('2262-04-11 23:47:16.854775807', 9, 'UTC')")
	f(DateTime64(time.Time{}), "toDateTime64('1900-01-01 00:00:00.000000000', 9, 'UTC')")
	f(Map(map[string]string{"b": "2", "a": "'"}), `map('a','\'','b','2')`)
	a, err := Array([]string{"x", "y'"})
	require.NoError(t, err)
	f(a, `['x','y\'']`)
	a, err = Array([]float64{1.5, math.NaN(), math.Inf(1), math.Inf(-1), 1e300})
	require.NoError(t, err)
	f(a, `[1.5,nan,inf,-inf,1e+300]`)
	_, err = Array([]any{struct{}{}})
	require.ErrorContains(t, err, "cannot write")
}

func TestInsertValues(t *testing.T) {
	q, err := InsertValues("db.t", []string{"a", "b", "c", "d"}, [][]any{
		{"x", uint64(math.MaxUint64), time.Unix(0, 1).UTC(), map[string]string{"k": "v"}},
		{"", int8(-1), time.Unix(1, 0), map[string]string{}},
	})
	require.NoError(t, err)
	require.Equal(t, "INSERT INTO `db`.`t` (`a`, `b`, `c`, `d`) VALUES "+
		"('x',18446744073709551615,'1970-01-01 00:00:00.000000001',{'k':'v'}),"+
		"('',-1,'1970-01-01 00:00:01.000000000',{})", q)
	_, err = InsertValues("t", []string{"a"}, [][]any{{1, 2}})
	require.ErrorContains(t, err, "row 0 has 2 values for 1 columns")
}

// FuzzString checks what FuzzStringRoundTrip (build tag chdb) cannot see cheaply: the
// literal is valid UTF-8 without NUL and decodes back to the input by ClickHouse's rules.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "'", "\\", "\x00", "\xff", "☃", "\\x41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := String(s)
		require.True(t, utf8.ValidString(q))
		require.NotContains(t, q, "\x00")
		require.Equal(t, s, unquote(t, q))
	})
}

// unquote decodes the escapes String writes.
func unquote(t *testing.T, q string) string {
	require.True(t, len(q) >= 2 && q[0] == '\'' && q[len(q)-1] == '\'', q)
	var out []byte
	for i := 1; i < len(q)-1; i++ {
		c := q[i]
		require.NotEqual(t, byte('\''), c, "unescaped quote in %s", q)
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch q[i] {
		case 'x':
			var b byte
			for _, h := range q[i+1 : i+3] {
				b <<= 4
				switch {
				case h >= '0' && h <= '9':
					b |= byte(h - '0')
				default:
					b |= byte(h-'a') + 10
				}
			}
			out = append(out, b)
			i += 2
		default:
			out = append(out, q[i])
		}
	}
	return string(out)
}
