package chsql

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The scanner of JSONRows: Next checks a row's syntax once and keeps the text of each of
// its values; Scan then parses a value straight into its destination. A samples query's
// output is mostly numbers in arrays, which encoding/json turned into a json.Number (a
// string) and an interface each before strconv read them again.

// maxJSONDepth bounds nesting as encoding/json does, so that a result nested deep cannot
// take the stack; a row's array is depth 1.
const maxJSONDepth = 10000

func jsonSyntax(off int, msg string) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", off, msg)
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value that starts at b[i], a value inside depth
// arrays and objects.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, jsonSyntax(i, "unexpected end of row")
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '-' || isDigit(c):
		return skipNumber(b, i)
	case c == '[':
		return skipArray(b, i, depth+1, nil)
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	}
	return i, jsonSyntax(i, fmt.Sprintf("invalid character %q", b[i]))
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if !bytes.HasPrefix(b[i:], []byte(lit)) {
		return i, jsonSyntax(i, "invalid literal")
	}
	return i + len(lit), nil
}

// skipArray returns the end of the array at b[i], at depth, and appends the text of each
// of its elements to elems unless elems is nil.
func skipArray(b []byte, i, depth int, elems *[][]byte) (int, error) {
	if depth > maxJSONDepth {
		return i, jsonSyntax(i, "nested too deep")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		end, err := skipValue(b, i, depth)
		if err != nil {
			return end, err
		}
		if elems != nil {
			*elems = append(*elems, b[i:end])
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return i, jsonSyntax(i, "unexpected end of row")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, jsonSyntax(i, "expected , or ]")
		}
	}
}

// skipObject returns the end of the object at b[i], at depth.
func skipObject(b []byte, i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return i, jsonSyntax(i, "nested too deep")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, jsonSyntax(i, "expected object key")
		}
		end, err := skipString(b, i)
		if err != nil {
			return end, err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return i, jsonSyntax(i, "expected :")
		}
		if end, err = skipValue(b, skipSpace(b, i+1), depth); err != nil {
			return end, err
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return i, jsonSyntax(i, "unexpected end of row")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, jsonSyntax(i, "expected , or }")
		}
	}
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipString returns the end of the string at b[i], checking its escapes.
func skipString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i++
			if i >= len(b) {
				return i, jsonSyntax(i, "unterminated string")
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return i, jsonSyntax(i, "invalid \\u escape")
				}
				i += 4
			default:
				return i, jsonSyntax(i, "invalid escape")
			}
		case c < 0x20:
			return i, jsonSyntax(i, "control character in string")
		}
	}
	return i, jsonSyntax(i, "unterminated string")
}

// skipNumber returns the end of the number at b[i] (JSON's grammar: no leading zeros,
// plus sign, bare dot or hex).
func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, jsonSyntax(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, jsonSyntax(start, "invalid number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, jsonSyntax(start, "invalid number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

// nextElem returns the end of the element at v[i] of an array or object already checked
// by skipValue, and where the next element starts: past the comma, or at the closing
// bracket.
func nextElem(v []byte, i int) (end, next int, err error) {
	if c := v[i]; c == '-' || isDigit(c) {
		// A checked number ends at the first delimiter.
		for end = i + 1; end < len(v); end++ {
			if c := v[end]; c == ',' || c == ']' || c == '}' || isJSONSpace(c) {
				break
			}
		}
	} else if end, err = skipValue(v, i, 0); err != nil {
		return end, end, err
	}
	next = skipSpace(v, end)
	if next < len(v) && v[next] == ',' {
		next = skipSpace(v, next+1)
	}
	return end, next, nil
}

// jsonStringBytes returns the text of the JSON string v (quotes included), unescaped as
// encoding/json does, without copying when it has no escapes and is UTF-8.
func jsonStringBytes(v []byte) []byte {
	if len(v) < 2 {
		return nil
	}
	if s := v[1 : len(v)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s
	}
	return []byte(jsonString(v))
}

// jsonString returns the text of the JSON string v (quotes included), unescaped as
// encoding/json does: invalid UTF-8 and unpaired surrogates become U+FFFD.
func jsonString(v []byte) string {
	if len(v) < 2 {
		return ""
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s)
	}
	var out strings.Builder
	out.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			switch e := s[i+1]; e {
			case 'b':
				out.WriteByte('\b')
			case 'f':
				out.WriteByte('\f')
			case 'n':
				out.WriteByte('\n')
			case 'r':
				out.WriteByte('\r')
			case 't':
				out.WriteByte('\t')
			case 'u':
				rr := hex4(s[i+2:])
				if rr < 0 {
					return out.String()
				}
				i += 6
				if utf16.IsSurrogate(rr) {
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(s[i+2:])); dec != utf8.RuneError {
							out.WriteRune(dec)
							i += 6
							continue
						}
					}
					rr = utf8.RuneError
				}
				out.WriteRune(rr)
				continue
			default:
				out.WriteByte(e)
			}
			i += 2
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(s) && s[j] != '\\' && s[j] < utf8.RuneSelf {
				j++
			}
			out.Write(s[i:j])
			i = j
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				out.WriteRune(r)
			} else {
				out.Write(s[i : i+size])
			}
			i += size
		}
	}
	return out.String()
}

