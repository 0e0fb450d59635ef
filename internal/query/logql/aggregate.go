package logql

import (
	"maps"
	"math"
	"slices"
	"strings"
)

// group returns the labels of ls kept by g.
func group(g *Grouping, ls map[string]string) map[string]string {
	out := map[string]string{}
	if g == nil {
		return out
	}
	if g.Without {
		for k, v := range ls {
			if !slices.Contains(g.Labels, k) {
				out[k] = v
			}
		}
		return out
	}
	for _, k := range g.Labels {
		if v, ok := ls[k]; ok && v != "" {
			out[k] = v
		}
	}
	return out
}

func aggregate(x *VectorAggr, in *vec, n int) *vec {
	out := &vec{series: map[string]*stepSeries{}}
	if x.Op == "topk" || x.Op == "bottomk" {
		return topk(x, in, n)
	}
	if x.Op == "sort" || x.Op == "sort_desc" {
		return in // the order is applied to the result (evalMetric)
	}
	type accum struct {
		sum, min, max, count, mean, m2 float64
	}
	groups := map[string]*stepSeries{}
	accs := map[string][]accum{}
	for _, s := range in.series {
		gl := group(x.Grouping, s.labels)
		k := labelsKey(gl)
		gs := groups[k]
		if gs == nil {
			gs = newSeries(gl, n)
			groups[k] = gs
			accs[k] = make([]accum, n)
		}
		a := accs[k]
		for i := range n {
			if !s.has[i] {
				continue
			}
			v := s.vals[i]
			ai := &a[i]
			if !gs.has[i] {
				ai.min, ai.max = v, v
			}
			gs.has[i] = true
			ai.sum += v
			ai.min = math.Min(ai.min, v)
			ai.max = math.Max(ai.max, v)
			ai.count++
			d := v - ai.mean
			ai.mean += d / ai.count
			ai.m2 += d * (v - ai.mean)
		}
	}
	for k, gs := range groups {
		a := accs[k]
		for i := range n {
			if !gs.has[i] {
				continue
			}
			switch x.Op {
			case "sum":
				gs.vals[i] = a[i].sum
			case "avg":
				gs.vals[i] = a[i].mean
			case "min":
				gs.vals[i] = a[i].min
			case "max":
				gs.vals[i] = a[i].max
			case "count":
				gs.vals[i] = a[i].count
			case "stdvar":
				gs.vals[i] = a[i].m2 / a[i].count
			case "stddev":
				gs.vals[i] = math.Sqrt(a[i].m2 / a[i].count)
			}
		}
		out.series[k] = gs
	}
	return out
}

func topk(x *VectorAggr, in *vec, n int) *vec {
	out := &vec{series: map[string]*stepSeries{}}
	k := int(x.Param)
	groups := map[string][]*stepSeries{}
	for _, s := range in.series {
		gk := labelsKey(group(x.Grouping, s.labels))
		groups[gk] = append(groups[gk], s)
	}
	for _, members := range groups {
		for i := range n {
			var cand []*stepSeries
			for _, s := range members {
				if s.has[i] {
					cand = append(cand, s)
				}
			}
			slices.SortStableFunc(cand, func(a, b *stepSeries) int {
				c := cmpFloat(b.vals[i], a.vals[i])
				if x.Op == "bottomk" {
					c = -c
				}
				if c == 0 {
					return strings.Compare(labelsKey(a.labels), labelsKey(b.labels))
				}
				return c
			})
			for _, s := range cand[:min(k, len(cand))] {
				o := out.get(s.labels, n)
				o.has[i], o.vals[i] = true, s.vals[i]
			}
		}
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var compareOps = map[string]bool{"==": true, "!=": true, ">": true, "<": true, ">=": true, "<=": true}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// binOp returns the arithmetic result, or for comparisons whether it holds.
func binOp(op string, a, b float64) (float64, bool) {
	switch op {
	case "+":
		return a + b, true
	case "-":
		return a - b, true
	case "*":
		return a * b, true
	case "/":
		return a / b, true
	case "%":
		return math.Mod(a, b), true
	case "^":
		return math.Pow(a, b), true
	}
	return 0, compare(op, a, b)
}

// readsLabels reports whether a stage may read structured metadata, which metric series
// labels do not carry: label filters, formats and drop/keep.
func readsLabels(stages []Stage) bool {
	for _, st := range stages {
		switch st.(type) {
		case *LabelFilterStage, *LineFormatStage, *LabelFormatStage, *DropKeepStage:
			return true
		}
	}
	return false
}

// labelReplace is PromQL's label_replace: where the anchored regexp matches the value of
// src, dst is set to the expanded replacement (removed when that is empty).
func labelReplace(x *LabelReplace, in *vec, n int) (*vec, error) {
	if in.scalar {
		return nil, &InputError{"label_replace needs a vector, not a scalar"}
	}
	out := &vec{series: map[string]*stepSeries{}}
	for _, s := range in.series {
		ls := s.labels
		if idx := x.re.FindStringSubmatchIndex(ls[x.Src]); idx != nil {
			v := string(x.re.ExpandString(nil, x.Replacement, ls[x.Src], idx))
			ls = maps.Clone(ls)
			if v == "" {
				delete(ls, x.Dst)
			} else {
				ls[x.Dst] = v
			}
		}
		k := labelsKey(ls)
		if _, dup := out.series[k]; dup {
			return nil, &InputError{"vector cannot contain metrics with the same labelset"}
		}
		c := *s
		c.labels = ls
		out.series[k] = &c
	}
	return out, nil
}
