package chsql

// The decoder JSONRows replaced (a json.Decoder per row, numbers as json.Number), kept as
// the reference of the differential tests and of BenchmarkJSONRows: the new one must read
// every result this one accepts into the same values, and fail the same scans.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// refJSONRows reads a result in JSONFormat. It is how the chDB connection returns rows, and
// it scans them as strictly as clickhouse-go does (a destination must have the Go type of
// its column: UInt64 into *uint64, not *int64), so that a store passing its tests on chDB
// does not fail on the native protocol with a type mismatch.
//
// ClickHouse writes String values as raw bytes, so values that are not UTF-8 do not
// survive JSON (they come back with U+FFFD). Select binary columns through hex().
type refJSONRows struct {
	data  []byte
	names []string
	types []columnType
	cur   []any
	err   error
}

// newRefJSONRows parses the header of data, a whole result in JSONFormat. Empty data (a
// statement without result) has no rows.
func newRefJSONRows(data []byte) (*refJSONRows, error) {
	r := &refJSONRows{data: data}
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

func (r *refJSONRows) header(dst *[]string) error {
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
func (r *refJSONRows) line() []byte {
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
func (r *refJSONRows) Columns() []string { return r.names }

// Next decodes the next row.
func (r *refJSONRows) Next() bool {
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
func (r *refJSONRows) Scan(dest ...any) error {
	if len(dest) != len(r.cur) {
		return fmt.Errorf("chsql: scan: %d destinations for %d columns", len(dest), len(r.cur))
	}
	for i, d := range dest {
		if err := refScanValue(r.types[i], r.cur[i], d); err != nil {
			return fmt.Errorf("chsql: scan column %s: %w", r.names[i], err)
		}
	}
	return nil
}

// Err returns the error that ended Next.
func (r *refJSONRows) Err() error { return r.err }

// Close releases the rows.
func (r *refJSONRows) Close() error {
	r.data, r.cur = nil, nil
	return nil
}

// refScanValue stores v, a value of column type t decoded from JSON, into dest.
func refScanValue(t columnType, v any, dest any) error {
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
		return refScanInt(t, "Int8", v, 8, func(n int64) { *d = int8(n) })
	case *int16:
		return refScanInt(t, "Int16", v, 16, func(n int64) { *d = int16(n) })
	case *int32:
		return refScanInt(t, "Int32", v, 32, func(n int64) { *d = int32(n) })
	case *int64:
		return refScanInt(t, "Int64", v, 64, func(n int64) { *d = n })
	case *uint8:
		return refScanUint(t, "UInt8", v, 8, func(n uint64) { *d = uint8(n) })
	case *uint16:
		return refScanUint(t, "UInt16", v, 16, func(n uint64) { *d = uint16(n) })
	case *uint32:
		return refScanUint(t, "UInt32", v, 32, func(n uint64) { *d = uint32(n) })
	case *uint64:
		return refScanUint(t, "UInt64", v, 64, func(n uint64) { *d = n })
	case *float64:
		if t.name != "Float64" {
			return mismatch()
		}
		f, err := refJSONFloat(v)
		if err != nil {
			return err
		}
		*d = f
	case *float32:
		if t.name != "Float32" {
			return mismatch()
		}
		f, err := refJSONFloat(v)
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
		return refScanArray(t, v, dest, d, func(e columnType) bool { return e.isString() })
	case *[]int64:
		return refScanArray(t, v, dest, d, func(e columnType) bool { return e.name == "Int64" })
	case *[]uint64:
		return refScanArray(t, v, dest, d, func(e columnType) bool { return e.name == "UInt64" })
	case *[]float64:
		return refScanArray(t, v, dest, d, func(e columnType) bool { return e.name == "Float64" })
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

func refScanArray[T any](t columnType, v any, dest any, d *[]T, elemOK func(columnType) bool) error {
	arr, ok := v.([]any)
	if t.name != "Array" || len(t.elem) != 1 || !elemOK(t.elem[0]) || !ok {
		return fmt.Errorf("cannot scan %s into %T", t.full, dest)
	}
	out := make([]T, len(arr))
	for i, e := range arr {
		if err := refScanValue(t.elem[0], e, &out[i]); err != nil {
			return err
		}
	}
	*d = out
	return nil
}

// refJSONNumberText returns the text of a JSON number, which ClickHouse may quote (64-bit
// integers with output_format_json_quote_64bit_integers).
func refJSONNumberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case string:
		return n, true
	}
	return "", false
}

func refScanInt(t columnType, want string, v any, bits int, set func(int64)) error {
	s, ok := refJSONNumberText(v)
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

func refScanUint(t columnType, want string, v any, bits int, set func(uint64)) error {
	s, ok := refJSONNumberText(v)
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

// refJSONFloat reads a float, which ClickHouse writes as a number, or as "nan"/"inf"/"-inf"
// with output_format_json_quote_denormals.
func refJSONFloat(v any) (float64, error) {
	s, ok := refJSONNumberText(v)
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
