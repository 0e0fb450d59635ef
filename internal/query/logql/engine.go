package logql

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/query/logql/plan"
)

// Options bound the work of one query.
type Options struct {
	MaxEntries int   // cap on the limit of log queries
	MaxSeries  int   // series of a metric result
	MaxSamples int64 // samples a metric query may evaluate in Go (queries with parsers or unwrap)
	MaxSteps   int   // evaluation steps of a range query
	// MaxStreamFilter is the largest set of stream keys passed to the store; beyond it the
	// store reads every stream and the engine checks the selector per row.
	MaxStreamFilter int
}

// DefaultOptions returns limits for a single-node setup.
func DefaultOptions() Options {
	return Options{MaxEntries: 5000, MaxSeries: 20000, MaxSamples: 50_000_000, MaxSteps: 11000, MaxStreamFilter: 5000}
}

// Engine evaluates LogQL over a store. Safe for concurrent use.
type Engine struct {
	store  plan.Store
	opts   Options
	logger *slog.Logger
}

// NewEngine returns an engine reading st.
// Zero fields of opts take their defaults; a nil logger discards logs.
func NewEngine(st plan.Store, opts Options, logger *slog.Logger) *Engine {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	def := DefaultOptions()
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = def.MaxEntries
	}
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = def.MaxSeries
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = def.MaxSamples
	}
	if opts.MaxSteps <= 0 {
		opts.MaxSteps = def.MaxSteps
	}
	if opts.MaxStreamFilter <= 0 {
		opts.MaxStreamFilter = def.MaxStreamFilter
	}
	return &Engine{store: st, opts: opts, logger: logger}
}

// Params are the parameters of one evaluation. An instant query has Start == End and
// Step == 0.
type Params struct {
	Start, End time.Time
	Step       time.Duration
	Limit      int  // log queries: entries (default 100)
	Forward    bool // log queries: oldest first
}

// Result is a query result: Streams for log queries, Series for metric queries, or a
// scalar.
type Result struct {
	Type    string // "streams", "matrix", "vector" or "scalar"
	Streams []Stream
	Series  []Series
	Scalar  Point
	Stats   Stats
}

// Stream is the entries of one label set, in the query's direction.
type Stream struct {
	Labels  map[string]string
	Entries []Entry
}

// Entry is one log line.
type Entry struct {
	Timestamp int64 // ns
	Line      string
}

// Series is one metric series; a vector result has one point per series.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is a value at a time (ns).
type Point struct {
	T int64
	V float64
}

// Stats counts the work of a query.
type Stats struct {
	Lines        int64 // rows read from the store
	Bytes        int64 // body bytes of those rows
	Entries      int64 // entries returned
	PushedDown   bool  // counting done by the store
	ExecDuration time.Duration
}

// IsInstant reports whether the parameters describe an instant query.
func (p Params) IsInstant() bool { return p.Step == 0 }

// Query parses and evaluates q.
func (e *Engine) Query(ctx context.Context, q string, p Params) (*Result, error) {
	expr, err := Parse(q)
	if err != nil {
		return nil, err
	}
	return e.Eval(ctx, expr, p)
}

// Eval evaluates a parsed expression.
func (e *Engine) Eval(ctx context.Context, expr Expr, p Params) (*Result, error) {
	start := time.Now()
	if p.End.Before(p.Start) {
		return nil, &InputError{fmt.Sprintf("end %s is before start %s", p.End.Format(time.RFC3339Nano), p.Start.Format(time.RFC3339Nano))}
	}
	var res *Result
	var err error
	switch x := expr.(type) {
	case *LogExpr:
		if p.IsInstant() {
			return nil, &InputError{"log queries are not supported as an instant query type, please change your query to a range query type"}
		}
		res, err = e.evalLogs(ctx, x, p)
	case SampleExpr:
		res, err = e.evalMetric(ctx, x, p)
	default:
		err = fmt.Errorf("unknown expression %T", expr)
	}
	if res != nil {
		res.Stats.ExecDuration = time.Since(start)
	}
	return res, err
}

// InputError is a query that cannot be evaluated as asked (HTTP 400).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// selection is the resolved stream selector of a log expression.
type selection struct {
	labels  map[uint64]map[string]string // stream key -> stream labels
	keysets map[uint64]map[string]bool   // stream key -> set of its label names
	sel     plan.Select
	stages  []Stage // stages left for Go after pushdown
}

