package loki

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// fastJSONEntry decodes the usual shapes of one JSON push value,
//
//	["<unix ns>", "<line>"]  and  ["<unix ns>", "<line>", {"k": "v", ...}]
//
// without going through encoding/json for every element: on 1000-line requests the
// generic decoding of [][]json.RawMessage cost several allocations and scans per line.
// raw has already been checked to be valid JSON by the decoder of the whole body.
// It reports false for anything else (and for any error), and the caller then takes the
// generic path, which gives the error message; so this need not explain failures, only
// never accept what the generic path would decode differently (FuzzFastJSONEntry checks).
func fastJSONEntry(raw []byte) (entry, bool) {
	var e entry
	p := fastParser{b: raw}
	if !p.consume('[') {
		return e, false
	}
	var tsText string
	switch {
	case p.peek() == '"':
		s, ok := p.str()
		if !ok {
			return e, false
		}
		tsText = s
	default:
		tsText = p.number()
	}
	ns, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || ns < 0 || !p.consume(',') || p.peek() != '"' {
		return e, false
	}
	e.ts = time.Unix(0, ns)
	line, ok := p.str()
	if !ok {
		return e, false
	}
	e.line = line
	if p.consume(',') {
		// Structured metadata: one object of strings, then the closing bracket.
		if !p.consume('{') {
			return e, false
		}
		if !p.consume('}') {
			for {
				if p.peek() != '"' {
					return e, false
				}
				k, ok := p.str()
				if !ok || !p.consume(':') || p.peek() != '"' {
					return e, false
				}
				v, ok := p.str()
				if !ok {
					return e, false
				}
				e.metadata = append(e.metadata, label{name: k, value: v})
				if p.consume('}') {
					break
				}
				if !p.consume(',') {
					return e, false
				}
			}
		}
		sortLabels(e.metadata)
		for i := 1; i < len(e.metadata); i++ {
			if e.metadata[i].name == e.metadata[i-1].name {
				return e, false // duplicate keys: let encoding/json decide which wins
			}
		}
	}
	return e, p.consume(']') && p.end()
}

// fastParser walks a small JSON array.
type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) skipSpace() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *fastParser) peek() byte {
	p.skipSpace()
	if p.i >= len(p.b) {
		return 0
	}
	return p.b[p.i]
}

func (p *fastParser) consume(c byte) bool {
	if p.peek() != c {
		return false
	}
	p.i++
	return true
}

func (p *fastParser) end() bool {
	p.skipSpace()
	return p.i == len(p.b)
}

// number returns the bytes of a bare JSON number (validity is checked by the caller's
// integer parse).
func (p *fastParser) number() string {
	start := p.i
	for p.i < len(p.b) && (p.b[p.i] == '-' || p.b[p.i] == '+' || p.b[p.i] == '.' ||
		p.b[p.i] == 'e' || p.b[p.i] == 'E' || p.b[p.i] >= '0' && p.b[p.i] <= '9') {
		p.i++
	}
	return string(p.b[start:p.i])
}

// str reads a JSON string at p.i (which is '"'). Simple escapes are undone here; a
// string with a \u escape or invalid UTF-8 goes through encoding/json, which handles
// surrogate pairs and replaces invalid bytes.
func (p *fastParser) str() (string, bool) {
	start := p.i
	var buf []byte // nil while the value is a plain slice of the input
	slow := false
	for j := start + 1; j < len(p.b); j++ {
		c := p.b[j]
		switch {
		case c == '"':
			p.i = j + 1
			if buf == nil {
				buf = p.b[start+1 : j]
			}
			if slow || !utf8.Valid(buf) {
				var s string
				if err := json.Unmarshal(p.b[start:j+1], &s); err != nil {
					return "", false
				}
				return s, true
			}
			return string(buf), true
		case c == '\\':
			if j+1 >= len(p.b) {
				return "", false
			}
			if buf == nil {
				buf = append(make([]byte, 0, 64), p.b[start+1:j]...)
			}
			j++
			switch p.b[j] {
			case '"', '\\', '/':
				buf = append(buf, p.b[j])
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
			default: // \u: finish the scan, then let encoding/json decode it
				slow = true
			}
		case buf != nil:
			buf = append(buf, c)
		}
	}
	return "", false
}
