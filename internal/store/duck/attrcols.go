package duck

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Record attributes (of log records and spans) are stored in two columns instead of one
// JSON object: attr_keys holds the keys and attr_vals the values, each joined by the
// unit separator (0x1f). Records of one kind share their keys, so DuckDB
// dictionary-compresses attr_keys to almost nothing, and attr_vals carries only the
// values: on 300k realistic log records this halved the attribute bytes on disk
// (~89 -> ~44 blocks) compared with typed JSON, whose keys FSST cannot fully squeeze out.
//
// Each value starts with a type letter:
//
//	s<text>  string (valid UTF-8 without 0x00 or 0x1f)
//	i<int>   int          d<float> double (as in typed JSON: always a '.' or exponent, or NaN/+Inf/-Inf)
//	b<bool>  true/false   n        empty
//	j<json>  anything else in the typed JSON of attrs.go: bytes, arrays, maps, and
//	         strings that the plain form cannot carry
//
// A key is stored as is unless it contains 0x00 or 0x1f, is not valid UTF-8 or starts
// with '"': then it is stored as a JSON string. An empty map is two empty strings. The
// SQL macro loupe_attr (attrMacroDDL) returns one value for attribute filters.

const attrSep = 0x1f

// appendAttrCols appends the keys and values of m in the two-column form.
func appendAttrCols(keys, vals []byte, m pcommon.Map) ([]byte, []byte) {
	first := true
	m.Range(func(k string, v pcommon.Value) bool {
		if !first {
			keys = append(keys, attrSep)
			vals = append(vals, attrSep)
		}
		first = false
		keys = appendAttrKey(keys, k)
		vals = appendAttrValue(vals, v)
		return true
	})
	return keys, vals
}

// plainText reports whether s can be stored without quoting between separators (and
// passed to DuckDB as a C string, which ends at 0x00): valid UTF-8 without 0x00 or 0x1f.
//
// It runs on every attribute key and string value of every record. Most are short ASCII,
// so it tests 8 bytes at a time for a byte that is 0x00, 0x1f or not ASCII, and decodes
// UTF-8 only from the first word that has one. A byte loop followed by utf8.ValidString
// cost twice as much (two passes, and ValidString's tail loop on short strings).
func plainText(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !plainASCII(load64(s, i)) {
			return plainTextSlow(s[i:])
		}
	}
	switch {
	case i == len(s):
		return true
	case len(s) >= 8:
		// The last partial word, loaded as the last 8 bytes: the overlap is known good.
		if !plainASCII(load64(s, len(s)-8)) {
			return plainTextSlow(s[i:])
		}
		return true
	}
	return plainTextSlow(s)
}

// plainTextSlow is plainText one byte at a time. s must start on a rune boundary.
func plainTextSlow(s string) bool {
	var or byte
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b == 0 || b == attrSep {
			return false
		}
		or |= b
	}
	return or < utf8.RuneSelf || utf8.ValidString(s)
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// plainASCII reports whether the 8 bytes of w are all ASCII and none is 0x00 or 0x1f.
// (x - lo8) &^ x & hi8 is non-zero exactly when some byte of x is zero.
func plainASCII(w uint64) bool {
	sep := w ^ (attrSep * lo8)
	return ((w-lo8)&^w|(sep-lo8)&^sep|w)&hi8 == 0
}

// load64 returns s[i:i+8] as a little-endian word (the compiler makes it one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func appendAttrKey(buf []byte, k string) []byte {
	if plainText(k) && !strings.HasPrefix(k, `"`) {
		return append(buf, k...)
	}
	return appendJSONString(buf, k)
}

// attrKeyStored returns k as appendAttrKey stores it, for lookups in SQL.
func attrKeyStored(k string) string {
	return string(appendAttrKey(nil, k))
}

