package chattrs

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// AppendMapJSON appends m as a typed JSON object to buf.
func AppendMapJSON(buf []byte, m pcommon.Map) []byte {
	buf = append(buf, '{')
	first := true
	m.Range(func(k string, v pcommon.Value) bool {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = AppendJSONString(buf, k)
		buf = append(buf, ':')
		buf = AppendValueJSON(buf, v)
		return true
	})
	return append(buf, '}')
}

// AppendValueJSON appends v in typed JSON.
func AppendValueJSON(buf []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return AppendJSONString(buf, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(buf, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			buf = append(buf, `{"`+TagDouble+`":"`...)
			buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
			return append(buf, `"}`...)
		}
		return AppendDouble(buf, f)
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(buf, v.Bool())
	case pcommon.ValueTypeBytes:
		buf = append(buf, `{"`+TagBytes+`":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, v.Bytes().AsRaw())
		return append(buf, `"}`...)
	case pcommon.ValueTypeSlice:
		buf = append(buf, '[')
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendValueJSON(buf, s.At(i))
		}
		return append(buf, ']')
	case pcommon.ValueTypeMap:
		return AppendMapJSON(buf, v.Map())
	default:
		return append(buf, "null"...)
	}
}

// AppendJSONString appends s as a JSON string. Invalid UTF-8 is replaced, one U+FFFD per
// bad byte, as encoding/json and the embedded backend do (OTLP strings are UTF-8).
func AppendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // never fails for a string
	// encoding/json escapes <, > and & for HTML; that is valid JSON and decodes the same.
	return append(buf, b...)
}

// DecodeJSON decodes typed JSON into JSON-compatible Go values: numbers without '.' or
// exponent as int64, others as float64, tagged bytes as their base64 text and tagged
// doubles as float64.
func DecodeJSON(s string) (any, error) {
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
			if b, ok := v[TagBytes].(string); ok {
				return b
			}
			if d, ok := v[TagDouble].(string); ok {
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
