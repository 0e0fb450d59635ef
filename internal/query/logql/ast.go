package logql

import (
	"regexp"
	"text/template"
	"time"
)

// Expr is a parsed query: a *LogExpr (log query) or a SampleExpr (metric query).
type Expr interface{ isExpr() }

// SampleExpr is a metric expression: *RangeAggr, *VectorAggr, *BinaryExpr or *Literal.
type SampleExpr interface {
	Expr
	isSample()
}

// MatchType is the operator of a stream matcher or a string label filter.
type MatchType int

const (
	MatchEq MatchType = iota
	MatchNeq
	MatchRe
	MatchNre
)

func (m MatchType) String() string { return [...]string{"=", "!=", "=~", "!~"}[m] }

// Matcher matches one label. Regexps are anchored, as in Prometheus and Loki.
type Matcher struct {
	Name  string
	Type  MatchType
	Value string
	re    *regexp.Regexp
}

// Matches reports whether the label value v (missing labels are "") matches.
func (m *Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEq:
		return v == m.Value
	case MatchNeq:
		return v != m.Value
	case MatchRe:
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

// LogExpr is a stream selector followed by pipeline stages.
type LogExpr struct {
	Matchers []*Matcher
	Stages   []Stage
}

func (*LogExpr) isExpr() {}

// Stage is one pipeline stage.
type Stage interface{ isStage() }

// LineFilter is `|= "a"`, `!= "a"`, `|~ "re"`, `!~ "re"`; several values are `or`ed.
type LineFilter struct {
	Op     string // |= != |~ !~
	Values []string
	res    []*regexp.Regexp
	ip     *ipMatcher // |= ip("..."): Values holds the argument
}

// ParserStage is `| json`, `| logfmt`, `| regexp "re"`, `| pattern "p"` or `| unpack`.
type ParserStage struct {
	Kind   string // json, logfmt, regexp, pattern, unpack
	Arg    string
	Params []JSONParam // json with expressions: | json a="x.y"; logfmt: | logfmt a, b="key"
	// logfmt flags: --strict stops at the first malformed pair with an error;
	// --keep-empty keeps keys without a value (as "").
	Strict, KeepEmpty bool
	re                *regexp.Regexp
	pattern           []patternPart
}

// JSONParam extracts one label from a JSON path.
type JSONParam struct {
	Label string
	Path  []string // keys; "[n]" elements index arrays
}

// LabelFilterStage is `| a="x" and b > 10 or ...`.
type LabelFilterStage struct{ Filter LabelFilter }

// LabelFilter is a boolean expression over labels.
type LabelFilter interface{ isLabelFilter() }

// LabelBinary is `a and b` / `a or b`.
type LabelBinary struct {
	And         bool
	Left, Right LabelFilter
}

// LabelCompare compares one label with a value: strings with = != =~ !~, numbers,
// durations and bytes with == != > >= < <=.
type LabelCompare struct {
	Name  string
	Op    string
	Kind  string // string, number, duration, bytes, ip
	Str   string
	Num   float64 // numbers; durations in seconds; bytes
	match *Matcher
	ip    *ipMatcher
}

func (*LabelBinary) isLabelFilter()  {}
func (*LabelCompare) isLabelFilter() {}

// LineFormatStage is `| line_format "{{.a}}"`.
type LineFormatStage struct {
	Src  string
	tmpl *template.Template
}

// LabelFormatStage is `| label_format a=b, c="{{.x}}"`.
type LabelFormatStage struct{ Items []LabelFormatItem }

// LabelFormatItem renames Src to Dst, or sets Dst from a template.
type LabelFormatItem struct {
	Dst, Src string
	tmplSrc  string
	tmpl     *template.Template
}

// DropKeepStage is `| drop a, b="x"` or `| keep a, b`.
type DropKeepStage struct {
	Keep  bool
	Names []string
	Match []*Matcher // drop a="x": only when the value matches
}

// DecolorizeStage is `| decolorize`: it removes ANSI escape sequences from the line.
type DecolorizeStage struct{}

// UnwrapStage is `| unwrap x`, `| unwrap duration(x)`, `| unwrap bytes(x)`.
type UnwrapStage struct {
	Label string
	Conv  string // "", duration, duration_seconds, bytes
}

func (*LineFilter) isStage()       {}
func (*ParserStage) isStage()      {}
func (*LabelFilterStage) isStage() {}
func (*LineFormatStage) isStage()  {}
func (*LabelFormatStage) isStage() {}
func (*DropKeepStage) isStage()    {}
func (*UnwrapStage) isStage()      {}
func (*DecolorizeStage) isStage()  {}

// Grouping is `by (a, b)` or `without (a, b)`.
type Grouping struct {
	Without bool
	Labels  []string
}

// RangeAggr is `count_over_time({...} | ... [5m] offset 1m)` and friends.
type RangeAggr struct {
	Op       string
	Param    float64 // quantile_over_time
	Log      *LogExpr
	Range    time.Duration
	Offset   time.Duration
	Unwrap   *UnwrapStage
	Grouping *Grouping // for unwrapped range aggregations: avg_over_time(...) by (a)
	// want are the labels that enclosing `by (...)` groupings (and this one) keep, set by
	// Parse: structured metadata named there becomes a series label (see evalRange).
	want []string
	// preserveErr: samples with __error__ are kept rather than failing the query.
	preserveErr bool
}

// VectorAggr is `sum by (a) (expr)`, `topk(5, expr)` and friends.
type VectorAggr struct {
	Op       string
	Param    float64 // topk/bottomk k
	Grouping *Grouping
	Inner    SampleExpr
}

// BinaryExpr is `a <op> b` with arithmetic, comparison or set (and, or, unless)
// operators.
type BinaryExpr struct {
	Op          string
	Bool        bool // comparison returns 0/1 instead of filtering
	Left, Right SampleExpr
	Match       *VectorMatch // on/ignoring/group_left/group_right; nil matches all labels
}

// VectorMatch is how the series of two vectors pair up, as in PromQL.
type VectorMatch struct {
	On      bool     // match on Labels only; else ignoring Labels
	Labels  []string // the on(...) or ignoring(...) list
	Card    string   // "one-to-one", "many-to-one" (group_left), "one-to-many" (group_right)
	Include []string // group_left(...)/group_right(...) labels copied from the "one" side
}

// LabelReplace is label_replace(v, "dst", "replacement", "src", "regex").
type LabelReplace struct {
	Inner                     SampleExpr
	Dst, Replacement, Src, Re string
	re                        *regexp.Regexp
}

func (*LabelReplace) isExpr()   {}
func (*LabelReplace) isSample() {}

// Literal is a number.
type Literal struct{ Value float64 }

// VectorLit is vector(<number>): one series without labels (Grafana's health check runs
// vector(1)+vector(1)).
type VectorLit struct{ Value float64 }

func (*VectorLit) isExpr()   {}
func (*VectorLit) isSample() {}

func (*RangeAggr) isExpr()    {}
func (*VectorAggr) isExpr()   {}
func (*BinaryExpr) isExpr()   {}
func (*Literal) isExpr()      {}
func (*RangeAggr) isSample()  {}
func (*VectorAggr) isSample() {}
func (*BinaryExpr) isSample() {}
func (*Literal) isSample()    {}
