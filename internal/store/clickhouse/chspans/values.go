package chspans

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Attribute maps are stored in two parts: a Map(LowCardinality(String), String) of each
// value's string form (what attribute filters compare and the Tempo tag APIs list, and
// what the bloom_filter skip indexes see), and a String of type letters, one per entry in
// map order, that says how to turn each string form back into its OTLP value:
//
//	s  string          i  int (decimal)        d  double (always a '.' or exponent, or NaN/+Inf/-Inf)
//	b  true/false      n  empty ("")           j  bytes, array or map, as typed JSON (below)
//
// These are the string forms of the embedded backend's attribute columns
// (store/duck/attrcols.go), so filters and tag values answer the same on both backends.
//
// Typed JSON (scope attributes, events, links, and the j values) is the embedded
// backend's encoding too (store/duck/attrs.go), ported here because importing that
// package would link DuckDB into the ClickHouse backend:
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
	if m.Len() == 0 {
		return []string{}, []string{}, ""
	}
	keys = make([]string, 0, m.Len())
	vals = make([]string, 0, m.Len())
	t := make([]byte, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		keys = append(keys, k)
		letter, s := stringForm(v)
		vals = append(vals, s)
		t = append(t, letter)
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
		return 'd', string(appendDoublePlain(nil, v.Double()))
	case pcommon.ValueTypeBool:
		return 'b', strconv.FormatBool(v.Bool())
	case pcommon.ValueTypeEmpty:
		return 'n', ""
	}
	return 'j', string(appendValueJSON(nil, v))
}

// appendDoublePlain writes f as typed JSON does, except NaN and infinities, which are
// written as strconv spells them.
func appendDoublePlain(buf []byte, f float64) []byte {
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
	if !bytes.ContainsAny(buf[start:], ".eEIN") {
		buf = append(buf, ".0"...)
	}
	return buf
}

// joinAttrs fills m from what splitAttrs returned.
func joinAttrs(keys, vals []string, types string, m pcommon.Map) error {
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
			err = decodeValueJSON(s, v)
		default:
			err = fmt.Errorf("unknown type %q", types[i])
		}
		if err != nil {
			return fmt.Errorf("decode attribute %q: %w", k, err)
		}
	}
	return nil
}

// appendMapJSON appends m as a JSON object to buf.
func appendMapJSON(buf []byte, m pcommon.Map) []byte {
	buf = append(buf, '{')
	first := true
	m.Range(func(k string, v pcommon.Value) bool {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		buf = appendValueJSON(buf, v)
		return true
	})
	return append(buf, '}')
}

// appendValueJSON appends v in typed JSON.
func appendValueJSON(buf []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendJSONString(buf, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(buf, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			buf = append(buf, `{"`+tagDouble+`":"`...)
			buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
			return append(buf, `"}`...)
		}
		return appendDoublePlain(buf, f)
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
		return appendMapJSON(buf, v.Map())
	default:
		return append(buf, "null"...)
	}
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 is replaced, as encoding/json
// does (OTLP strings are UTF-8).
func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // never fails for a string
	// encoding/json escapes <, > and & for HTML; that is valid JSON and decodes the same.
	return append(buf, b...)
}

// decodeMapJSON fills m from a JSON object written by appendMapJSON. An empty string
// leaves m empty.
func decodeMapJSON(s string, m pcommon.Map) error {
	if s == "" {
		return nil
	}
	v := pcommon.NewValueEmpty()
	if err := decodeValueJSON(s, v); err != nil {
		return fmt.Errorf("decode attributes: %w", err)
	}
	if v.Type() != pcommon.ValueTypeMap {
		return fmt.Errorf("decode attributes: want an object, got %s", v.Type())
	}
	v.Map().MoveTo(m)
	return nil
}

// decodeValueJSON fills v from one typed JSON value.
func decodeValueJSON(s string, v pcommon.Value) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	return decodeValue(dec, tok, v)
}

// decodeObject reads key/value pairs after an opening '{' up to and including '}'.
func decodeObject(dec *json.Decoder, m pcommon.Map) error {
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		k, ok := kt.(string)
		if !ok {
			return fmt.Errorf("object key %v is not a string", kt)
		}
		vt, err := dec.Token()
		if err != nil {
			return err
		}
		if err := decodeValue(dec, vt, m.PutEmpty(k)); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

func decodeValue(dec *json.Decoder, tok json.Token, v pcommon.Value) error {
	switch t := tok.(type) {
	case nil:
		// Empty value: leave v empty.
	case string:
		v.SetStr(t)
	case bool:
		v.SetBool(t)
	case json.Number:
		if strings.ContainsAny(string(t), ".eE") {
			f, err := t.Float64()
			if err != nil {
				return err
			}
			v.SetDouble(f)
		} else {
			i, err := t.Int64()
			if err != nil {
				return err
			}
			v.SetInt(i)
		}
	case json.Delim:
		switch t {
		case '[':
			s := v.SetEmptySlice()
			for dec.More() {
				et, err := dec.Token()
				if err != nil {
					return err
				}
				if err := decodeValue(dec, et, s.AppendEmpty()); err != nil {
					return err
				}
			}
			_, err := dec.Token() // ']'
			return err
		case '{':
			m := v.SetEmptyMap()
			if err := decodeObject(dec, m); err != nil {
				return err
			}
			untag(v, m)
		default:
			return fmt.Errorf("unexpected delimiter %v", t)
		}
	default:
		return fmt.Errorf("unexpected token %v", tok)
	}
	return nil
}

// untag turns {"@bytes": "..."} and {"@double": "..."} back into bytes and doubles. A real
// map whose only key is one of these with a string value decodes as the tagged type; that
// collision is accepted, as in the embedded backend.
func untag(v pcommon.Value, m pcommon.Map) {
	if m.Len() != 1 {
		return
	}
	if b, ok := m.Get(tagBytes); ok && b.Type() == pcommon.ValueTypeStr {
		raw, err := base64.StdEncoding.DecodeString(b.Str())
		if err == nil {
			v.SetEmptyBytes().FromRaw(raw)
		}
		return
	}
	if d, ok := m.Get(tagDouble); ok && d.Type() == pcommon.ValueTypeStr {
		f, err := strconv.ParseFloat(d.Str(), 64)
		if err == nil {
			v.SetDouble(f)
		}
	}
}

// decodeHex fills dst from lowercase or uppercase hex of exactly its length.
func decodeHex(s string, dst []byte) error {
	if hex.DecodedLen(len(s)) != len(dst) {
		return fmt.Errorf("bad id %q", s)
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("bad id %q: %w", s, err)
	}
	return nil
}
