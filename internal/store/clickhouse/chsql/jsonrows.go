package chsql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// JSONFormat is the output format the chDB connection asks for and JSONRows decodes: a
// line of column names, a line of column types, then one JSON array per row.
const JSONFormat = "JSONCompactEachRowWithNamesAndTypes"

// JSONRows reads a result in JSONFormat. It is how the chDB connection returns rows, and
// it scans them as strictly as clickhouse-go does (a destination must have the Go type of
// its column: UInt64 into *uint64, not *int64), so that a store passing its tests on chDB
// does not fail on the native protocol with a type mismatch.
//
// ClickHouse writes String values as raw bytes, so values that are not UTF-8 do not
// survive JSON (they come back with U+FFFD). Select binary columns through hex().
type JSONRows struct {
	data  []byte
	names []string
	types []columnType
	cur   []any
	err   error
}

// NewJSONRows parses the header of data, a whole result in JSONFormat. Empty data (a
// statement without result) has no rows.
func NewJSONRows(data []byte) (*JSONRows, error) {
	r := &JSONRows{data: data}
	if len(bytes.TrimSpace(data)) == 0 {
		return r, nil
	}
	var types []string
	if err := r.header(&r.names); err != nil {
		return nil, err
	}
	if err := r.header(&types); err != nil {
		return nil, err
	}
	if len(types) != len(r.names) {
		return nil, fmt.Errorf("chsql: result header has %d names and %d types", len(r.names), len(types))
	}
	for _, t := range types {
		r.types = append(r.types, parseColumnType(t))
	}
	return r, nil
}

func (r *JSONRows) header(dst *[]string) error {
	line := r.line()
	if line == nil {
		return errors.New("chsql: result without header")
	}
	if err := json.Unmarshal(line, dst); err != nil {
		return fmt.Errorf("chsql: result header: %w", err)
	}
	return nil
}

// line returns the next non-empty line, or nil at the end.
func (r *JSONRows) line() []byte {
	for len(r.data) > 0 {
		line, rest, _ := bytes.Cut(r.data, []byte{'\n'})
		r.data = rest
		if len(bytes.TrimSpace(line)) > 0 {
			return line
		}
	}
	return nil
}

// Columns returns the names of the result's columns.
func (r *JSONRows) Columns() []string { return r.names }

