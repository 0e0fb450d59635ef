package logql

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Metric expressions: range and vector aggregations, binary operators, numbers.

var rangeOps = map[string]bool{
	"absent_over_time": true, "count_over_time": true, "rate": true, "bytes_over_time": true, "bytes_rate": true,
	"sum_over_time": true, "avg_over_time": true, "min_over_time": true, "max_over_time": true,
	"stddev_over_time": true, "stdvar_over_time": true, "quantile_over_time": true,
	"first_over_time": true, "last_over_time": true,
}

var unwrapOps = map[string]bool{
	"sum_over_time": true, "avg_over_time": true, "min_over_time": true, "max_over_time": true,
	"stddev_over_time": true, "stdvar_over_time": true, "quantile_over_time": true,
	"first_over_time": true, "last_over_time": true,
}

var vectorOps = map[string]bool{
	"sort": true, "sort_desc": true, "sum": true, "avg": true, "min": true, "max": true, "count": true,
	"stddev": true, "stdvar": true, "topk": true, "bottomk": true,
}

var binPrec = map[string]int{
	"or": 1, "and": 2, "unless": 2,
	"==": 3, "!=": 3, ">": 3, "<": 3, ">=": 3, "<=": 3,
	"+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "^": 6,
}

// sampleExpr parses binary expressions by precedence climbing.
func (p *parser) sampleExpr(minPrec int) (SampleExpr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 200 {
		return nil, p.errAt(p.peek().pos, "expression nested too deeply")
	}
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		prec, ok := binPrec[t.text]
		if !ok || t.kind == tString || prec <= minPrec {
			return left, nil
		}
		p.next()
		b := &BinaryExpr{Op: t.text, Left: left}
		if n := p.peek(); n.kind == tIdent && n.text == "bool" {
			p.next()
			b.Bool = true
		}
		if b.Match, err = p.vectorMatch(b.Op); err != nil {
			return nil, err
		}
		next := prec
		if t.text == "^" {
			next = prec - 1 // right associative
		}
		if b.Right, err = p.sampleExpr(next); err != nil {
			return nil, err
		}
		left = b
	}
}

func (p *parser) unary() (SampleExpr, error) {
	t := p.peek()
	if t.kind == tPunct && (t.text == "-" || t.text == "+") {
		p.next()
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.text == "-" {
			if l, ok := e.(*Literal); ok {
				return &Literal{Value: -l.Value}, nil
			}
			return &BinaryExpr{Op: "*", Left: &Literal{Value: -1}, Right: e}, nil
		}
		return e, nil
	}
	return p.primary()
}

func (p *parser) primary() (SampleExpr, error) {
	t := p.peek()
	switch {
	case t.kind == tNumber:
		p.next()
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, p.errAt(t.pos, "bad number %q", t.text)
		}
		return &Literal{Value: f}, nil
	case t.kind == tPunct && t.text == "(":
		p.next()
		e, err := p.sampleExpr(0)
		if err != nil {
			return nil, err
		}
		return e, p.expectPunct(")")
	case t.kind == tPunct && t.text == "{":
		return nil, p.errAt(t.pos, "a log query cannot be part of a metric expression; wrap it in a range aggregation such as count_over_time(%s [5m])", "{...}")
	case t.kind == tIdent && rangeOps[t.text]:
		return p.rangeAggr()
	case t.kind == tIdent && vectorOps[t.text]:
		return p.vectorAggr()
	case t.kind == tIdent && (t.text == "NaN" || t.text == "Inf" || t.text == "inf" || t.text == "nan"):
		p.next()
		if strings.EqualFold(t.text, "nan") {
			return &Literal{Value: math.NaN()}, nil
		}
		return &Literal{Value: math.Inf(1)}, nil
	case t.kind == tIdent && t.text == "label_replace" && p.peekAt(1).text == "(":
		return p.labelReplace()
	case t.kind == tIdent && t.text == "vector" && p.peekAt(1).text == "(":
		p.next()
		p.next()
		n := p.next()
		f, err := strconv.ParseFloat(n.text, 64)
		if n.kind != tNumber || err != nil {
			return nil, p.errAt(n.pos, "vector() needs a number, got %s", describe(n))
		}
		return &VectorLit{Value: f}, p.expectPunct(")")
	case t.kind == tIdent:
		return nil, p.unsupported(t, t.text)
	}
	return nil, p.unexpected(t)
}

