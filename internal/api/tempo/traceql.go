package tempo

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loupe-dev/loupe/internal/store"
)

// The TraceQL subset: one spanset filter whose conditions are joined by &&, each
// `<field> <op> <value>`, which is what Grafana's search builder writes:
//
//	{ resource.service.name = "api" && span.http.route = "/users" && duration > 100ms && status = error }
//
// Fields and the operators each supports:
//
//	resource.X, span.X, .X   = != =~ !~   (string, number or boolean value; compared as text)
//	name                     =            (span name)
//	duration                 > >= < <=    (a duration such as 100ms, 1.5s)
//	status                   =            (error only)
//
// Everything else — ||, parentheses, several spansets, pipelines (| count() ...), structural
// operators, numeric comparison of attributes, kind, traceDuration, rootName,
// rootServiceName, event./link./parent. scopes — is refused with a message naming it.
//
// The store looks an attribute up in the span's attributes and then in its resource's,
// so resource.X and span.X differ only in that the name in the query documents intent.

// parseTraceQL translates q into a store.TraceQuery (only the filter fields are set).
func parseTraceQL(q string) (store.TraceQuery, error) {
	var out store.TraceQuery
	toks, err := lexTraceQL(q)
	if err != nil {
		return out, err
	}
	p := &tqlParser{toks: toks}
	if p.peek().kind != tokLBrace {
		return out, p.unsupported(p.peek(), "a query must be one spanset filter { ... }")
	}
	p.next()
	if p.peek().kind == tokRBrace {
		p.next()
	} else {
		for {
			if err := p.condition(&out); err != nil {
				return out, err
			}
			t := p.next()
			if t.kind == tokRBrace {
				break
			}
			if t.kind != tokAnd {
				return out, p.unsupported(t, "only && may join conditions inside { }")
			}
		}
	}
	if t := p.peek(); t.kind != tokEOF {
		return out, p.unsupported(t, "only one spanset filter { ... } without pipelines or spanset operators is supported")
	}
	if out.MaxDuration > 0 && out.MaxDuration < out.MinDuration {
		return out, fmt.Errorf("TraceQL: duration bounds exclude every span (> %s and < %s)", out.MinDuration, out.MaxDuration)
	}
	return out, nil
}

type tqlParser struct {
	toks []token
	pos  int
}

func (p *tqlParser) peek() token { return p.toks[p.pos] }

func (p *tqlParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *tqlParser) unsupported(t token, why string) error {
	if t.kind == tokEOF {
		return fmt.Errorf("TraceQL: unexpected end of query: %s", why)
	}
	return fmt.Errorf("unsupported TraceQL at offset %d (%q): %s", t.pos, clip(t.text), why)
}

// condition parses `field op value` and adds it to q.
func (p *tqlParser) condition(q *store.TraceQuery) error {
	field := p.next()
	if field.kind != tokIdent {
		return p.unsupported(field, "want a condition such as span.http.route = \"/x\"")
	}
	op := p.next()
	if op.kind != tokOp {
		return p.unsupported(op, "want a comparison operator (= != =~ !~ > >= < <=) after "+field.text)
	}
	val := p.next()
	if val.kind != tokString && val.kind != tokIdent {
		return p.unsupported(val, "want a value after "+field.text+" "+op.text)
	}
	switch f := field.text; {
	case f == "duration":
		return durationCond(q, op, val)
	case f == "name":
		if op.text != "=" || val.kind != tokString {
			return p.unsupported(op, `name supports only = "<span name>"`)
		}
		if q.SpanName != "" && q.SpanName != val.text {
			return fmt.Errorf("TraceQL: two different span names (%q and %q) match no span", q.SpanName, val.text)
		}
		q.SpanName = val.text
		return nil
	case f == "status":
		if op.text != "=" || val.kind != tokIdent || val.text != "error" {
			return p.unsupported(field, "status supports only = error")
		}
		q.ErrorsOnly = true
		return nil
	case strings.HasPrefix(f, "resource.") || strings.HasPrefix(f, "span.") || strings.HasPrefix(f, "."):
		return p.attrCond(q, field, op, val)
	default:
		return p.unsupported(field, "supported fields are resource.<attr>, span.<attr>, .<attr>, name, duration and status")
	}
}

