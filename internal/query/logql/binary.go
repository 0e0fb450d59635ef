package logql

import (
	"fmt"
	"maps"
	"slices"
)

// Binary operators between vectors and scalars, with PromQL's vector matching (which
// Loki uses): on/ignoring, group_left/group_right, and the set operators and, or, unless.

var setOps = map[string]bool{"and": true, "or": true, "unless": true}

func binary(x *BinaryExpr, l, r *vec, n int) (*vec, error) {
	comparison := compareOps[x.Op]
	if x.Bool && !comparison {
		return nil, &InputError{fmt.Sprintf("bool modifier can only be used on comparison operators, not %s", x.Op)}
	}
	if setOps[x.Op] && (l.scalar || r.scalar) {
		return nil, &InputError{fmt.Sprintf("set operator %q not allowed in binary scalar expression", x.Op)}
	}
	if l.scalar && r.scalar {
		v := &vec{scalar: true, sval: make([]float64, n)}
		for i := range n {
			val, keep := binOp(x.Op, l.sval[i], r.sval[i])
			if comparison {
				val = b2f(keep)
			}
			v.sval[i] = val
		}
		return v, nil
	}
	out := &vec{series: map[string]*stepSeries{}}
	// apply sets the result of a <op> b at step i on the series labelled ls; for
	// comparisons without bool, keep is the operand whose value a kept sample has.
	apply := func(ls map[string]string, i int, a, b, keep float64) {
		val, ok := binOp(x.Op, a, b)
		switch {
		case comparison && x.Bool:
			val = b2f(ok)
		case comparison:
			if !ok {
				return
			}
			val = keep
		}
		o := out.get(ls, n)
		o.has[i], o.vals[i] = true, val
	}
	switch {
	case r.scalar:
		for _, s := range l.series {
			for i := range n {
				if s.has[i] {
					apply(s.labels, i, s.vals[i], r.sval[i], s.vals[i])
				}
			}
		}
		return out, nil
	case l.scalar:
		for _, s := range r.series {
			for i := range n {
				if s.has[i] {
					apply(s.labels, i, l.sval[i], s.vals[i], s.vals[i])
				}
			}
		}
		return out, nil
	}
	m := x.Match
	if m == nil {
		m = &VectorMatch{Card: "one-to-one"}
	}
	if setOps[x.Op] {
		return setOp(x.Op, m, l, r, n), nil
	}
	if err := matchVectors(m, l, r, n, apply); err != nil {
		return nil, err
	}
	return out, nil
}

// signature is the part of ls that pairs series: the on(...) labels, or all labels but
// the ignoring(...) ones.
func signature(m *VectorMatch, ls map[string]string) string {
	if m.On {
		sub := make(map[string]string, len(m.Labels))
		for _, k := range m.Labels {
			if v := ls[k]; v != "" {
				sub[k] = v
			}
		}
		return labelsKey(sub)
	}
	if len(m.Labels) == 0 {
		return labelsKey(ls)
	}
	sub := maps.Clone(ls)
	for _, k := range m.Labels {
		delete(sub, k)
	}
	return labelsKey(sub)
}

// setOp evaluates and, or, unless step by step: and keeps the left samples whose
// signature the right side has at that step, unless those it has not, or adds to the
// left side the right samples whose signature the left side lacks.
func setOp(op string, m *VectorMatch, l, r *vec, n int) *vec {
	out := &vec{series: map[string]*stepSeries{}}
	lsig := sigs(m, l)
	rsig := sigs(m, r)
	for i := range n {
		present := map[string]bool{}
		for k, s := range r.series {
			if s.has[i] {
				present[rsig[k]] = true
			}
		}
		leftSigs := map[string]bool{}
		for k, s := range l.series {
			if !s.has[i] {
				continue
			}
			leftSigs[lsig[k]] = true
			if op == "and" && !present[lsig[k]] || op == "unless" && present[lsig[k]] {
				continue
			}
			o := out.get(s.labels, n)
			o.has[i], o.vals[i] = true, s.vals[i]
		}
		if op != "or" {
			continue
		}
		for k, s := range r.series {
			if s.has[i] && !leftSigs[rsig[k]] {
				o := out.get(s.labels, n)
				o.has[i], o.vals[i] = true, s.vals[i]
			}
		}
	}
	return out
}

func sigs(m *VectorMatch, v *vec) map[string]string {
	out := make(map[string]string, len(v.series))
	for k, s := range v.series {
		out[k] = signature(m, s.labels)
	}
	return out
}

// matchVectors pairs the series of l and r for arithmetic and comparisons. One-to-one
// matching wants at most one series per signature on each side; group_left lets the
// left side have many (group_right the right side), and the result is labelled by the
// "many" side plus the group_x(...) labels of the "one" side.
func matchVectors(m *VectorMatch, l, r *vec, n int, apply func(ls map[string]string, i int, a, b, keep float64)) error {
	many, one := l, r
	swapped := m.Card == "one-to-many"
	if swapped {
		many, one = r, l
	}
	manySig, oneSig := sigs(m, many), sigs(m, one)
	manyKeys := slices.Sorted(maps.Keys(many.series))
	result := map[string]map[string]string{} // many-side key + one-side key -> result labels
	for i := range n {
		bySig := map[string]*stepSeries{}
		for k, s := range one.series {
			if !s.has[i] {
				continue
			}
			if _, dup := bySig[oneSig[k]]; dup {
				side := "right"
				if swapped {
					side = "left"
				}
				return &InputError{fmt.Sprintf("found duplicate series for the match group %s on the %s hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side", oneSig[k], side)}
			}
			bySig[oneSig[k]] = s
		}
		seenSig := map[string]bool{}
		seenResult := map[string]bool{}
		for _, k := range manyKeys {
			s := many.series[k]
			if !s.has[i] {
				continue
			}
			o := bySig[manySig[k]]
			if o == nil {
				continue
			}
			if m.Card == "one-to-one" {
				if seenSig[manySig[k]] {
					return &InputError{"multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"}
				}
				seenSig[manySig[k]] = true
			}
			rk := k + "\xff" + labelsKey(o.labels)
			ls, ok := result[rk]
			if !ok {
				ls = resultLabels(m, s.labels, o.labels)
				result[rk] = ls
			}
			key := labelsKey(ls)
			if seenResult[key] {
				return &InputError{"multiple matches for labels: grouping labels must ensure unique matches"}
			}
			seenResult[key] = true
			a, b := s.vals[i], o.vals[i]
			if swapped {
				a, b = b, a
			}
			apply(ls, i, a, b, a)
		}
	}
	return nil
}

// resultLabels labels a matched pair as PromQL does: one-to-one results keep only the
// on(...) labels (or drop the ignoring(...) ones); group_x results keep the "many" side's
// labels and take the listed labels from the "one" side.
func resultLabels(m *VectorMatch, many, one map[string]string) map[string]string {
	ls := maps.Clone(many)
	if m.Card == "one-to-one" {
		if m.On {
			keep := map[string]string{}
			for _, k := range m.Labels {
				if v, ok := ls[k]; ok {
					keep[k] = v
				}
			}
			ls = keep
		} else {
			for _, k := range m.Labels {
				delete(ls, k)
			}
		}
	}
	for _, k := range m.Include {
		if v := one[k]; v != "" {
			ls[k] = v
		} else {
			delete(ls, k)
		}
	}
	return ls
}
