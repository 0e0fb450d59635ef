package chsql

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// String returns s as a ClickHouse string literal. Besides the quote and the backslash it
// escapes control bytes and bytes that are not valid UTF-8 as \xHH, so that the statement
// stays valid UTF-8 text and never holds a NUL (chDB passes statements as C strings). Every
// byte of s comes back from ClickHouse unchanged (FuzzStringRoundTrip proves it on chDB).
func String(s string) string {
	return string(appendString(make([]byte, 0, len(s)+2), s))
}

func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '\'')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
		}
	}
	return append(b, '\'')
}

// Ident returns name as a backquoted identifier (a table, column or database name), so
// that names with dots, dashes or reserved words are safe.
func Ident(name string) string {
	var b strings.Builder
	b.WriteByte('`')
	for _, c := range []byte(name) {
		if c == '`' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('`')
	return b.String()
}

// timeLayout is how DateTime64(9) values are written: UTC, nanoseconds always present.
const timeLayout = "2006-01-02 15:04:05.000000000"

// TableName quotes a table name that may be qualified by its database ("db.table").
func TableName(table string) string {
	if db, name, ok := strings.Cut(table, "."); ok {
		return Ident(db) + "." + Ident(name)
	}
	return Ident(table)
}

// The range of DateTime64(9): ClickHouse refuses a literal outside it (DECIMAL_OVERFLOW).
var (
	MinDateTime64 = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxDateTime64 = time.Unix(0, math.MaxInt64).UTC() // 2262-04-11 23:47:16.854775807
)

// DateTime64 returns t as a DateTime64(9, 'UTC') expression, for comparisons with time
// columns in WHERE clauses. Times outside DateTime64(9)'s range are clamped to it, so that
// a query bound such as "until year 9999" works; no stored time lies beyond the range.
func DateTime64(t time.Time) string {
	if t.Before(MinDateTime64) {
		t = MinDateTime64
	} else if t.After(MaxDateTime64) {
		t = MaxDateTime64
	}
	return "toDateTime64('" + t.UTC().Format(timeLayout) + "', 9, 'UTC')"
}

// Array returns an array literal of the quoted elements, e.g. ['a','b'] or [1,2].
func Array[T any](elems []T) (string, error) {
	b := []byte{'['}
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendValue(b, e); err != nil {
			return "", err
		}
	}
	return string(append(b, ']')), nil
}

// Map returns a map(k1, v1, ...) expression of a string map, keys sorted so that the same
// map always gives the same text.
func Map(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := []byte("map(")
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ',')
		b = appendString(b, m[k])
	}
	return string(append(b, ')'))
}

// Value returns v (one of the Go types Conn.Insert accepts) as a literal for the Values
// input format of INSERT, which is also a valid SQL expression except for maps, written
// {'k':'v'} as that format wants. Times are written as UTC text: the time columns they go
// into must be declared DateTime64(9, 'UTC').
func Value(v any) (string, error) {
	b, err := appendValue(nil, v)
	return string(b), err
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case float32:
		return appendFloat(b, float64(v)), nil
	case float64:
		return appendFloat(b, v), nil
	case time.Time:
		b = append(b, '\'')
		b = v.UTC().AppendFormat(b, timeLayout)
		return append(b, '\''), nil
	case []string:
		return appendSlice(b, v)
	case []int64:
		return appendSlice(b, v)
	case []uint64:
		return appendSlice(b, v)
	case []float64:
		return appendSlice(b, v)
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, v[k])
		}
		return append(b, '}'), nil
	default:
		return b, fmt.Errorf("chsql: cannot write a value of type %T", v)
	}
}

func appendSlice[T any](b []byte, s []T) ([]byte, error) {
	b = append(b, '[')
	for i, e := range s {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendValue(b, e); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// appendFloat writes a float as ClickHouse reads it back exactly: shortest round-trip
// digits, and nan/inf/-inf for the special values.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "nan"...)
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// InsertValues renders rows as one INSERT ... VALUES statement, for connections without a
// binary insert path (chDB). See Conn.Insert for the accepted types.
func InsertValues(table string, cols []string, rows [][]any) (string, error) {
	b := make([]byte, 0, 64+len(rows)*64*max(1, len(cols)))
	b = append(b, "INSERT INTO "...)
	b = append(b, TableName(table)...)
	b = append(b, " ("...)
	for i, c := range cols {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, Ident(c)...)
	}
	b = append(b, ") VALUES "...)
	for i, row := range rows {
		if len(row) != len(cols) {
			return "", fmt.Errorf("chsql: insert into %s: row %d has %d values for %d columns", table, i, len(row), len(cols))
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '(')
		for j, v := range row {
			if j > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, v); err != nil {
				return "", fmt.Errorf("chsql: insert into %s: row %d column %s: %w", table, i, cols[j], err)
			}
		}
		b = append(b, ')')
	}
	return string(b), nil
}
