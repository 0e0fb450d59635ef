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
//
// Rows are read in one pass over the buffer (jsonscan.go) rather than by encoding/json,
// whose json.Decoder per row and json.Number per number made decoding a PromQL samples
// query's output a third of the query's CPU; what Scan returns, and which scans fail, are
// the same (jsonrows_diff_test.go compares both decoders).
type JSONRows struct {
	data  []byte
	names []string
	types []columnType
	cur   [][]byte // the text of each value of the current row
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

// Next checks the syntax of the next row and finds its values, which Scan parses.
func (r *JSONRows) Next() bool {
	if r.err != nil {
		return false
	}
	line := r.line()
	if line == nil {
		return false
	}
	if err := r.split(line); err != nil {
		r.err = fmt.Errorf("chsql: result row: %w", err)
		return false
	}
	if len(r.cur) != len(r.types) {
		r.err = fmt.Errorf("chsql: result row has %d values for %d columns", len(r.cur), len(r.types))
		return false
	}
	return true
}

// split sets r.cur to the values of the row in line, a JSON array. It reads the line as
// the json.Decoder per line before it did: what follows the array (or a null, a row
// without values) is ignored.
func (r *JSONRows) split(line []byte) error {
	r.cur = r.cur[:0]
	i := skipSpace(line, 0)
	if bytes.HasPrefix(line[i:], []byte("null")) {
		return nil
	}
	if i >= len(line) || line[i] != '[' {
		return jsonSyntax(i, "a row is not an array")
	}
	_, err := skipArray(line, i, 1, &r.cur)
	return err
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

// scanValue stores v, the JSON text of a value of column type t, into dest.
func scanValue(t columnType, v []byte, dest any) error {
	if string(v) == "null" {
		return fmt.Errorf("NULL in column of type %s (Nullable columns are not supported: select coalesce(col, default))", t.full)
	}
	if len(v) == 0 {
		return errors.New("empty value")
	}
	mismatch := func() error { return fmt.Errorf("cannot scan %s into %T", t.full, dest) }
	switch d := dest.(type) {
	case *string:
		if !t.isString() || v[0] != '"' {
			return mismatch()
		}
		*d = jsonString(v)
	case *bool:
		if t.name != "Bool" || v[0] != 't' && v[0] != 'f' {
			return mismatch()
		}
		*d = v[0] == 't'
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
		if v[0] != '"' {
			return mismatch()
		}
		tm, err := parseTime(t, jsonString(v))
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
		return scanMap(t, v, d, mismatch)
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return nil
}

func scanArray[T any](t columnType, v []byte, dest any, d *[]T, elemOK func(columnType) bool) error {
	if t.name != "Array" || len(t.elem) != 1 || !elemOK(t.elem[0]) || v[0] != '[' {
		return fmt.Errorf("cannot scan %s into %T", t.full, dest)
	}
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == ']' {
		*d = []T{}
		return nil
	}
	// Commas bound the number of elements (strings may hold more).
	out := make([]T, 0, bytes.Count(v, []byte{','})+1)
	for i < len(v) && v[i] != ']' {
		end, next, err := nextElem(v, i)
		if err != nil {
			return err
		}
		out = append(out, *new(T))
		if err := scanValue(t.elem[0], v[i:end], &out[len(out)-1]); err != nil {
			return err
		}
		i = next
	}
	*d = out
	return nil
}

// scanMap reads a Map(String, String). Of a repeated key the last value counts, as it did
// in the map[string]any encoding/json decoded.
func scanMap(t columnType, v []byte, d *map[string]string, mismatch func() error) error {
	if t.name != "Map" || len(t.elem) != 2 || !t.elem[0].isString() || !t.elem[1].isString() || v[0] != '{' {
		return mismatch()
	}
	out := make(map[string]string, bytes.Count(v, []byte{':'}))
	var notString map[string]bool
	for i := skipSpace(v, 1); i < len(v) && v[i] != '}'; {
		kEnd, err := skipString(v, i)
		if err != nil {
			return err
		}
		k := jsonString(v[i:kEnd])
		i = skipSpace(v, kEnd)
		if i >= len(v) || v[i] != ':' {
			return jsonSyntax(i, "expected :")
		}
		i = skipSpace(v, i+1)
		end, next, err := nextElem(v, i)
		if err != nil {
			return err
		}
		if e := v[i:end]; e[0] == '"' {
			out[k] = jsonString(e)
			delete(notString, k)
		} else {
			if notString == nil {
				notString = map[string]bool{}
			}
			notString[k] = true
			delete(out, k)
		}
		i = next
	}
	if len(notString) > 0 {
		return mismatch()
	}
	*d = out
	return nil
}

func scanInt(t columnType, want string, v []byte, bits int, set func(int64)) error {
	s, ok := numberText(v)
	if t.name != want || !ok {
		return fmt.Errorf("cannot scan %s into a %d-bit int (want %s)", t.full, bits, want)
	}
	n, err := parseInt(s, bits)
	if err != nil {
		return err
	}
	set(n)
	return nil
}

func scanUint(t columnType, want string, v []byte, bits int, set func(uint64)) error {
	s, ok := numberText(v)
	if t.name != want || !ok {
		return fmt.Errorf("cannot scan %s into a %d-bit uint (want %s)", t.full, bits, want)
	}
	n, err := parseUint(s, bits)
	if err != nil {
		return err
	}
	set(n)
	return nil
}

// jsonFloat reads a float, which ClickHouse writes as a number, or as "nan"/"inf"/"-inf"
// with output_format_json_quote_denormals.
func jsonFloat(v []byte) (float64, error) {
	s, ok := numberText(v)
	if !ok {
		return 0, fmt.Errorf("not a number: %v", jsonAny(v))
	}
	switch string(s) {
	case "nan", "-nan":
		return math.NaN(), nil
	case "inf", "+inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	}
	if f, ok := parseFloatFast(s); ok {
		return f, nil
	}
	return strconv.ParseFloat(string(s), 64)
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