// hex4 reads the 4 hex digits at the start of s, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case isDigit(c):
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// numberText returns the text of a number, which ClickHouse may quote (64-bit integers
// with output_format_json_quote_64bit_integers, NaN and Inf).
func numberText(v []byte) ([]byte, bool) {
	switch {
	case len(v) == 0:
		return nil, false
	case v[0] == '"':
		return jsonStringBytes(v), true
	case v[0] == '-' || isDigit(v[0]):
		return v, true
	}
	return nil, false
}

// parseInt is strconv.ParseInt(s, 10, bits), without converting s to a string for the
// 18 digits that cannot overflow an int64.
func parseInt(s []byte, bits int) (int64, error) {
	digits := s
	if len(s) > 0 && s[0] == '-' {
		digits = s[1:]
	}
	if n := len(digits); n > 0 && n <= 18 {
		var v int64
		ok := true
		for _, c := range digits {
			if !isDigit(c) {
				ok = false
				break
			}
			v = v*10 + int64(c-'0')
		}
		if len(digits) < len(s) {
			v = -v
		}
		if ok && (bits == 64 || -1<<(bits-1) <= v && v < 1<<(bits-1)) {
			return v, nil
		}
	}
	return strconv.ParseInt(string(s), 10, bits)
}

// parseUint is strconv.ParseUint(s, 10, bits), without a string for up to 19 digits.
func parseUint(s []byte, bits int) (uint64, error) {
	if n := len(s); n > 0 && n <= 19 {
		var v uint64
		ok := true
		for _, c := range s {
			if !isDigit(c) {
				ok = false
				break
			}
			v = v*10 + uint64(c-'0')
		}
		if ok && (bits == 64 || v < 1<<bits) {
			return v, nil
		}
	}
	return strconv.ParseUint(string(s), 10, bits)
}

// jsonAny decodes v as encoding/json would into an interface, for the messages of errors
// that show a value.
func jsonAny(v []byte) any {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return string(v)
	}
	return out
}

// float64pow10 are the powers of ten a float64 holds exactly.
var float64pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloatFast reads the decimal numbers that are most of a samples query's output,
// [-]digits[.digits][e[+-]digits] with at most 19 digits, a mantissa below 2^53 and a
// power of ten below 1e23: the mantissa and the power are exact in a float64, so one
// multiplication or division rounds correctly and the result is strconv.ParseFloat's
// (Clinger's fast path, which strconv takes too after a slower read). Anything else is
// left to strconv.
func parseFloatFast(s []byte) (float64, bool) {
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		i, neg = 1, true
	}
	var mant uint64
	digits, exp := 0, 0
	start := i
	for ; i < len(s) && isDigit(s[i]); i++ {
		mant = mant*10 + uint64(s[i]-'0')
		digits++
	}
	if i == start {
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for ; i < len(s) && isDigit(s[i]); i++ {
			mant = mant*10 + uint64(s[i]-'0')
			digits++
		}
		if i == fracStart {
			return 0, false
		}
		exp = fracStart - i
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		e, estart := 0, i
		for ; i < len(s) && isDigit(s[i]) && e < 1000; i++ {
			e = e*10 + int(s[i]-'0')
		}
		if i == estart {
			return 0, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(s) || digits > 19 || mant > 1<<53 {
		return 0, false
	}
	f := float64(mant)
	switch {
	case exp == 0:
	case exp > 0 && exp <= 22:
		f *= float64pow10[exp]
	case exp < 0 && exp >= -22:
		f /= float64pow10[-exp]
	default:
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}
