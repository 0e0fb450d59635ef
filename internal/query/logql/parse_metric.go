package logql

import (
	"math"
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
		if t.kind == tIdent {
			return nil, p.unsupported(t, t.text)
		}
		p.next()
		b := &BinaryExpr{Op: t.text, Left: left}
		if n := p.peek(); n.kind == tIdent && n.text == "bool" {
			p.next()
			b.Bool = true
		}
		if n := p.peek(); n.kind == tIdent && (n.text == "on" || n.text == "ignoring" || n.text == "group_left" || n.text == "group_right") {
			return nil, p.unsupported(n, n.text)
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
