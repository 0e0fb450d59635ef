package duck

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

// Attributes, resources and structured bodies are stored as JSON text: the calibration in
// DESIGN.md measured it twice as fast to append as a MAP column, and DuckDB's json
// functions filter it. Plain JSON cannot tell an int from a double or bytes from a string,
// so the encoding below keeps OTLP types recoverable:
//
//	string -> "s"      int -> 12        double -> 1.5 or 2.0 (always a '.' or an exponent)
//	bool   -> true     bytes -> {"@bytes":"<base64>"}     NaN/±Inf -> {"@double":"NaN"}
//	array  -> [...]    map -> {...} (keys in insertion order)    empty -> null
//
// A real map whose only key is "@bytes" or "@double" with a string value decodes as the
// tagged type; that collision is accepted.

const (
	tagBytes  = "@bytes"
	tagDouble = "@double"
)

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

// appendValueJSON appends v in the typed JSON form described above.
func appendValueJSON(buf []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendJSONString(buf, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(buf, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return appendDoubleJSON(buf, v.Double())
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

func appendDoubleJSON(buf []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		buf = append(buf, `{"`+tagDouble+`":"`...)
		buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
		return append(buf, `"}`...)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
	if !bytes.ContainsAny(buf[start:], ".e") {
		buf = append(buf, ".0"...)
	}
	return buf
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 is replaced, as encoding/json does.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// decodeMapJSON fills m from a JSON object written by appendMapJSON. An empty string
// leaves m empty.
func decodeMapJSON(s string, m pcommon.Map) error {
	if s == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("decode attributes: %w", err)
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("decode attributes: want object, got %v", tok)
	}
	if err := decodeObject(dec, m); err != nil {
		return fmt.Errorf("decode attributes: %w", err)
	}
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

// untag turns {"@bytes": "..."} and {"@double": "..."} back into bytes and doubles.
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

// jsonToAny decodes a stored attribute object into JSON-compatible Go values for LogRecord:
// ints as int64, doubles as float64, bytes as base64 strings.
func jsonToAny(s string) (map[string]any, error) {
	m := pcommon.NewMap()
	if err := decodeMapJSON(s, m); err != nil {
		return nil, err
	}
	out := make(map[string]any, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		out[k] = valueToAny(v)
		return true
	})
	return out, nil
}

func valueToAny(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		out := make([]any, s.Len())
		for i := range out {
			out[i] = valueToAny(s.At(i))
		}
		return out
	case pcommon.ValueTypeMap:
		out := make(map[string]any, v.Map().Len())
		v.Map().Range(func(k string, e pcommon.Value) bool {
			out[k] = valueToAny(e)
			return true
		})
		return out
	default:
		return v.AsRaw()
	}
}