func (p *tqlParser) attrCond(q *store.TraceQuery, field, op, val token) error {
	key := field.text[strings.IndexByte(field.text, '.')+1:]
	if key == "" {
		return p.unsupported(field, "attribute name missing after the scope")
	}
	var mop store.MatchOp
	switch op.text {
	case "=":
		mop = store.MatchEqual
	case "!=":
		mop = store.MatchNotEqual
	case "=~":
		mop = store.MatchRegexp
	case "!~":
		mop = store.MatchNotRegexp
	default:
		return p.unsupported(op, "attributes support only = != =~ !~ (no numeric comparison)")
	}
	if val.kind == tokIdent && !isNumber(val.text) && val.text != "true" && val.text != "false" {
		return p.unsupported(val, "an attribute value must be a quoted string, a number or true/false")
	}
	if mop == store.MatchRegexp || mop == store.MatchNotRegexp {
		if _, err := regexp.Compile(val.text); err != nil {
			return fmt.Errorf("TraceQL: bad regexp %q for %s: %v", clip(val.text), field.text, err)
		}
	}
	if key == "service.name" && mop == store.MatchEqual && q.Service == "" {
		q.Service = val.text
		return nil
	}
	q.Attrs = append(q.Attrs, store.AttrFilter{Key: key, Op: mop, Value: val.text})
	return nil
}

func durationCond(q *store.TraceQuery, op, val token) error {
	d, err := time.ParseDuration(strings.ReplaceAll(val.text, "µ", "u"))
	if err != nil || val.kind != tokIdent || d < 0 {
		return fmt.Errorf("TraceQL: duration %q: want a duration such as 100ms or 1.5s", clip(val.text))
	}
	// The store bounds are inclusive: > d is >= d+1ns and < d is <= d-1ns.
	switch op.text {
	case ">":
		q.MinDuration = max(q.MinDuration, d+1)
	case ">=":
		q.MinDuration = max(q.MinDuration, d)
	case "<", "<=":
		if op.text == "<" {
			d--
		}
		if d <= 0 {
			return fmt.Errorf("TraceQL: duration %s %s matches no span", op.text, val.text)
		}
		if q.MaxDuration == 0 || d < q.MaxDuration {
			q.MaxDuration = d
		}
	default:
		return fmt.Errorf("unsupported TraceQL at offset %d (%q): duration supports only > >= < <=", op.pos, op.text)
	}
	return nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokLBrace
	tokRBrace
	tokAnd
	tokOp
	tokString
	tokIdent // field names, bare values (numbers, durations, keywords)
	tokOther // anything the subset has no use for: || | ( ) >> ~ ...
)

type token struct {
	kind tokKind
	text string // for tokString, the unquoted value
	pos  int    // byte offset in the query
}

// lexTraceQL splits q into tokens. It never fails on an operator it does not know: those
// become tokOther, and the parser names them in its error.
func lexTraceQL(q string) ([]token, error) {
	var toks []token
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '{':
			toks = append(toks, token{tokLBrace, "{", i})
			i++
		case c == '}':
			toks = append(toks, token{tokRBrace, "}", i})
			i++
		case c == '"' || c == '`':
			s, n, err := lexString(q[i:])
			if err != nil {
				return nil, fmt.Errorf("TraceQL: string at offset %d: %w", i, err)
			}
			toks = append(toks, token{tokString, s, i})
			i += n
		case strings.HasPrefix(q[i:], "&&"):
			toks = append(toks, token{tokAnd, "&&", i})
			i += 2
		case strings.ContainsRune("=!<>~", rune(c)):
			n := 1
			if i+1 < len(q) && strings.ContainsRune("=~>", rune(q[i+1])) {
				n = 2
			}
			text := q[i : i+n]
			kind := tokOp
			switch text {
			case "=", "!=", "=~", "!~", ">", ">=", "<", "<=":
			default:
				kind = tokOther // >> ~ !> ...
			}
			toks = append(toks, token{kind, text, i})
			i += n
		case isIdentByte(c):
			j := i
			for j < len(q) && isIdentByte(q[j]) {
				j++
			}
			text := q[i:j]
			// A quoted attribute name after the scope: span."name with spaces".
			if strings.HasSuffix(text, ".") && j < len(q) && q[j] == '"' {
				name, n, err := lexString(q[j:])
				if err != nil {
					return nil, fmt.Errorf("TraceQL: attribute name at offset %d: %w", j, err)
				}
				text += name
				j += n
			}
			toks = append(toks, token{tokIdent, text, i})
			i = j
		default:
			r, n := utf8.DecodeRuneInString(q[i:])
			text := string(r)
			if strings.HasPrefix(q[i:], "||") {
				text, n = "||", 2
			}
			toks = append(toks, token{tokOther, text, i})
			i += n
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(q)}), nil
}

// isIdentByte reports bytes of attribute names and bare values: letters, digits, . _ - /
// : @ and the UTF-8 bytes of non-ASCII letters (µs).
func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '/' || c == ':' || c == '@' || c >= utf8.RuneSelf
}

// lexString reads a "double-quoted" (Go escapes) or `raw` string at the start of s and
// returns its value and length.
func lexString(s string) (string, int, error) {
	quote := s[0]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quote == '"' {
				i++
			}
		case quote:
			if quote == '`' {
				return s[1:i], i + 1, nil
			}
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", 0, fmt.Errorf("bad escape in %s", clip(s[:i+1]))
			}
			return v, i + 1, nil
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}