func (p *parser) grouping() (*Grouping, error) {
	t := p.next()
	g := &Grouping{Without: t.text == "without"}
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	for !p.isPunct(")") {
		if len(g.Labels) > 0 {
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
		}
		l, err := p.ident()
		if err != nil {
			return nil, err
		}
		g.Labels = append(g.Labels, l.text)
	}
	p.next()
	return g, nil
}

func (p *parser) isGrouping() bool {
	t := p.peek()
	return t.kind == tIdent && (t.text == "by" || t.text == "without")
}

func (p *parser) rangeAggr() (SampleExpr, error) {
	op := p.next()
	r := &RangeAggr{Op: op.text}
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	if op.text == "quantile_over_time" {
		t := p.next()
		f, err := strconv.ParseFloat(t.text, 64)
		if t.kind != tNumber || err != nil {
			return nil, p.errAt(t.pos, "quantile_over_time needs a number first, got %s", describe(t))
		}
		r.Param = f
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
	}
	if !p.isPunct("{") {
		return nil, p.errAt(p.peek().pos, "%s needs a log selector such as {job=\"x\"}, got %s", op.text, describe(p.peek()))
	}
	log, err := p.logExpr()
	if err != nil {
		return nil, err
	}
	r.Log = log
	if err := p.expectPunct("["); err != nil {
		return nil, err
	}
	d := p.next()
	if d.kind != tNumber {
		return nil, p.errAt(d.pos, "unexpected %s, want a duration such as 5m", describe(d))
	}
	if r.Range, err = parseDuration(d.text); err != nil || r.Range <= 0 {
		return nil, p.errAt(d.pos, "bad range %q", d.text)
	}
	if err := p.expectPunct("]"); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tIdent && t.text == "offset" {
		p.next()
		d := p.next()
		if r.Offset, err = parseDuration(d.text); d.kind != tNumber || err != nil {
			return nil, p.errAt(d.pos, "bad offset %s", describe(d))
		}
	}
	if err := p.expectPunct(")"); err != nil {
		return nil, err
	}
	for _, s := range log.Stages {
		if u, ok := s.(*UnwrapStage); ok {
			if r.Unwrap != nil {
				return nil, p.errAt(op.pos, "only one unwrap is allowed")
			}
			r.Unwrap = u
		}
	}
	if unwrapOps[op.text] && r.Unwrap == nil {
		return nil, p.errAt(op.pos, "%s needs an unwrapped label: %s({...} | unwrap <label> [5m])", op.text, op.text)
	}
	if r.Unwrap != nil && (op.text == "count_over_time" || op.text == "absent_over_time" || op.text == "bytes_over_time" || op.text == "bytes_rate") {
		return nil, p.errAt(op.pos, "%s does not take an unwrapped label", op.text)
	}
	if p.isGrouping() {
		if r.Unwrap == nil {
			return nil, p.errAt(p.peek().pos, "grouping on %s needs an unwrapped range aggregation; use sum by (...) (%s(...)) instead", op.text, op.text)
		}
		if r.Grouping, err = p.grouping(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (p *parser) vectorAggr() (SampleExpr, error) {
	op := p.next()
	v := &VectorAggr{Op: op.text}
	var err error
	if p.isGrouping() {
		if v.Grouping, err = p.grouping(); err != nil {
			return nil, err
		}
	}
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	if op.text == "topk" || op.text == "bottomk" {
		t := p.next()
		k, err := strconv.Atoi(t.text)
		if t.kind != tNumber || err != nil || k <= 0 {
			return nil, p.errAt(t.pos, "%s needs a positive integer first, got %s", op.text, describe(t))
		}
		v.Param = float64(k)
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
	}
	if v.Inner, err = p.sampleExpr(0); err != nil {
		return nil, err
	}
	if err := p.expectPunct(")"); err != nil {
		return nil, err
	}
	if p.isGrouping() {
		if v.Grouping != nil {
			return nil, p.errAt(p.peek().pos, "grouping given twice")
		}
		if v.Grouping, err = p.grouping(); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// vectorMatch parses `on (a, b)` / `ignoring (a)` and `group_left (c)` / `group_right`
// after a binary operator.
func (p *parser) vectorMatch(op string) (*VectorMatch, error) {
	t := p.peek()
	if t.kind != tIdent || t.text != "on" && t.text != "ignoring" && t.text != "group_left" && t.text != "group_right" {
		return nil, nil
	}
	if t.text != "on" && t.text != "ignoring" {
		return nil, p.errAt(t.pos, "%s needs on(...) or ignoring(...) before it", t.text)
	}
	p.next()
	m := &VectorMatch{On: t.text == "on", Card: "one-to-one"}
	var err error
	if m.Labels, err = p.labelList(); err != nil {
		return nil, err
	}
	if g := p.peek(); g.kind == tIdent && (g.text == "group_left" || g.text == "group_right") {
		if op == "and" || op == "or" || op == "unless" {
			return nil, p.errAt(g.pos, "no grouping allowed for %q operation", op)
		}
		p.next()
		m.Card = "many-to-one"
		if g.text == "group_right" {
			m.Card = "one-to-many"
		}
		if p.isPunct("(") {
			if m.Include, err = p.labelList(); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// labelList parses `(a, b, ...)`.
func (p *parser) labelList() ([]string, error) {
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	var out []string
	for !p.isPunct(")") {
		if len(out) > 0 {
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
		}
		l, err := p.ident()
		if err != nil {
			return nil, err
		}
		out = append(out, l.text)
	}
	p.next()
	return out, nil
}

// labelReplace parses label_replace(v, "dst", "replacement", "src", "regex").
func (p *parser) labelReplace() (SampleExpr, error) {
	p.next()
	p.next() // (
	inner, err := p.sampleExpr(0)
	if err != nil {
		return nil, err
	}
	var args [4]token
	for i := range args {
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
		if args[i], err = p.expectString(); err != nil {
			return nil, err
		}
	}
	lr := &LabelReplace{Inner: inner, Dst: args[0].text, Replacement: args[1].text, Src: args[2].text, Re: args[3].text}
	if !validLabelName(lr.Dst) || lr.Dst == "" {
		return nil, p.errAt(args[0].pos, "invalid destination label name in label_replace(): %s", lr.Dst)
	}
	if lr.re, err = regexp.Compile("^(?s:" + lr.Re + ")$"); err != nil {
		return nil, p.errAt(args[3].pos, "invalid regular expression in label_replace(): %s", lr.Re)
	}
	return lr, p.expectPunct(")")
}

// annotate records on each range aggregation the labels that enclosing `by` groupings
// keep (want), so that structured metadata named there becomes a series label, and
// whether a pipeline error is explicitly asked for (see RangeAggr.preserveErr).
func annotate(e Expr, want []string, parent *VectorAggr) {
	switch x := e.(type) {
	case *RangeAggr:
		x.want = want
		if x.Grouping != nil && !x.Grouping.Without {
			x.want = append(slices.Clone(want), x.Grouping.Labels...)
		}
		// Loki keeps errors in a metric only when the aggregation right above groups with
		// by (...) or not at all, and the grouping or a label filter names __error__
		// (its parser hints' PreserveError).
		if parent != nil && (parent.Grouping == nil || !parent.Grouping.Without) {
			x.preserveErr = slices.Contains(x.want, errorLabel) || filtersName(x.Log.Stages, errorLabel)
		}
	case *VectorAggr:
		if x.Grouping != nil && !x.Grouping.Without {
			want = append(slices.Clone(want), x.Grouping.Labels...)
		}
		annotate(x.Inner, want, x)
	case *BinaryExpr:
		if x.Match != nil && x.Match.On {
			want = append(slices.Clone(want), x.Match.Labels...)
		}
		annotate(x.Left, want, nil)
		annotate(x.Right, want, nil)
	case *LabelReplace:
		annotate(x.Inner, append(slices.Clone(want), x.Src), nil)
	}
}

// filtersName reports whether a label filter of the stages compares the label name.
func filtersName(stages []Stage, name string) bool {
	var walk func(f LabelFilter) bool
	walk = func(f LabelFilter) bool {
		switch x := f.(type) {
		case *LabelBinary:
			return walk(x.Left) || walk(x.Right)
		case *LabelCompare:
			return x.Name == name
		}
		return false
	}
	for _, s := range stages {
		if lf, ok := s.(*LabelFilterStage); ok && walk(lf.Filter) {
			return true
		}
	}
	return false
}
