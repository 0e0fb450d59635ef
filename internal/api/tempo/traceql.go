package tempo

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TraceQL as Loupe runs it (the parse here, evaluation in traceql_eval.go, the search
// plan in traceql_plan.go):
//
//	query    = pipeline
//	pipeline = spansets { "|" stage }
//	spansets = structure { ("&&" | "||") structure }          left to right
//	structure= operand { (">" | ">>" | "<" | "<<" | "~" | "!>" | "!>>" | "!<" | "!<<" | "!~") operand }
//	operand  = "{" [ cond ] "}" | "(" pipeline ")"
//	stage    = "{" [ cond ] "}" | aggregate op value | "select(" field { "," field } ")" | "coalesce()"
//	cond     = term { ("&&" | "||") term }                     left to right, as Tempo's grammar
//	term     = "!" term | "(" cond ")" | field op value | field  (a bare field tests a true boolean)
//
// Structural operators bind tighter than && and ||, which bind equally, as in Tempo.

// Spanset-level nodes.
type ssNode interface{ ssNode() }

type ssFilter struct{ cond condNode } // cond nil matches every span

type ssBinary struct {
	op   string // && || > >> < << ~ !> !>> !< !<< !~
	l, r ssNode
}

type ssPipeline struct {
	src    ssNode
	stages []stage
}

func (*ssFilter) ssNode()   {}
func (*ssBinary) ssNode()   {}
func (*ssPipeline) ssNode() {}

// stage is one pipeline step: a filter, an aggregate comparison, select or coalesce.
type stage struct {
	filter condNode // { cond }
	agg    string   // count avg min max sum
	aggOf  *field   // nil for count()
	op     string
	val    tval
	sel    []field // select(...)
}

// Condition nodes inside { }.
type condNode interface{ condNode() }

type condBinary struct {
	op   string // && ||
	l, r condNode
}

type condNot struct{ c condNode }

// condCmp compares a field with a literal; op "" tests the field for boolean true.
type condCmp struct {
	f   field
	op  string
	val tval
	re  *regexp.Regexp // for =~ and !~, anchored
}

func (*condBinary) condNode() {}
func (*condNot) condNode()    {}
func (*condCmp) condNode()    {}

// field is an attribute (scope span, resource, instrumentation or "" for either of span
// and resource) or an intrinsic (scope "intrinsic", name in canonical form).
type field struct {
	scope, name string
	text        string // as written, for attribute lists and errors
}

const scopeIntrinsic = "intrinsic"

// intrinsicNames maps every accepted spelling to its canonical name.
var intrinsicNames = map[string]string{
	"name": "name", "span:name": "name",
	"duration": "duration", "span:duration": "duration",
	"status": "status", "span:status": "status",
	"kind": "kind", "span:kind": "kind",
	"statusMessage": "statusMessage", "span:statusMessage": "statusMessage",
	"span:id": "span:id", "span:parentID": "span:parentID",
	"traceDuration": "traceDuration", "trace:duration": "traceDuration",
	"rootName": "rootName", "trace:rootName": "rootName",
	"rootServiceName": "rootServiceName", "trace:rootService": "rootServiceName",
	"trace:id":             "trace:id",
	"instrumentation:name": "instrumentation:name", "instrumentation:version": "instrumentation:version",
}

// tval is a typed value: a literal of the query or a span's value.
type tval struct {
	kind vkind
	s    string  // text form of every kind (what the store compares)
	f    float64 // num; dur in nanoseconds
	b    bool
}

type vkind int

const (
	vNil vkind = iota
	vStr
	vNum
	vBool
	vDur
	vStatus // s is error, ok or unset
	vKind   // s is unspecified, internal, server, client, producer or consumer
	vInvalid
)

var (
	statusNames = map[string]bool{"error": true, "ok": true, "unset": true}
	kindNames   = map[string]bool{"unspecified": true, "internal": true, "server": true, "client": true, "producer": true, "consumer": true}
)

// parseTraceQL parses q into its spanset tree.
func parseTraceQL(q string) (ssNode, error) {
	toks, err := lexTraceQL(q)
	if err != nil {
		return nil, err
	}
	p := &tqlParser{toks: toks}
	n, err := p.pipeline(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.unsupported(t, "want | or a spanset operator (&& || > >> < << ~) between spansets")
	}
	return n, nil
}

// maxDepth bounds nesting so that a hostile query cannot exhaust the stack.
const maxDepth = 100

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

func (p *tqlParser) pipeline(depth int) (ssNode, error) {
	if depth > maxDepth {
		return nil, p.unsupported(p.peek(), "nested too deeply")
	}
	src, err := p.spansets(depth)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tokPipe {
		return src, nil
	}
	pl := &ssPipeline{src: src}
	for p.peek().kind == tokPipe {
		p.next()
		st, err := p.stage(depth)
		if err != nil {
			return nil, err
		}
		pl.stages = append(pl.stages, st)
	}
	return pl, nil
}

func (p *tqlParser) spansets(depth int) (ssNode, error) {
	l, err := p.structure(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tokAnd || p.peek().kind == tokOr {
		op := p.next().text
		r, err := p.structure(depth)
		if err != nil {
			return nil, err
		}
		l = &ssBinary{op: op, l: l, r: r}
	}
	return l, nil
}

var comparisonOps = map[string]bool{"=": true, "!=": true, "=~": true, "!~": true, ">": true, ">=": true, "<": true, "<=": true}

var structuralOps = map[string]bool{">": true, ">>": true, "<": true, "<<": true, "~": true,
	"!>": true, "!>>": true, "!<": true, "!<<": true, "!~": true}

func (p *tqlParser) structure(depth int) (ssNode, error) {
	l, err := p.ssOperand(depth)
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t.kind == tokOp && structuralOps[t.text]; t = p.peek() {
		p.next()
		r, err := p.ssOperand(depth)
		if err != nil {
			return nil, err
		}
		l = &ssBinary{op: t.text, l: l, r: r}
	}
	return l, nil
}

func (p *tqlParser) ssOperand(depth int) (ssNode, error) {
	switch t := p.next(); t.kind {
	case tokLBrace:
		c, err := p.filterBody(depth)
		if err != nil {
			return nil, err
		}
		return &ssFilter{cond: c}, nil
	case tokLParen:
		n, err := p.pipeline(depth + 1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, p.unsupported(t, "want ) to close the ( at offset "+strconv.Itoa(t.pos))
		}
		return n, nil
	default:
		return nil, p.unsupported(t, "want a spanset filter { ... }")
	}
}

// filterBody parses what follows { up to and including }.
func (p *tqlParser) filterBody(depth int) (condNode, error) {
	if p.peek().kind == tokRBrace {
		p.next()
		return nil, nil
	}
	c, err := p.cond(depth)
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tokRBrace {
		return nil, p.unsupported(t, "want && || or } after a condition")
	}
	return c, nil
}

func (p *tqlParser) cond(depth int) (condNode, error) {
	l, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tokAnd || p.peek().kind == tokOr {
		op := p.next().text
		r, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		l = &condBinary{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *tqlParser) term(depth int) (condNode, error) {
	if depth > maxDepth {
		return nil, p.unsupported(p.peek(), "nested too deeply")
	}
	t := p.peek()
	switch {
	case t.kind == tokOp && t.text == "!":
		p.next()
		c, err := p.term(depth + 1)
		if err != nil {
			return nil, err
		}
		return &condNot{c: c}, nil
	case t.kind == tokLParen:
		p.next()
		c, err := p.cond(depth + 1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, p.unsupported(t, "want ) to close a condition")
		}
		return c, nil
	case t.kind == tokIdent && (t.text == "true" || t.text == "false"):
		p.next()
		return &condCmp{f: field{scope: "literal", text: t.text}, val: tval{kind: vBool, b: t.text == "true", s: t.text}}, nil
	}
	f, err := p.field()
	if err != nil {
		return nil, err
	}
	op := p.peek()
	if op.kind != tokOp {
		// A bare field: true when it is a boolean attribute that is true.
		return &condCmp{f: f}, nil
	}
	if !comparisonOps[op.text] {
		return nil, p.unsupported(op, "want a comparison operator (= != =~ !~ > >= < <=) after "+f.text)
	}
	p.next()
	return p.comparison(f, op)
}

// field parses an attribute or intrinsic name.
func (p *tqlParser) field() (field, error) {
	t := p.next()
	if t.kind != tokIdent {
		return field{}, p.unsupported(t, `want a condition such as span.http.route = "/x"`)
	}
	if name, ok := intrinsicNames[t.text]; ok {
		return field{scope: scopeIntrinsic, name: name, text: t.text}, nil
	}
	for _, scope := range []string{"resource.", "span.", ".", "instrumentation."} {
		if strings.HasPrefix(t.text, scope) {
			name := t.text[len(scope):]
			if name == "" {
				return field{}, p.unsupported(t, "attribute name missing after the scope")
			}
			return field{scope: strings.TrimSuffix(scope, "."), name: name, text: t.text}, nil
		}
	}
	return field{}, p.unsupported(t, "supported fields are resource.<attr>, span.<attr>, .<attr>, instrumentation.<attr>, "+
		"name, duration, status, kind, statusMessage, traceDuration, rootName, rootServiceName and their span:/trace: forms")
}

// comparison parses the value after `f op` and checks that they fit together.
func (p *tqlParser) comparison(f field, opTok token) (condNode, error) {
	op := opTok.text
	valTok := p.next()
	val, err := literal(valTok)
	if err != nil {
		if f.scope != scopeIntrinsic {
			return nil, p.unsupported(valTok, err.Error())
		}
		val = tval{kind: vInvalid, s: valTok.text} // the intrinsic's own check below names it
	}
	c := &condCmp{f: f, op: op, val: val}
	bad := func(why string) error { return p.unsupported(opTok, why) }
	switch op {
	case "=~", "!~":
		if val.kind != vStr {
			return nil, bad(op + " needs a quoted regular expression")
		}
		re, err := regexp.Compile("^(?:" + val.s + ")$")
		if err != nil {
			return nil, fmt.Errorf("TraceQL: bad regexp %q for %s: %v", clip(val.s), f.text, err)
		}
		c.re = re
	}
	if val.kind == vNil && op != "=" && op != "!=" {
		return nil, bad("nil compares only with = and !=")
	}
	if f.scope != scopeIntrinsic {
		if val.kind == vStatus || val.kind == vKind {
			return nil, p.unsupported(valTok, "an attribute value must be a quoted string, a number, a duration, true/false or nil")
		}
		return c, nil
	}
	switch f.name {
	case "duration", "traceDuration":
		if val.kind != vDur {
			return nil, fmt.Errorf("TraceQL: %s %q: want a duration such as 100ms or 1.5s", f.text, clip(valTok.text))
		}
		if op == "=~" || op == "!~" {
			return nil, bad(f.text + " supports = != > >= < <=")
		}
	case "status":
		if val.kind != vStatus || (op != "=" && op != "!=") {
			return nil, p.unsupported(opTok, "status supports = and != with error, ok or unset")
		}
	case "kind":
		if val.kind != vKind || (op != "=" && op != "!=") {
			return nil, p.unsupported(opTok, "kind supports = and != with server, client, producer, consumer, internal or unspecified")
		}
	default:
		if val.kind != vStr && val.kind != vNil {
			return nil, p.unsupported(valTok, f.text+" compares with a quoted string")
		}
	}
	return c, nil
}

// literal reads a value token: a quoted string, a number, a duration, true/false, nil, a
// status or a span kind.
func literal(t token) (tval, error) {
	switch t.kind {
	case tokString:
		return tval{kind: vStr, s: t.text}, nil
	case tokIdent:
	default:
		return tval{}, fmt.Errorf("want a value")
	}
	s := t.text
	switch {
	case s == "true" || s == "false":
		return tval{kind: vBool, b: s == "true", s: s}, nil
	case s == "nil":
		return tval{kind: vNil}, nil
	case statusNames[s]:
		return tval{kind: vStatus, s: s}, nil
	case kindNames[s]:
		return tval{kind: vKind, s: s}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return tval{kind: vNum, f: f, s: s}, nil
	}
	if d, err := time.ParseDuration(strings.ReplaceAll(s, "µ", "u")); err == nil {
		return tval{kind: vDur, f: float64(d), s: s}, nil
	}
	return tval{}, fmt.Errorf("an attribute value must be a quoted string, a number, a duration, true/false or nil")
}

var aggregates = map[string]bool{"count": true, "avg": true, "min": true, "max": true, "sum": true}

// stage parses one pipeline step after |.
func (p *tqlParser) stage(depth int) (stage, error) {
	t := p.next()
	switch {
	case t.kind == tokLBrace:
		c, err := p.filterBody(depth)
		return stage{filter: c}, err
	case t.kind == tokIdent && (t.text == "select" || t.text == "coalesce"):
		if lp := p.next(); lp.kind != tokLParen {
			return stage{}, p.unsupported(lp, "want ( after "+t.text)
		}
		st := stage{sel: []field{}}
		for t.text == "select" {
			f, err := p.field()
			if err != nil {
				return stage{}, err
			}
			st.sel = append(st.sel, f)
			if p.peek().kind != tokComma {
				break
			}
			p.next()
		}
		if rp := p.next(); rp.kind != tokRParen {
			return stage{}, p.unsupported(rp, "want ) to close "+t.text+"(")
		}
		return st, nil
	case t.kind == tokIdent && aggregates[t.text]:
		st := stage{agg: t.text}
		if lp := p.next(); lp.kind != tokLParen {
			return stage{}, p.unsupported(lp, "want ( after "+t.text)
		}
		if t.text != "count" {
			f, err := p.field()
			if err != nil {
				return stage{}, err
			}
			st.aggOf = &f
		}
		if rp := p.next(); rp.kind != tokRParen {
			return stage{}, p.unsupported(rp, "want ) to close "+t.text+"(")
		}
		op := p.next()
		switch op.text {
		case "=", "!=", ">", ">=", "<", "<=":
		default:
			return stage{}, p.unsupported(op, "want a comparison (= != > >= < <=) after "+t.text+"()")
		}
		st.op = op.text
		vt := p.next()
		v, err := literal(vt)
		if err != nil || v.kind != vNum && v.kind != vDur {
			return stage{}, p.unsupported(vt, "an aggregate compares with a number or a duration")
		}
		st.val = v
		return st, nil
	default:
		return stage{}, p.unsupported(t, "supported pipeline stages are { ... }, count(), avg(), min(), max(), sum(), select() and coalesce() (not by(), rate() or other metrics functions)")
	}
}