func appendAttrValue(buf []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if s := v.Str(); plainText(s) {
			buf = append(buf, 's')
			return append(buf, s...)
		}
	case pcommon.ValueTypeInt:
		buf = append(buf, 'i')
		return strconv.AppendInt(buf, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		buf = append(buf, 'd')
		return appendDoublePlain(buf, v.Double())
	case pcommon.ValueTypeBool:
		buf = append(buf, 'b')
		return strconv.AppendBool(buf, v.Bool())
	case pcommon.ValueTypeEmpty:
		return append(buf, 'n')
	}
	buf = append(buf, 'j')
	return appendValueJSON(buf, v)
}

// appendDoublePlain writes f as typed JSON does, except NaN and infinities, which are
// written as strconv spells them.
func appendDoublePlain(buf []byte, f float64) []byte {
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
	if !strings.ContainsAny(string(buf[start:]), ".eEIN") {
		buf = append(buf, ".0"...)
	}
	return buf
}

// decodeAttrCols fills m from the two columns.
func decodeAttrCols(keys, vals string, m pcommon.Map) error {
	if vals == "" {
		return nil
	}
	n := strings.Count(vals, string(rune(attrSep))) + 1
	if strings.Count(keys, string(rune(attrSep)))+1 != n {
		return fmt.Errorf("decode attributes: %d values for %d keys", n, strings.Count(keys, string(rune(attrSep)))+1)
	}
	m.EnsureCapacity(n)
	for range n {
		var k, v string
		k, keys, _ = strings.Cut(keys, string(rune(attrSep)))
		v, vals, _ = strings.Cut(vals, string(rune(attrSep)))
		if strings.HasPrefix(k, `"`) {
			kv := pcommon.NewValueEmpty()
			if err := decodeValueJSON(k, kv); err != nil || kv.Type() != pcommon.ValueTypeStr {
				return fmt.Errorf("decode attributes: bad key %q", k)
			}
			k = kv.Str()
		} else if !utf8.ValidString(k) {
			return fmt.Errorf("decode attributes: key %q is not UTF-8", k)
		}
		if err := decodeAttrValue(v, m.PutEmpty(k)); err != nil {
			return fmt.Errorf("decode attributes: key %q: %w", k, err)
		}
	}
	return nil
}

func decodeAttrValue(s string, v pcommon.Value) error {
	if s == "" {
		return fmt.Errorf("empty value")
	}
	text := s[1:]
	switch s[0] {
	case 's':
		if !utf8.ValidString(text) {
			return fmt.Errorf("string is not UTF-8")
		}
		v.SetStr(text)
	case 'i':
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(i)
	case 'd':
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return err
		}
		v.SetDouble(f)
	case 'b':
		b, err := strconv.ParseBool(text)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case 'n':
	case 'j':
		return decodeValueJSON(text, v)
	default:
		return fmt.Errorf("unknown type %q", s[0])
	}
	return nil
}

// attrColsToAny decodes the two columns into JSON-compatible Go values for LogRecord.
func attrColsToAny(keys, vals string) (map[string]any, error) {
	m := pcommon.NewMap()
	if err := decodeAttrCols(keys, vals, m); err != nil {
		return nil, err
	}
	out := make(map[string]any, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		out[k] = valueToAny(v)
		return true
	})
	return out, nil
}

// attrMacroDDL defines loupe_attr(keys, vals, key): the value of key (stored as
// attrKeyStored gives it) without its type letter, or NULL when the key is absent. That is
// the string form filters compare for plain values; an empty value gives "", and values
// in the j form compare as their JSON text. Interpreting the type letter in SQL (a CASE
// over the value) tripled the cost: DuckDB evaluated split_part once per branch
// (~290 vs ~100 ms of CPU for a filter over 300k records). The key lookup costs little
// because attr_keys is dictionary-encoded. A macro, so DuckDB inlines it; persistent,
// because temporary macros belong to one connection.
const attrMacroDDL = `CREATE OR REPLACE MACRO loupe_attr(ks, vs, k) AS
	substr(split_part(vs, chr(31), list_position(string_split(ks, chr(31)), k)), 2)`
