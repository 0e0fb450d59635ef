package chattrs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// DecodeMapJSON fills m from a JSON object written by AppendMapJSON. An empty string
// leaves m empty.
func DecodeMapJSON(s string, m pcommon.Map) error {
	if s == "" {
		return nil
	}
	v := pcommon.NewValueEmpty()
	if err := DecodeValueJSON(s, v); err != nil {
		return fmt.Errorf("decode attributes: %w", err)
	}
	if v.Type() != pcommon.ValueTypeMap {
		return fmt.Errorf("decode attributes: want an object, got %s", v.Type())
	}
	v.Map().MoveTo(m)
	return nil
}

// DecodeValueJSON fills v from one typed JSON value.
func DecodeValueJSON(s string, v pcommon.Value) error {
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
	if b, ok := m.Get(TagBytes); ok && b.Type() == pcommon.ValueTypeStr {
		raw, err := base64.StdEncoding.DecodeString(b.Str())
		if err == nil {
			v.SetEmptyBytes().FromRaw(raw)
		}
		return
	}
	if d, ok := m.Get(TagDouble); ok && d.Type() == pcommon.ValueTypeStr {
		f, err := strconv.ParseFloat(d.Str(), 64)
		if err == nil {
			v.SetDouble(f)
		}
	}
}
