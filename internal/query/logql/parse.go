package logql

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// MaxQueryLength bounds the input, so that a pathological query cannot exhaust the parser.
const MaxQueryLength = 64 << 10

// Parse parses a LogQL query. Unsupported constructs get a *ParseError whose message
// starts with "unsupported LogQL" and names the construct.
func Parse(src string) (Expr, error) {
	if len(src) > MaxQueryLength {
		return nil, &ParseError{Line: 1, Col: 1, Msg: fmt.Sprintf("query is %d bytes, over the limit of %d", len(src), MaxQueryLength)}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	var e Expr
	if p.peek().text == "{" && p.peek().kind == tPunct {
		e, err = p.logExpr()
	} else {
		e, err = p.sampleExpr(0)
	}
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	annotate(e, nil, nil)
	return e, nil
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	l, c := lineCol(p.src, pos)
	return &ParseError{Line: l, Col: c, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) unsupported(t token, what string) error {
	return p.errAt(t.pos, "unsupported LogQL: `%s`", what)
}

func (p *parser) unexpected(t token) error {
	if t.kind == tEOF {
		return p.errAt(t.pos, "unexpected end of query")
	}
	if t.kind == tPunct && t.text == "|>" {
		return p.unsupported(t, "|>")
	}
	return p.errAt(t.pos, "unexpected %s", describe(t))
}

func describe(t token) string {
	if t.kind == tString {
		return strconv.Quote(t.text)
	}
	return "`" + t.text + "`"
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) expectPunct(s string) error {
	t := p.next()
	if t.kind != tPunct || t.text != s {
		if t.kind == tEOF {
			return p.errAt(t.pos, "unexpected end of query, want `%s`", s)
		}
		return p.errAt(t.pos, "unexpected %s, want `%s`", describe(t), s)
	}
	return nil
}

func (p *parser) expectString() (token, error) {
	t := p.next()
	if t.kind != tString {
		return t, p.errAt(t.pos, "unexpected %s, want a string", describe(t))
	}
	return t, nil
}

func (p *parser) ident() (token, error) {
	t := p.next()
	if t.kind != tIdent {
		return t, p.errAt(t.pos, "unexpected %s, want a label name", describe(t))
	}
	return t, nil
}

// logExpr parses a stream selector and its pipeline.
func (p *parser) logExpr() (*LogExpr, error) {
	if err := p.expectPunct("{"); err != nil {
		return nil, err
	}
	e := &LogExpr{}
	for !p.isPunct("}") {
		if len(e.Matchers) > 0 {
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
			if p.isPunct("}") {
				break
			}
		}
		m, err := p.matcher()
		if err != nil {
			return nil, err
		}
		e.Matchers = append(e.Matchers, m)
	}
	brace := p.next()
	if len(e.Matchers) == 0 {
		return nil, p.errAt(brace.pos, "stream selector needs at least one matcher")
	}
	if !slices.ContainsFunc(e.Matchers, func(m *Matcher) bool { return !m.Matches("") }) {
		return nil, p.errAt(brace.pos, "stream selector must contain at least one matcher that does not match the empty string, e.g. {job=~\".+\"}")
	}
	for {
		t := p.peek()
		if t.kind != tPunct {
			return e, nil
		}
		switch t.text {
		case "|=", "!=", "|~", "!~":
			f, err := p.lineFilter()
			if err != nil {
				return nil, err
			}
			e.Stages = append(e.Stages, f)
		case "|>":
			return nil, p.unsupported(t, "|>")
		case "|":
			p.next()
			s, err := p.stage()
			if err != nil {
				return nil, err
			}
			e.Stages = append(e.Stages, s)
		default:
			return e, nil
		}
	}
}

func (p *parser) matcher() (*Matcher, error) {
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	op := p.next()
	m := &Matcher{Name: name.text}
	switch {
	case op.kind == tPunct && op.text == "=":
		m.Type = MatchEq
	case op.kind == tPunct && op.text == "!=":
		m.Type = MatchNeq
	case op.kind == tPunct && op.text == "=~":
		m.Type = MatchRe
	case op.kind == tPunct && op.text == "!~":
		m.Type = MatchNre
	default:
		return nil, p.errAt(op.pos, "unexpected %s, want one of = != =~ !~", describe(op))
	}
	v, err := p.expectString()
	if err != nil {
		return nil, err
	}
	m.Value = v.text
	if m.Type == MatchRe || m.Type == MatchNre {
		if m.re, err = regexp.Compile("^(?s:" + m.Value + ")$"); err != nil {
			return nil, p.errAt(v.pos, "bad regexp %q: %v", m.Value, err)
		}
	}
	return m, nil
}

func (p *parser) lineFilter() (*LineFilter, error) {
	op := p.next()
	f := &LineFilter{Op: op.text}
	for {
		if t := p.peek(); t.kind == tIdent && t.text == "ip" && p.peekAt(1).text == "(" {
			if f.Op == "|~" || f.Op == "!~" || len(f.Values) > 0 || f.ip != nil {
				return nil, p.errAt(t.pos, "ip() is allowed only with |= and != and cannot be combined with or")
			}
			m, err := p.ipCall()
			if err != nil {
				return nil, err
			}
			f.ip = m
			f.Values = []string{m.src}
			return f, nil
		}
		v, err := p.expectString()
		if err != nil {
			return nil, err
		}
		f.Values = append(f.Values, v.text)
		if f.Op == "|~" || f.Op == "!~" {
			re, err := regexp.Compile(v.text)
			if err != nil {
				return nil, p.errAt(v.pos, "bad regexp %q: %v", v.text, err)
			}
			f.res = append(f.res, re)
		}
		if t := p.peek(); t.kind == tIdent && t.text == "or" {
			p.next()
			continue
		}
		return f, nil
	}
}

// stage parses what follows a `|`.
func (p *parser) stage() (Stage, error) {
	t := p.peek()
	if t.kind != tIdent {
		if t.kind == tPunct && t.text == "(" {
			return p.labelFilterStage()
		}
		return nil, p.unexpected(t)
	}
	switch t.text {
	case "json":
		p.next()
		return p.jsonStage()
	case "logfmt":
		p.next()
		return p.logfmtStage()
	case "unpack":
		p.next()
		return &ParserStage{Kind: "unpack"}, nil
	case "regexp":
		p.next()
		s, err := p.expectString()
		if err != nil {
			return nil, err
		}
		re, err := regexp.Compile(s.text)
		if err != nil {
			return nil, p.errAt(s.pos, "bad regexp %q: %v", s.text, err)
		}
		if !slices.ContainsFunc(re.SubexpNames(), func(n string) bool { return n != "" }) {
			return nil, p.errAt(s.pos, "regexp %q has no named capture group (?P<name>...)", s.text)
		}
		return &ParserStage{Kind: "regexp", Arg: s.text, re: re}, nil
	case "pattern":
		p.next()
		s, err := p.expectString()
		if err != nil {
			return nil, err
		}
		parts, err := parsePattern(s.text)
		if err != nil {
			return nil, p.errAt(s.pos, "bad pattern %q: %v", s.text, err)
		}
		return &ParserStage{Kind: "pattern", Arg: s.text, pattern: parts}, nil
	case "line_format":
		p.next()
		s, err := p.expectString()
		if err != nil {
			return nil, err
		}
		tmpl, err := newTemplate(s.text)
		if err != nil {
			return nil, p.errAt(s.pos, "bad line_format template: %v", err)
		}
		return &LineFormatStage{Src: s.text, tmpl: tmpl}, nil
	case "label_format":
		p.next()
		return p.labelFormat()
	case "drop", "keep":
		p.next()
		return p.dropKeep(t.text == "keep")
	case "unwrap":
		p.next()
		return p.unwrap()
	case "decolorize":
		p.next()
		return &DecolorizeStage{}, nil
	case "distinct", "ip":
		return nil, p.unsupported(t, "| "+t.text)
	}
	return p.labelFilterStage()
}

func (p *parser) labelFilterStage() (Stage, error) {
	f, err := p.labelOr()
	if err != nil {
		return nil, err
	}
	return &LabelFilterStage{Filter: f}, nil
}

func (p *parser) labelOr() (LabelFilter, error) {
	l, err := p.labelAnd()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t.kind == tIdent && t.text == "or"; t = p.peek() {
		p.next()
		r, err := p.labelAnd()
		if err != nil {
			return nil, err
		}
		l = &LabelBinary{Left: l, Right: r}
	}
	return l, nil
}

func (p *parser) labelAnd() (LabelFilter, error) {
	l, err := p.labelPrimary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !(t.kind == tIdent && t.text == "and" || t.kind == tPunct && t.text == ",") {
			return l, nil
		}
		p.next()
		r, err := p.labelPrimary()
		if err != nil {
			return nil, err
		}
		l = &LabelBinary{And: true, Left: l, Right: r}
	}
}

func (p *parser) labelPrimary() (LabelFilter, error) {
	if p.isPunct("(") {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > 100 {
			return nil, p.errAt(p.peek().pos, "label filter nested too deeply")
		}
		p.next()
		f, err := p.labelOr()
		if err != nil {
			return nil, err
		}
		return f, p.expectPunct(")")
	}
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	op := p.next()
	if op.kind != tPunct || !slices.Contains([]string{"=", "!=", "=~", "!~", "==", ">", ">=", "<", "<="}, op.text) {
		return nil, p.errAt(op.pos, "unexpected %s after label %s, want a comparison (= != =~ !~ == > >= < <=)", describe(op), name.text)
	}
	c := &LabelCompare{Name: name.text, Op: op.text}
	v := p.next()
	switch v.kind {
	case tString:
		if op.text != "=" && op.text != "!=" && op.text != "=~" && op.text != "!~" && op.text != "==" {
			return nil, p.errAt(op.pos, "operator %s needs a number, duration or bytes value, not a string", op.text)
		}
		c.Kind, c.Str = "string", v.text
		mt := map[string]MatchType{"=": MatchEq, "==": MatchEq, "!=": MatchNeq, "=~": MatchRe, "!~": MatchNre}[op.text]
		c.match = &Matcher{Name: name.text, Type: mt, Value: v.text}
		if mt == MatchRe || mt == MatchNre {
			if c.match.re, err = regexp.Compile("^(?s:" + v.text + ")$"); err != nil {
				return nil, p.errAt(v.pos, "bad regexp %q: %v", v.text, err)
			}
		}
	case tNumber:
		if op.text == "=~" || op.text == "!~" {
			return nil, p.errAt(op.pos, "operator %s needs a string", op.text)
		}
		if c.Op == "=" {
			c.Op = "=="
		}
		c.Kind, c.Num, err = parseValue(v.text)
		if err != nil {
			return nil, p.errAt(v.pos, "%v", err)
		}
	case tIdent:
		if v.text == "ip" && p.isPunct("(") {
			if op.text != "=" && op.text != "!=" {
				return nil, p.errAt(op.pos, "ip() needs = or !=, not %s", op.text)
			}
			p.i--
			if c.ip, err = p.ipCall(); err != nil {
				return nil, err
			}
			c.Kind, c.Str = "ip", c.ip.src
			return c, nil
		}
		return nil, p.errAt(v.pos, "unexpected %s, want a string, number, duration or bytes value", describe(v))
	default:
		return nil, p.errAt(v.pos, "unexpected %s, want a value", describe(v))
	}
	return c, nil
}

// parseValue classifies a number-like token: a plain number, a duration (5m, 1.5s) or a
// byte size (10KB, 1MiB).
func parseValue(s string) (string, float64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return "number", f, nil
	}
	if d, err := parseDuration(s); err == nil {
		return "duration", d.Seconds(), nil
	}
	if b, err := parseBytes(s); err == nil {
		return "bytes", b, nil
	}
	return "", 0, fmt.Errorf("%q is not a number, duration or byte size", s)
}

func parseDuration(s string) (time.Duration, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return time.ParseDuration(s)
}

// byteUnits are go-humanize's, which Loki uses: a plain number is bytes.
var byteUnits = map[string]float64{
	"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15,
	"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50,
	"ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30, "ti": 1 << 40, "pi": 1 << 50,
}

func parseBytes(s string) (float64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("bad byte size %q", s)
	}
	u, ok := byteUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("bad byte size %q", s)
	}
	return n * u, nil
}
