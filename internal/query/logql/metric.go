package logql

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// A metric expression evaluates to a value per series per step (vec). Range
// aggregations without parsers are counted by the store in time buckets (see
// evalRangePushed); everything else reads rows and aggregates in Go (evalRangeRows).

type stepSeries struct {
	labels map[string]string
	vals   []float64
	has    []bool
}

type vec struct {
	scalar bool
	sval   []float64
	series map[string]*stepSeries
}

func newSeries(ls map[string]string, n int) *stepSeries {
	return &stepSeries{labels: ls, vals: make([]float64, n), has: make([]bool, n)}
}

func (v *vec) get(ls map[string]string, n int) *stepSeries {
	k := labelsKey(ls)
	s := v.series[k]
	if s == nil {
		s = newSeries(ls, n)
		v.series[k] = s
	}
	return s
}

// stepTimes returns the evaluation times in ns.
func (e *Engine) stepTimes(p Params) ([]int64, error) {
	if p.IsInstant() {
		return []int64{p.End.UnixNano()}, nil
	}
	if p.Step < 0 {
		return nil, &InputError{"step must be > 0"}
	}
	if p.Step == 0 {
		return nil, &InputError{"step must be > 0"}
	}
	// Loki's query frontend aligns start and end down to multiples of the step (its
	// step_align middleware, in milliseconds), so points fall on multiples of the step.
	step := int64(p.Step)
	if ms := int64(time.Millisecond); step >= ms {
		step = step / ms * ms
	}
	start, end := alignDown(p.Start.UnixNano(), step), alignDown(p.End.UnixNano(), step)
	n := (end-start)/step + 1
	if n > int64(e.opts.MaxSteps) {
		return nil, &InputError{fmt.Sprintf("exceeded maximum resolution of %d points per time series, try a larger step (now %s over %s)", e.opts.MaxSteps, p.Step, p.End.Sub(p.Start))}
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out, nil
}

// alignDown returns the largest multiple of step at or before t.
func alignDown(t, step int64) int64 {
	r := t % step
	if r < 0 {
		r += step
	}
	return t - r
}

func (e *Engine) evalMetric(ctx context.Context, x SampleExpr, p Params) (*Result, error) {
	times, err := e.stepTimes(p)
	if err != nil {
		return nil, err
	}
	var st Stats
	v, err := e.eval(ctx, x, times, &st)
	if err != nil {
		return nil, err
	}
	res := &Result{Stats: st}
	if v.scalar {
		if p.IsInstant() {
			res.Type = "scalar"
			res.Scalar = Point{T: times[0], V: v.sval[0]}
			return res, nil
		}
		s := newSeries(map[string]string{}, len(times))
		copy(s.vals, v.sval)
		for i := range s.has {
			s.has[i] = true
		}
		v = &vec{series: map[string]*stepSeries{"": s}}
	}
	if len(v.series) > e.opts.MaxSeries {
		return nil, &InputError{fmt.Sprintf("maximum of series (%d) reached for a single query", e.opts.MaxSeries)}
	}
	res.Type = "matrix"
	if p.IsInstant() {
		res.Type = "vector"
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range v.series {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		s := v.series[k]
		out := Series{Labels: s.labels}
		for i, ok := range s.has {
			if ok {
				out.Points = append(out.Points, Point{T: times[i], V: s.vals[i]})
			}
		}
		if len(out.Points) > 0 {
			res.Series = append(res.Series, out)
		}
	}
	if a, ok := x.(*VectorAggr); ok && (a.Op == "sort" || a.Op == "sort_desc") && p.IsInstant() {
		slices.SortStableFunc(res.Series, func(s, t Series) int {
			if a.Op == "sort_desc" {
				return cmpFloat(t.Points[0].V, s.Points[0].V)
			}
			return cmpFloat(s.Points[0].V, t.Points[0].V)
		})
	}
	return res, nil
}

func (e *Engine) eval(ctx context.Context, x SampleExpr, times []int64, st *Stats) (*vec, error) {
	switch x := x.(type) {
	case *Literal:
		v := &vec{scalar: true, sval: make([]float64, len(times))}
		for i := range v.sval {
			v.sval[i] = x.Value
		}
		return v, nil
	case *VectorLit:
		ser := newSeries(map[string]string{}, len(times))
		for i := range ser.vals {
			ser.vals[i], ser.has[i] = x.Value, true
		}
		return &vec{series: map[string]*stepSeries{"": ser}}, nil
	case *RangeAggr:
		return e.evalRange(ctx, x, times, st, nil)
	case *VectorAggr:
		var in *vec
		var err error
		if r, ok := x.Inner.(*RangeAggr); ok && x.Op == "sum" && x.Grouping != nil && r.Grouping == nil && additive[r.Op] {
			// sum by (a) (count_over_time(... | json [5m])): group samples by a while
			// reading, instead of keeping one series per distinct parsed label set.
			in, err = e.evalRange(ctx, r, times, st, x.Grouping)
		} else {
			in, err = e.eval(ctx, x.Inner, times, st)
		}
		if err != nil {
			return nil, err
		}
		if in.scalar {
			return nil, &InputError{fmt.Sprintf("%s needs a vector, not a scalar", x.Op)}
		}
		return aggregate(x, in, len(times)), nil
	case *BinaryExpr:
		l, err := e.eval(ctx, x.Left, times, st)
		if err != nil {
			return nil, err
		}
		r, err := e.eval(ctx, x.Right, times, st)
		if err != nil {
			return nil, err
		}
		return binary(x, l, r, len(times))
	case *LabelReplace:
		in, err := e.eval(ctx, x.Inner, times, st)
		if err != nil {
			return nil, err
		}
		return labelReplace(x, in, len(times))
	}
	return nil, fmt.Errorf("unknown expression %T", x)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// maxBuckets bounds the buckets per stream of a pushed-down count.
const maxBuckets = 1_000_000

// additive range aggregations: the sum of their values over series equals their value
// over the union of the series' samples.
var additive = map[string]bool{"count_over_time": true, "rate": true, "bytes_over_time": true, "bytes_rate": true, "sum_over_time": true}

// evalRange evaluates a range aggregation; a non-nil preGroup groups the series labels of
// samples read in Go (see eval, VectorAggr).
func (e *Engine) evalRange(ctx context.Context, r *RangeAggr, times []int64, st *Stats, preGroup *Grouping) (*vec, error) {
	if r.Op == "absent_over_time" {
		return e.evalAbsent(ctx, r, times, st)
	}
	shifted := make([]int64, len(times))
	for i, t := range times {
		shifted[i] = t - int64(r.Offset)
	}
	rng := int64(r.Range)
	first, last := shifted[0], shifted[len(shifted)-1]
	s, err := e.resolve(ctx, r.Log, first-rng+1, last+1)
	if err != nil {
		return nil, err
	}
	out := &vec{series: map[string]*stepSeries{}}
	if len(s.labels) == 0 {
		return out, nil
	}
	width := rng
	if len(shifted) > 1 {
		width = gcd(shifted[1]-shifted[0], rng)
	}
	counting := r.Op == "count_over_time" || r.Op == "rate" || r.Op == "bytes_over_time" || r.Op == "bytes_rate"
	if counting && r.Unwrap == nil && len(s.stages) == 0 && !wantsMetadata(r.want, s, true) && (last-first+rng)/width <= maxBuckets {
		st.PushedDown = true
		return out, e.evalRangePushed(ctx, r, s, shifted, width, out, st)
	}
	return out, e.evalRangeRows(ctx, r, s, shifted, out, st, preGroup)
}

// evalRangePushed has the store count records per stream in buckets of width, a divisor
// of both the step and the range, so that each window (t-range, t] is a whole number of
// buckets; prefix sums then give every window's count.
func (e *Engine) evalRangePushed(ctx context.Context, r *RangeAggr, s *selection, times []int64, width int64, out *vec, st *Stats) error {
	rng := int64(r.Range)
	origin := times[0] - rng
	nb := (times[len(times)-1] - origin) / width
	s.sel.BodyBytes = r.Op == "bytes_over_time" || r.Op == "bytes_rate"
	buckets, err := e.store.Buckets(ctx, s.sel, origin, width)
	if err != nil {
		return err
	}
	type sums struct {
		labels        map[string]string
		counts, bytes []int64
	}
	per := map[string]*sums{}
	for _, b := range buckets {
		st.Lines += b.Count
		st.Bytes += b.Bytes
		ls, ok := s.labels[b.Stream]
		if !ok || b.Index < 0 || b.Index >= nb {
			continue
		}
		if _, has := ls["detected_level"]; !has && b.Level != "" {
			ls = maps.Clone(ls)
			ls["detected_level"] = normalizeLevel(b.Level)
		}
		k := labelsKey(ls)
		x := per[k]
		if x == nil {
			x = &sums{labels: ls, counts: make([]int64, nb+1), bytes: make([]int64, nb+1)}
			per[k] = x
		}
		x.counts[b.Index+1] += b.Count
		x.bytes[b.Index+1] += b.Bytes
	}
	secs := r.Range.Seconds()
	for k, x := range per {
		for j := int64(1); j <= nb; j++ {
			x.counts[j] += x.counts[j-1]
			x.bytes[j] += x.bytes[j-1]
		}
		ser := newSeries(x.labels, len(times))
		for i, t := range times {
			lo := (t - rng - origin) / width
			hi := (t - origin) / width
			n := x.counts[hi] - x.counts[lo]
			if n == 0 {
				continue
			}
			b := float64(x.bytes[hi] - x.bytes[lo])
			ser.has[i] = true
			switch r.Op {
			case "count_over_time":
				ser.vals[i] = float64(n)
			case "rate":
				ser.vals[i] = float64(n) / secs
			case "bytes_over_time":
				ser.vals[i] = b
			case "bytes_rate":
				ser.vals[i] = b / secs
			}
		}
		out.series[k] = ser
	}
	return nil
}

type sample struct {
	t int64
	v float64
}

// evalRangeRows reads the rows of the whole span, runs the pipeline on each, and
// aggregates the samples of each window in Go.
func (e *Engine) evalRangeRows(ctx context.Context, r *RangeAggr, s *selection, times []int64, out *vec, st *Stats, preGroup *Grouping) error {
	s.sel.Unordered = true
	s.sel.NoAttributes = !readsLabels(s.stages) && !wantsMetadata(r.want, s, false)
	type acc struct {
		labels  map[string]string
		samples []sample
	}
	per := map[string]*acc{}
	unwrapped := ""
	if r.Unwrap != nil {
		unwrapped = r.Unwrap.Label
	}
	var n int64
	for row, err := range e.store.Rows(ctx, s.sel) {
		if err != nil {
			return err
		}
		ls, ok := s.labels[row.Stream]
		if !ok {
			continue
		}
		st.Lines++
		st.Bytes += int64(len(row.Body))
		en := newEntry(row, ls, s.keysets[row.Stream])
		if !run(s.stages, en) {
			continue
		}
		if kind, bad := en.labels[errorLabel]; bad && !r.preserveErr {
			return &InputError{fmt.Sprintf("pipeline error: '%s' for series: '%s'. Use a label filter to intentionally skip this error. (e.g | __error__!=\"%s\"). To skip all potential errors you can match empty errors.(e.g __error__=\"\") The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )",
				kind, LabelsString(en.seriesLabels(unwrapped)), kind)}
		}
		if n++; n > e.opts.MaxSamples {
			return &InputError{fmt.Sprintf("query reads more than %d entries; narrow the selector or the time range", e.opts.MaxSamples)}
		}
		v := 1.0
		switch {
		case r.Unwrap != nil:
			v = en.value
		case r.Op == "bytes_over_time" || r.Op == "bytes_rate":
			v = float64(len(en.line))
		}
		ls2 := en.seriesLabels(unwrapped)
		for _, k := range r.want {
			if en.meta[k] {
				ls2[k] = en.labels[k] // structured metadata named by a `by` grouping
			}
		}
		if r.Grouping != nil {
			ls2 = group(r.Grouping, ls2)
		}
		if preGroup != nil {
			ls2 = group(preGroup, ls2)
		}
		k := labelsKey(ls2)
		a := per[k]
		if a == nil {
			a = &acc{labels: ls2}
			per[k] = a
		}
		a.samples = append(a.samples, sample{row.Timestamp, v})
	}
	rng := int64(r.Range)
	for k, a := range per {
		// Stable, so that first/last_over_time see equal timestamps in store order.
		slices.SortStableFunc(a.samples, func(x, y sample) int { return cmpInt(x.t, y.t) })
		ser := newSeries(a.labels, len(times))
		lo, hi := 0, 0
		for i, t := range times {
			for hi < len(a.samples) && a.samples[hi].t <= t {
				hi++
			}
			for lo < hi && a.samples[lo].t <= t-rng {
				lo++
			}
			if lo == hi {
				continue
			}
			ser.has[i] = true
			ser.vals[i] = overTime(r.Op, r.Param, a.samples[lo:hi], r.Range)
		}
		out.series[k] = ser
	}
	return nil
}

func overTime(op string, param float64, ss []sample, rng time.Duration) float64 {
	sum := 0.0
	for _, s := range ss {
		sum += s.v
	}
	n := float64(len(ss))
	switch op {
	case "count_over_time":
		return n
	case "rate":
		return sum / rng.Seconds()
	case "bytes_over_time", "sum_over_time":
		return sum
	case "bytes_rate":
		return sum / rng.Seconds()
	case "avg_over_time":
		return sum / n
	case "min_over_time":
		m := math.Inf(1)
		for _, s := range ss {
			m = math.Min(m, s.v)
		}
		return m
	case "max_over_time":
		m := math.Inf(-1)
		for _, s := range ss {
			m = math.Max(m, s.v)
		}
		return m
	case "stddev_over_time", "stdvar_over_time":
		mean := sum / n
		variance := 0.0
		for _, s := range ss {
			variance += (s.v - mean) * (s.v - mean)
		}
		variance /= n
		if op == "stddev_over_time" {
			return math.Sqrt(variance)
		}
		return variance
	case "quantile_over_time":
		vals := make([]float64, len(ss))
		for i, s := range ss {
			vals[i] = s.v
		}
		return quantile(param, vals)
	case "first_over_time":
		return ss[0].v
	case "last_over_time":
		return ss[len(ss)-1].v
	}
	return math.NaN()
}

// quantile is Prometheus' quantile with linear interpolation between closest ranks.
func quantile(q float64, vals []float64) float64 {
	if len(vals) == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	if q < 0 {
		return math.Inf(-1)
	}
	if q > 1 {
		return math.Inf(1)
	}
	slices.Sort(vals)
	rank := q * float64(len(vals)-1)
	lo := math.Floor(rank)
	hi := math.Ceil(rank)
	w := rank - lo
	return vals[int(lo)]*(1-w) + vals[int(hi)]*w
}

// evalAbsent is absent_over_time: 1 at the steps where the selection has no entry in the
// window, labelled with the selector's equality matchers (as Prometheus' absent does).
func (e *Engine) evalAbsent(ctx context.Context, r *RangeAggr, times []int64, st *Stats) (*vec, error) {
	counts := *r
	counts.Op = "count_over_time"
	in, err := e.evalRange(ctx, &counts, times, st, nil)
	if err != nil {
		return nil, err
	}
	ls := map[string]string{}
	for _, m := range r.Log.Matchers {
		if m.Type == MatchEq {
			ls[m.Name] = m.Value
		}
	}
	out := newSeries(ls, len(times))
	for i := range times {
		out.has[i], out.vals[i] = true, 1
		for _, s := range in.series {
			if s.has[i] {
				out.has[i] = false
				break
			}
		}
	}
	return &vec{series: map[string]*stepSeries{labelsKey(ls): out}}, nil
}

// wantsMetadata reports whether a label that a `by` grouping keeps (want) may be
// structured metadata: it is not a label of every selected stream. Such a grouping
// needs the rows (and their attributes) rather than the store's per-stream counts.
// For the pushdown decision (forCounting), level and detected_level do not count:
// Grafana's log volume query groups by them and must stay a store count (Loupe's
// detected_level comes with the counts; `level` would only split by metadata of that
// name, which Loupe then does not see).
func wantsMetadata(want []string, s *selection, forCounting bool) bool {
	for _, k := range want {
		if k == errorLabel || k == errorDetailsLabel || forCounting && (k == "level" || k == "detected_level") {
			continue
		}
		for _, ks := range s.keysets {
			if !ks[k] {
				return true
			}
		}
	}
	return false
}