// Next decodes the next row.
func (r *JSONRows) Next() bool {
	if r.err != nil {
		return false
	}
	line := r.line()
	if line == nil {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	r.cur = r.cur[:0]
	if err := d.Decode(&r.cur); err != nil {
		r.err = fmt.Errorf("chsql: result row: %w", err)
		return false
	}
	if len(r.cur) != len(r.types) {
		r.err = fmt.Errorf("chsql: result row has %d values for %d columns", len(r.cur), len(r.types))
		return false
	}
	return true
}

// Scan copies the current row into dest; see Rows.Scan.
func (r *JSONRows) Scan(dest ...any) error {
	if len(dest) != len(r.cur) {
		return fmt.Errorf("chsql: scan: %d destinations for %d columns", len(dest), len(r.cur))
	}
	for i, d := range dest {
		if err := scanValue(r.types[i], r.cur[i], d); err != nil {
			return fmt.Errorf("chsql: scan column %s: %w", r.names[i], err)
		}
	}
	return nil
}

// Err returns the error that ended Next.
func (r *JSONRows) Err() error { return r.err }

// Close releases the rows.
func (r *JSONRows) Close() error {
	r.data, r.cur = nil, nil
	return nil
}

// columnType is a column's type with LowCardinality removed: its name ("Array", "UInt64",
// "DateTime64"), its arguments and, for Array and Map, the element types.
type columnType struct {
	full string
	name string
	args []string
	elem []columnType
}

func parseColumnType(t string) columnType {
	t = strings.TrimSpace(t)
	name, args, ok := strings.Cut(t, "(")
	if !ok || !strings.HasSuffix(args, ")") {
		return columnType{full: t, name: t}
	}
	args = args[:len(args)-1]
	if name == "LowCardinality" {
		return parseColumnType(args)
	}
	ct := columnType{full: t, name: name, args: splitTypeArgs(args)}
	if name == "Array" || name == "Map" {
		for _, a := range ct.args {
			ct.elem = append(ct.elem, parseColumnType(a))
		}
	}
	return ct
}

// splitTypeArgs splits "String, Array(UInt8), 'a,b'" at the top-level commas.
func splitTypeArgs(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

func (t columnType) isString() bool {
	return t.name == "String" || t.name == "FixedString" || t.name == "Enum8" || t.name == "Enum16"
}

// scanValue stores v, a value of column type t decoded from JSON, into dest.
func scanValue(t columnType, v any, dest any) error {
	if v == nil {
		return fmt.Errorf("NULL in column of type %s (Nullable columns are not supported: select coalesce(col, default))", t.full)
	}
	mismatch := func() error { return fmt.Errorf("cannot scan %s into %T", t.full, dest) }
	switch d := dest.(type) {
	case *string:
		s, ok := v.(string)
		if !t.isString() || !ok {
			return mismatch()
		}
		*d = s
	case *bool:
		b, ok := v.(bool)
		if t.name != "Bool" || !ok {
			return mismatch()
		}
		*d = b
	case *int8:
		return scanInt(t, "Int8", v, 8, func(n int64) { *d = int8(n) })
	case *int16:
		return scanInt(t, "Int16", v, 16, func(n int64) { *d = int16(n) })
	case *int32:
		return scanInt(t, "Int32", v, 32, func(n int64) { *d = int32(n) })
	case *int64:
		return scanInt(t, "Int64", v, 64, func(n int64) { *d = n })
	case *uint8:
		return scanUint(t, "UInt8", v, 8, func(n uint64) { *d = uint8(n) })
	case *uint16:
		return scanUint(t, "UInt16", v, 16, func(n uint64) { *d = uint16(n) })
	case *uint32:
		return scanUint(t, "UInt32", v, 32, func(n uint64) { *d = uint32(n) })
	case *uint64:
		return scanUint(t, "UInt64", v, 64, func(n uint64) { *d = n })
	case *float64:
		if t.name != "Float64" {
			return mismatch()
		}
		f, err := jsonFloat(v)
		if err != nil {
			return err
		}
		*d = f
	case *float32:
		if t.name != "Float32" {
			return mismatch()
		}
		f, err := jsonFloat(v)
		if err != nil {
			return err
		}
		*d = float32(f)
	case *time.Time:
		s, ok := v.(string)
		if !ok {
			return mismatch()
		}
		tm, err := parseTime(t, s)
		if err != nil {
			return err
		}
		*d = tm
	case *[]string:
		return scanArray(t, v, dest, d, func(e columnType) bool { return e.isString() })
	case *[]int64:
		return scanArray(t, v, dest, d, func(e columnType) bool { return e.name == "Int64" })
	case *[]uint64:
		return scanArray(t, v, dest, d, func(e columnType) bool { return e.name == "UInt64" })
	case *[]float64:
		return scanArray(t, v, dest, d, func(e columnType) bool { return e.name == "Float64" })
	case *map[string]string:
		m, ok := v.(map[string]any)
		if t.name != "Map" || len(t.elem) != 2 || !t.elem[0].isString() || !t.elem[1].isString() || !ok {
			return mismatch()
		}
		out := make(map[string]string, len(m))
		for k, e := range m {
			s, ok := e.(string)
			if !ok {
				return mismatch()
			}
			out[k] = s
		}
		*d = out
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return nil
}

func scanArray[T any](t columnType, v any, dest any, d *[]T, elemOK func(columnType) bool) error {
	arr, ok := v.([]any)
	if t.name != "Array" || len(t.elem) != 1 || !elemOK(t.elem[0]) || !ok {
		return fmt.Errorf("cannot scan %s into %T", t.full, dest)
	}
	out := make([]T, len(arr))
	for i, e := range arr {
		if err := scanValue(t.elem[0], e, &out[i]); err != nil {
			return err
		}
	}
	*d = out
	return nil
}

// jsonNumberText returns the text of a JSON number, which ClickHouse may quote (64-bit
// integers with output_format_json_quote_64bit_integers).
func jsonNumberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case string:
		return n, true
	}
	return "", false
}

func scanInt(t columnType, want string, v any, bits int, set func(int64)) error {
	s, ok := jsonNumberText(v)
	if t.name != want || !ok {
		return fmt.Errorf("cannot scan %s into a %d-bit int (want %s)", t.full, bits, want)
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return err
	}
	set(n)
	return nil
}

func scanUint(t columnType, want string, v any, bits int, set func(uint64)) error {
	s, ok := jsonNumberText(v)
	if t.name != want || !ok {
		return fmt.Errorf("cannot scan %s into a %d-bit uint (want %s)", t.full, bits, want)
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return err
	}
	set(n)
	return nil
}

// jsonFloat reads a float, which ClickHouse writes as a number, or as "nan"/"inf"/"-inf"
// with output_format_json_quote_denormals.
func jsonFloat(v any) (float64, error) {
	s, ok := jsonNumberText(v)
	if !ok {
		return 0, fmt.Errorf("not a number: %v", v)
	}
	switch s {
	case "nan", "-nan":
		return math.NaN(), nil
	case "inf", "+inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

// parseTime reads Date, Date32, DateTime and DateTime64 text, in the column's time zone
// when its type names one and in UTC otherwise (the chDB session's time zone).
func parseTime(t columnType, s string) (time.Time, error) {
	loc := time.UTC
	var tz string
	switch t.name {
	case "Date", "Date32":
		return time.ParseInLocation("2006-01-02", s, loc)
	case "DateTime":
		if len(t.args) == 1 {
			tz = t.args[0]
		}
	case "DateTime64":
		if len(t.args) == 2 {
			tz = t.args[1]
		}
	default:
		return time.Time{}, fmt.Errorf("cannot scan %s into *time.Time", t.full)
	}
	if tz = strings.Trim(tz, "'"); tz != "" && tz != "UTC" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return time.Time{}, fmt.Errorf("column time zone: %w", err)
		}
		loc = l
	}
	return time.ParseInLocation("2006-01-02 15:04:05.999999999", s, loc)
}
