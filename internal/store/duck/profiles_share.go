package duck

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Shared samples: a pprof with several sample types becomes one store.Profile per type,
// and in a Go CPU profile two of them, samples/count and cpu/nanoseconds, have the same
// stacks with proportional values (nanoseconds = count × period). Their sample rows, once
// each value is divided by its profile's scale (the gcd of its values, profiles.go), are
// the same rows. WriteProfiles writes such rows once (shareSamples), under a type set:
//
//   - a row of profile_types named "typeset:P*1/1,M*N/D,..." (typeSetName), P the type
//     id of the primary member, whose scale the rows' scale column holds, and M another
//     member, whose scale is the row's scale / D × N. The primary is the member with the
//     largest scale, so that D divides it and N/D ≤ 1: cpu/nanoseconds in a Go CPU
//     profile, whose queries then read value × scale as before;
//   - profile_meta keeps one row per member type, so type and label listings are as
//     before; only profile_samples rows carry the set's id in type_id.
//
// A query for a type reads the rows of the type and of every set it belongs to
// (profileTables.sampleScope); a non-primary member scales them with a CASE on type_id.
// A set is a handful of rows, never pruned; the ratio N/D is part of its name, so Go CPU
// profiles of another rate (period) get another set. Only types whose scales are equal or
// apart by the period share rows (sameNormalSamples), so sets stay few.

const typeSetPrefix = "typeset:"

// setMember is one type of a type set.
type setMember struct {
	typeID   int32
	num, den int64 // the member's scale is the primary's / den * num; 1/1 for the primary
}

// sharedType is a profile whose samples are its preparedProfile's: only its meta row is
// written.
type sharedType struct {
	typeName string
	typeID   int32 // set in write, under the lock
	dur      int64
	period   int64
	scale    int64
}

// shareSamples merges the profiles of ps that have the same series, time and samples
// once divided by their scale into one preparedProfile per group, the others of a group
// in its shared list. Profiles of the same type are not merged. Order is kept otherwise.
func shareSamples(ps []preparedProfile) []preparedProfile {
	if len(ps) < 2 {
		return ps
	}
	type key struct{ series, ts int64 }
	heads := map[key][]int{}
	out := make([]preparedProfile, 0, len(ps))
next:
	for i := range ps {
		p := &ps[i]
		k := key{p.seriesID, p.ts}
		for _, j := range heads[k] {
			if sameNormalSamples(&out[j], p) {
				out[j].join(p)
				continue next
			}
		}
		heads[k] = append(heads[k], len(out))
		out = append(out, *p)
	}
	return out
}

// sameNormalSamples says whether b can share a's rows: another type, scales equal or
// apart by the profiles' period, and the same stacks and spans in the same order with the
// same values divided by each one's scale.
//
// The scales' condition keeps the type sets few: a set's name holds the ratio of its
// members' scales, which is the period for a Go CPU profile's two types (nanoseconds =
// count × period) and would be any number for profiles whose values are proportional by
// chance (a heap profile of one stack: its bytes per object).
func sameNormalSamples(a, b *preparedProfile) bool {
	if len(a.samples) != len(b.samples) || a.typeName == b.typeName {
		return false
	}
	byPeriod := a.period > 0 && a.period == b.period && (a.scale == b.scale*a.period || b.scale == a.scale*a.period)
	if a.scale != b.scale && !byPeriod {
		return false
	}
	for _, s := range a.shared {
		if s.typeName == b.typeName {
			return false
		}
	}
	for i := range a.samples {
		x, y := &a.samples[i], &b.samples[i]
		if x.hash != y.hash || x.hasSpan != y.hasSpan || x.spanID != y.spanID || x.spanName != y.spanName ||
			x.value/a.scale != y.value/b.scale {
			return false
		}
	}
	return true
}

// join adds b, whose samples are p's (sameNormalSamples), to p's group. The member with
// the largest scale becomes the primary: the rows keep its scale.
func (p *preparedProfile) join(b *preparedProfile) {
	m := sharedType{typeName: b.typeName, dur: b.dur, period: b.period, scale: b.scale}
	if b.scale > p.scale {
		// The rows are written as value / scale: b's values with b's scale (the same
		// stacks in the same order).
		m = sharedType{typeName: p.typeName, dur: p.dur, period: p.period, scale: p.scale}
		p.typeName, p.dur, p.period, p.scale, p.samples = b.typeName, b.dur, b.period, b.scale, b.samples
	}
	p.shared = append(p.shared, m)
}

// setMembers are the members of p's set, primary first, the others by type id. Type ids
// must be set.
func (p *preparedProfile) setMembers() []setMember {
	out := []setMember{{typeID: p.typeID, num: 1, den: 1}}
	for _, s := range p.shared {
		g := gcd(s.scale, p.scale)
		out = append(out, setMember{typeID: s.typeID, num: s.scale / g, den: p.scale / g})
	}
	slices.SortFunc(out[1:], func(a, b setMember) int { return cmp.Compare(a.typeID, b.typeID) })
	return out
}

// typeSetName is the profile_types name of a set of members, primary first.
func typeSetName(members []setMember) string {
	var b strings.Builder
	b.WriteString(typeSetPrefix)
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d*%d/%d", m.typeID, m.num, m.den)
	}
	return b.String()
}

// parseTypeSet parses a typeSetName.
func parseTypeSet(name string) ([]setMember, error) {
	rest, ok := strings.CutPrefix(name, typeSetPrefix)
	if !ok {
		return nil, fmt.Errorf("type set %q: no %q prefix", name, typeSetPrefix)
	}
	var out []setMember
	for _, f := range strings.Split(rest, ",") {
		id, ratio, ok1 := strings.Cut(f, "*")
		num, den, ok2 := strings.Cut(ratio, "/")
		t, err1 := strconv.ParseInt(id, 10, 32)
		n, err2 := strconv.ParseInt(num, 10, 64)
		d, err3 := strconv.ParseInt(den, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || err3 != nil || n <= 0 || d <= 0 {
			return nil, fmt.Errorf("type set %q: member %q: want id*num/den", name, f)
		}
		out = append(out, setMember{typeID: int32(t), num: n, den: d})
	}
	if len(out) < 2 || out[0].num != 1 || out[0].den != 1 {
		return nil, fmt.Errorf("type set %q: want a primary (id*1/1) and another member", name)
	}
	return out, nil
}

// sampleScope returns the condition on profile_samples' type_id for the rows of one type
// (its own and those of its sets) and the expression of a row's value in that type.
func (p *profileTables) sampleScope(typeID int32) (cond, value string) {
	p.typesMu.RLock()
	defer p.typesMu.RUnlock()
	ids := []string{strconv.FormatInt(int64(typeID), 10)}
	var cases strings.Builder
	for _, setID := range slices.Sorted(maps.Keys(p.sets)) {
		for _, m := range p.sets[setID] {
			if m.typeID != typeID {
				continue
			}
			ids = append(ids, strconv.FormatInt(int64(setID), 10))
			if m.num != 1 || m.den != 1 {
				// The primary's scale is a multiple of den (setMember): exact, and no
				// product larger than the scale.
				fmt.Fprintf(&cases, " WHEN %d THEN scale // %d * %d", setID, m.den, m.num)
			}
		}
	}
	cond = " AND type_id = " + ids[0]
	if len(ids) > 1 {
		cond = " AND type_id IN (" + strings.Join(ids, ",") + ")"
	}
	value = "value * scale"
	if cases.Len() > 0 {
		value = "value * (CASE type_id" + cases.String() + " ELSE scale END)"
	}
	return cond, value
}
