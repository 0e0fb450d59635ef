package sentry

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseJSON parses one JSON value into what encoding/json's Unmarshal gives for an `any`
// (map[string]any, []any, string, float64, bool, nil), with its rules: the last of
// duplicate keys wins, invalid UTF-8 and lone surrogates become U+FFFD, a number out of
// float64's range is an error. It is a single pass without reflection: encoding/json
// validates the whole payload first and then decodes it through its scanner, which made
// it most of the cost of a Sentry event (BenchmarkDecodeEvent). FuzzParseJSON checks it
// against encoding/json. The caller bounds the nesting (jsondepth) before.
func parseJSON(b []byte) (any, *jsonSyntaxError) {
	p := jsonParser{b: b}
	p.space()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.b) {
		return nil, p.errorf("invalid character %q after top-level value", p.b[p.i])
	}
	return v, nil
}

type jsonParser struct {
	b   []byte
	i   int
	buf []byte // scratch for strings with escapes
}

// jsonSyntaxError says where the payload stopped being JSON.
type jsonSyntaxError struct {
	msg    string
	Offset int
}

func (e *jsonSyntaxError) Error() string { return e.msg }

func (p *jsonParser) errorf(format string, args ...any) *jsonSyntaxError {
	return &jsonSyntaxError{msg: fmt.Sprintf(format, args...), Offset: p.i}
}

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (any, *jsonSyntaxError) {
	if p.i >= len(p.b) {
		return nil, p.errorf("unexpected end of JSON input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.errorf("invalid character %q looking for beginning of value", c)
	}
}

func (p *jsonParser) literal(word string) *jsonSyntaxError {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return p.errorf("invalid literal, want %s", word)
	}
	p.i += len(word)
	return nil
}

func (p *jsonParser) object() (any, *jsonSyntaxError) {
	p.i++ // {
	m := make(map[string]any)
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.errorf("looking for beginning of object key string")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.errorf("after object key: want ':'")
		}
		p.i++
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		if done, err := p.next('}', "object key:value pair"); err != nil || done {
			return m, err
		}
	}
}

func (p *jsonParser) array() (any, *jsonSyntaxError) {
	p.i++ // [
	a := []any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if done, err := p.next(']', "array element"); err != nil || done {
			return a, err
		}
	}
}

// next reads what follows an element of an object or an array: a comma, or the closing
// bracket, when it reports done.
func (p *jsonParser) next(closing byte, element string) (done bool, err *jsonSyntaxError) {
	p.space()
	if p.i >= len(p.b) {
		return false, p.errorf("unexpected end of JSON input")
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		p.space()
		return false, nil
	case closing:
		p.i++
		return true, nil
	}
	return false, p.errorf("invalid character %q after %s", p.b[p.i], element)
}

func (p *jsonParser) string() (any, *jsonSyntaxError) {
	s, err := p.str()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// str reads a string at p.i (its opening quote). Strings without escapes or non-ASCII
// bytes, most of them, are one copy.
func (p *jsonParser) str() (string, *jsonSyntaxError) {
	p.i++ // "
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		case c == '\\' || c >= utf8.RuneSelf:
			return p.slowString(start)
		case c < 0x20:
			return "", p.errorf("invalid character %q in string literal", c)
		}
		p.i++
	}
	return "", p.errorf("unexpected end of JSON input")
}

func (p *jsonParser) slowString(start int) (string, *jsonSyntaxError) {
	buf := append(p.buf[:0], p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			p.buf = buf
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("invalid character %q in string literal", c)
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", p.errorf("unexpected end of JSON input")
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errorf("invalid \\u escape in string literal")
				}
				if utf16.IsSurrogate(r) {
					// A pair makes one rune; anything else is U+FFFD, as encoding/json does.
					r2, ok := rune(-1), false
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if r2, ok = p.hex4(); !ok {
							return "", p.errorf("invalid \\u escape in string literal")
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
						} else {
							p.i = save // the second escape is read on its own
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", p.errorf("invalid character %q in string escape code", e)
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			p.i += size
			buf = utf8.AppendRune(buf, r) // invalid bytes: U+FFFD each
		}
	}
	return "", p.errorf("unexpected end of JSON input")
}

// hex4 reads the four hex digits of a \u escape.
func (p *jsonParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	p.i += 4
	return r, true
}

// number reads a number with JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) number() (any, *jsonSyntaxError) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case digits() == 0:
		return nil, p.errorf("invalid number: no digits")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.errorf("invalid number: no digits after the decimal point")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errorf("invalid number: no digits in the exponent")
		}
	}
	f, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	if err != nil {
		return nil, &jsonSyntaxError{msg: fmt.Sprintf("number %s does not fit a float64", p.b[start:p.i]), Offset: start}
	}
	return f, nil
}
