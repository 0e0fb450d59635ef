// Package chattrs is the attribute codec of the ClickHouse stores (chlogs, chspans): how an
// OTLP attribute map is stored and read back.
//
// Attribute maps are stored in two parts: a Map(LowCardinality(String), String) of each
// value's string form (what attribute filters compare and the Tempo tag APIs list, and
// what the bloom_filter skip indexes see), and a String of type letters, one per entry in
// map order, that says how to turn each string form back into its OTLP value:
//
//	s  string          i  int (decimal)        d  double (always a '.' or exponent, or NaN/+Inf/-Inf)
//	b  true/false      n  empty ("")           j  bytes, array or map, as typed JSON (below)
//
// These are the string forms of the embedded backend's attribute columns
// (store/duck/attrcols.go), so filters and tag values answer the same on every backend.
//
// Typed JSON (record bodies that are not strings, scope attributes, events, links, and the
// j values) is the embedded backend's encoding too (store/duck/attrs.go), ported here
// because importing that package would link DuckDB into the ClickHouse backend:
//
//	string -> "s"      int -> 12        double -> 1.5 or 2.0 (always a '.' or an exponent)
//	bool   -> true     bytes -> {"@bytes":"<base64>"}     NaN/±Inf -> {"@double":"NaN"}
//	array  -> [...]    map -> {...} (keys in insertion order)    empty -> null
package chattrs

import (
	"bytes"
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The keys of the one-key objects that typed JSON writes for bytes and for doubles JSON
// cannot spell (NaN, ±Inf).
const (
	TagBytes  = "@bytes"
	TagDouble = "@double"
)

// Split returns the keys, string forms and type letters of m, in m's order. An empty m
// gives empty (not nil) slices.
func Split(m pcommon.Map) (keys, vals []string, types string) {
	keys = make([]string, 0, m.Len())
	vals = make([]string, 0, m.Len())
	t := make([]byte, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		letter, s := StringForm(v)
		keys, vals, t = append(keys, k), append(vals, s), append(t, letter)
		return true
	})
	return keys, vals, string(t)
}

// StringForm returns v's type letter and string form.
func StringForm(v pcommon.Value) (byte, string) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return 's', v.Str()
	case pcommon.ValueTypeInt:
		return 'i', strconv.FormatInt(v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return 'd', string(AppendDouble(nil, v.Double()))
	case pcommon.ValueTypeBool:
		return 'b', strconv.FormatBool(v.Bool())
	case pcommon.ValueTypeEmpty:
		return 'n', ""
	}
	return 'j', string(AppendValueJSON(nil, v))
}

// AppendDouble writes f with a '.' or an exponent, so that it reads back as a double;
// NaN and infinities as strconv spells them.
func AppendDouble(buf []byte, f float64) []byte {
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
	if !bytes.ContainsAny(buf[start:], ".eEIN") {
		buf = append(buf, ".0"...)
	}
	return buf
}

// Join turns stored keys, string forms and type letters back into JSON-compatible
// values (what the logs API returns): ints as int64, doubles as float64, bytes as base64.
func Join(keys, vals []string, types string) (map[string]any, error) {
	if len(keys) != len(vals) || len(keys) != len(types) {
		return nil, fmt.Errorf("attributes: %d keys, %d values and %d types", len(keys), len(vals), len(types))
	}
	out := make(map[string]any, len(keys))
	for i, k := range keys {
		v, err := typedValue(types[i], vals[i])
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func typedValue(letter byte, s string) (any, error) {
	switch letter {
	case 's':
		return s, nil
	case 'i':
		return strconv.ParseInt(s, 10, 64)
	case 'd':
		return strconv.ParseFloat(s, 64)
	case 'b':
		return strconv.ParseBool(s)
	case 'n':
		return nil, nil
	case 'j':
		return DecodeJSON(s)
	}
	return nil, fmt.Errorf("unknown type letter %q", letter)
}

// JoinInto fills m from what Split returned, as OTLP values.
func JoinInto(keys, vals []string, types string, m pcommon.Map) error {
	if len(keys) != len(vals) || len(keys) != len(types) {
		return fmt.Errorf("decode attributes: %d keys, %d values, %d types", len(keys), len(vals), len(types))
	}
	m.EnsureCapacity(len(keys))
	for i, k := range keys {
		v := m.PutEmpty(k)
		s := vals[i]
		var err error
		switch types[i] {
		case 's':
			v.SetStr(s)
		case 'i':
			var n int64
			n, err = strconv.ParseInt(s, 10, 64)
			v.SetInt(n)
		case 'd':
			var f float64
			f, err = strconv.ParseFloat(s, 64)
			v.SetDouble(f)
		case 'b':
			var b bool
			b, err = strconv.ParseBool(s)
			v.SetBool(b)
		case 'n':
		case 'j':
			err = DecodeValueJSON(s, v)
		default:
			err = fmt.Errorf("unknown type %q", types[i])
		}
		if err != nil {
			return fmt.Errorf("decode attribute %q: %w", k, err)
		}
	}
	return nil
}
