package chlogs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Attribute maps (record and resource) are stored as a Map(LowCardinality(String), String)
// of each value's string form, which attribute filters compare and the bloom_filter skip
// indexes see, plus a string of type letters, one per entry in map order, which turns the
// string forms back into typed values:
//
//	s  string          i  int (decimal)        d  double (always a '.' or exponent, or NaN/+Inf/-Inf)
//	b  true/false      n  empty ("")           j  bytes, array or map, as typed JSON (below)
//
// These are the string forms of the embedded backend (store/duck/attrcols.go) and the
// letters of chspans, so filters answer the same on every backend. Typed JSON (bodies that
// are not strings, and the j values) is the embedded backend's too (store/duck/attrs.go):
//
//	string -> "s"      int -> 12        double -> 1.5 or 2.0 (always a '.' or an exponent)
//	bool   -> true     bytes -> {"@bytes":"<base64>"}     NaN/±Inf -> {"@double":"NaN"}
//	array  -> [...]    map -> {...} (keys in insertion order)    empty -> null

const (
	tagBytes  = "@bytes"
	tagDouble = "@double"
)

// splitAttrs returns the keys, string forms and type letters of m, in m's order.
func splitAttrs(m pcommon.Map) (keys, vals []string, types string) {
	keys = make([]string, 0, m.Len())
	vals = make([]string, 0, m.Len())
	t := make([]byte, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		letter, s := stringForm(v)
		keys, vals, t = append(keys, k), append(vals, s), append(t, letter)
		return true
	})
	return keys, vals, string(t)
}

// stringForm returns v's type letter and string form.
func stringForm(v pcommon.Value) (byte, string) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return 's', v.Str()
	case pcommon.ValueTypeInt:
		return 'i', strconv.FormatInt(v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return 'd', string(appendDouble(nil, v.Double()))
	case pcommon.ValueTypeBool:
		return 'b', strconv.FormatBool(v.Bool())
	case pcommon.ValueTypeEmpty:
		return 'n', ""
	}
	return 'j', string(appendValueJSON(nil, v))
}

// appendDouble writes f with a '.' or an exponent, so that it reads back as a double;
// NaN and infinities as strconv spells them.
func appendDouble(buf []byte, f float64) []byte {
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
	if !bytes.ContainsAny(buf[start:], ".eEIN") {
		buf = append(buf, ".0"...)
	}
	return buf
}

// joinAttrs turns stored keys, string forms and type letters back into JSON-compatible
// values (LogRecord.Attributes): ints as int64, doubles as float64, bytes as base64.
func joinAttrs(keys, vals []string, types string) (map[string]any, error) {
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
		return decodeJSON(s)
	}
	return nil, fmt.Errorf("unknown type letter %q", letter)
}

// appendValueJSON appends v in typed JSON.
func appendValueJSON(buf []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendJSONString(buf, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(buf, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		if f := v.Double(); math.IsNaN(f) || math.IsInf(f, 0) {
			buf = append(buf, `{"`+tagDouble+`":"`...)
			buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
			return append(buf, `"}`...)
		}
		return appendDouble(buf, v.Double())
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(buf, v.Bool())
	case pcommon.ValueTypeBytes:
		buf = append(buf, `{"`+tagBytes+`":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, v.Bytes().AsRaw())
		return append(buf, `"}`...)
	case pcommon.ValueTypeSlice:
		buf = append(buf, '[')
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendValueJSON(buf, s.At(i))
		}
		return append(buf, ']')
	case pcommon.ValueTypeMap:
		buf = append(buf, '{')
		first := true
		v.Map().Range(func(k string, e pcommon.Value) bool {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			buf = appendValueJSON(buf, e)
			return true
		})
		return append(buf, '}')
	}
	return append(buf, "null"...)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 is replaced, as
// encoding/json does.
func appendJSONString(buf []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b, _ := json.Marshal(s) // a string always marshals
	return append(buf, b...)
}

// decodeJSON decodes typed JSON into JSON-compatible Go values: numbers without '.' or
// exponent as int64, others as float64, tagged bytes as their base64 text and tagged
// doubles as float64.
func decodeJSON(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return untype(v), nil
}

func untype(v any) any {
	switch v := v.(type) {
	case json.Number:
		if !strings.ContainsAny(string(v), ".eE") {
			if n, err := v.Int64(); err == nil {
				return n
			}
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = untype(v[i])
		}
		return v
	case map[string]any:
		if len(v) == 1 {
			if b, ok := v[tagBytes].(string); ok {
				return b
			}
			if d, ok := v[tagDouble].(string); ok {
				if f, err := strconv.ParseFloat(d, 64); err == nil {
					return f
				}
			}
		}
		for k, e := range v {
			v[k] = untype(e)
		}
		return v
	}
	return v
}

// bodyText is a record body as stored and returned: strings as they are, other values as
// typed JSON, an empty body as "".
func bodyText(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeEmpty:
		return ""
	}
	return string(appendValueJSON(nil, v))
}