// resolve lists the streams in [start, end) matching the selector and pushes the
// leading line filters (those before any stage that changes the line: line_format,
// unpack) down to the store.
func (e *Engine) resolve(ctx context.Context, x *LogExpr, start, end int64) (*selection, error) {
	streams, err := e.store.Streams(ctx, start, end, false)
	if err != nil {
		return nil, err
	}
	s := &selection{labels: map[uint64]map[string]string{}, keysets: map[uint64]map[string]bool{}}
	keys := []uint64{}
	for _, st := range streams {
		ls := StreamLabels(st)
		if !matchesAll(x.Matchers, ls) {
			continue
		}
		s.labels[st.Key] = ls
		ks := make(map[string]bool, len(ls))
		for k := range ls {
			ks[k] = true
		}
		s.keysets[st.Key] = ks
		keys = append(keys, st.Key)
	}
	s.sel = plan.Select{Start: start, End: end, Streams: keys}
	if len(keys) > e.opts.MaxStreamFilter {
		s.sel.Streams = nil // rows of other streams are skipped by the engine
	}
	// mayErr: an earlier stage may have set __error__, so stages about it must stay.
	formatted, mayErr := false, false
	for _, st := range x.Stages {
		switch st := st.(type) {
		case *ParserStage, *LabelFormatStage, *LineFormatStage:
			mayErr = true
		case *LabelFilterStage:
			// `| __error__=""` before any parser keeps every line: there is no error yet.
			if c, ok := st.Filter.(*LabelCompare); ok && !mayErr && c.Name == errorLabel && c.Kind == "string" && c.Op == "=" && c.Str == "" {
				continue
			}
			mayErr = true // numeric filters can set __error__ too
		case *UnwrapStage:
			mayErr = true
		case *DropKeepStage:
			// Grafana's log volume query ends in `| drop __error__`: without a parser
			// before it there is no error label to drop, so it does not stop pushdown.
			if !mayErr && !st.Keep && len(st.Match) == 0 && !slices.ContainsFunc(st.Names, func(n string) bool {
				return n != errorLabel && n != errorDetailsLabel
			}) {
				continue
			}
		}
		if _, ok := st.(*LineFormatStage); ok {
			formatted = true
		}
		if ps, ok := st.(*ParserStage); ok && ps.Kind == "unpack" {
			formatted = true // unpack replaces the line with its _entry
		}
		if _, ok := st.(*DecolorizeStage); ok {
			formatted = true
		}
		if lf, ok := st.(*LineFilter); ok && !formatted && lf.ip == nil {
			s.sel.LineFilters = append(s.sel.LineFilters, plan.LineFilter{Op: lineOp(lf.Op), Values: lf.Values})
			continue
		}
		s.stages = append(s.stages, st)
	}
	s.sel.AttrFilters = attrPushdown(x.Stages, s.keysets) // narrows only: the stages stay
	return s, nil
}

func lineOp(op string) plan.LineOp {
	switch op {
	case "!=":
		return plan.LineNotContains
	case "|~":
		return plan.LineMatch
	case "!~":
		return plan.LineNotMatch
	}
	return plan.LineContains
}

func matchesAll(ms []*Matcher, ls map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(ls[m.Name]) {
			return false
		}
	}
	return true
}

// keepsAll reports whether stages never drop entries (so a store limit is exact).
func keepsAll(stages []Stage) bool {
	for _, s := range stages {
		switch s.(type) {
		case *LabelFilterStage, *LineFilter:
			return false
		}
	}
	return true
}

func (e *Engine) evalLogs(ctx context.Context, x *LogExpr, p Params) (*Result, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > e.opts.MaxEntries {
		return nil, &InputError{fmt.Sprintf("limit %d is over the maximum of %d entries", limit, e.opts.MaxEntries)}
	}
	s, err := e.resolve(ctx, x, p.Start.UnixNano(), p.End.UnixNano())
	if err != nil {
		return nil, err
	}
	res := &Result{Type: "streams"}
	if len(s.labels) == 0 {
		return res, nil
	}
	s.sel.Forward = p.Forward
	if keepsAll(s.stages) && s.sel.Streams != nil {
		// Exact only when the store reads just the selected streams.
		s.sel.Limit = limit
	}
	byKey := map[string]*Stream{}
	var order []string
	n := 0
	for row, err := range e.store.Rows(ctx, s.sel) {
		if err != nil {
			return nil, err
		}
		ls, ok := s.labels[row.Stream]
		if !ok {
			continue
		}
		res.Stats.Lines++
		res.Stats.Bytes += int64(len(row.Body))
		en := newEntry(row, ls, s.keysets[row.Stream])
		if !run(s.stages, en) {
			continue
		}
		delete(en.labels, errorDetailsLabel)
		key := labelsKey(en.labels)
		st := byKey[key]
		if st == nil {
			st = &Stream{Labels: en.labels}
			byKey[key] = st
			order = append(order, key)
		}
		st.Entries = append(st.Entries, Entry{Timestamp: row.Timestamp, Line: en.line})
		n++
		if n >= limit {
			break
		}
	}
	for _, k := range order {
		res.Streams = append(res.Streams, *byKey[k])
	}
	res.Stats.Entries = int64(n)
	return res, nil
}

// labelsKey is a canonical string of a label set.
func labelsKey(ls map[string]string) string {
	keys := slices.Sorted(maps.Keys(ls))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(ls[k])
		b.WriteByte(0)
	}
	return b.String()
}

// LabelsString formats labels as {a="b", c="d"}, sorted by name.
func LabelsString(ls map[string]string) string {
	keys := slices.Sorted(maps.Keys(ls))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, ls[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// ParseSelector parses a query and returns the matchers of its stream selector (the first
// one of a metric query), for the series, labels and index endpoints.
func ParseSelector(q string) ([]*Matcher, error) {
	e, err := Parse(q)
	if err != nil {
		return nil, err
	}
	if m := selectorOf(e); m != nil {
		return m, nil
	}
	return nil, &InputError{"query has no stream selector"}
}

func selectorOf(e Expr) []*Matcher {
	switch x := e.(type) {
	case *LogExpr:
		return x.Matchers
	case *RangeAggr:
		return x.Log.Matchers
	case *VectorAggr:
		return selectorOf(x.Inner)
	case *BinaryExpr:
		if m := selectorOf(x.Left); m != nil {
			return m
		}
		return selectorOf(x.Right)
	}
	return nil
}

// MatchesAll reports whether the labels ls match every matcher.
func MatchesAll(ms []*Matcher, ls map[string]string) bool { return matchesAll(ms, ls) }
