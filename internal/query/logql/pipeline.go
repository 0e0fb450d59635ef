package logql

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	"github.com/loupe-dev/loupe/internal/query/logql/plan"
)

// Labels an entry carries through the pipeline: stream labels (resource attributes),
// detected_level (from the severity), structured metadata (record attributes, trace_id,
// span_id) and labels the pipeline extracts. Structured metadata is visible to filters
// and templates and returned with log lines, but is not a label of metric series (Loki
// would make it one, giving one series per trace id) unless a `by (...)` grouping names
// it (see RangeAggr.want); detected_level is, so that
// `sum by (detected_level) (count_over_time(...))`, Grafana's log volume, works.

// Error labels set by stages, as Loki names them.
const (
	errorLabel        = "__error__"
	errorDetailsLabel = "__error_details__"
)

// entry is one log line in the pipeline.
type entry struct {
	ts     int64
	line   string
	labels map[string]string
	meta   map[string]bool // keys of labels that are structured metadata
	stream map[string]bool // keys of labels that are stream labels
	value  float64         // unwrapped value
}

// SanitizeLabelName turns an attribute name into a Loki label name as Loki's OTLP
// ingestion does: every character outside [a-zA-Z0-9_] becomes '_', and a leading digit
// gets a '_' prefix. service.name becomes service_name.
func SanitizeLabelName(k string) string {
	if validLabelName(k) {
		return k
	}
	var b strings.Builder
	for i, r := range k {
		if i == 0 && r >= '0' && r <= '9' {
			b.WriteByte('_')
		}
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func validLabelName(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// valueString is the label form of an attribute value.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// StreamLabels returns the Loki stream labels of a stored stream: its resource
// attributes with sanitized names, and service_name from the service column when the
// resource has none.
func StreamLabels(st plan.Stream) map[string]string {
	out := make(map[string]string, len(st.Resource)+1)
	for k, v := range st.Resource {
		name := SanitizeLabelName(k)
		if name == k || out[name] == "" {
			out[name] = valueString(v)
		}
	}
	if out["service_name"] == "" {
		if st.Service != "" {
			out["service_name"] = st.Service
		} else {
			out["service_name"] = "unknown_service"
		}
	}
	return out
}

// detectedLevel is the Loki detected_level of a record: its severity text normalised
// as Loki does (see normalizeLevel), else the name of its severity number.
func detectedLevel(text string, number int32) string {
	if text != "" {
		return normalizeLevel(text)
	}
	switch {
	case number >= 1 && number <= 4:
		return "trace"
	case number <= 8 && number > 0:
		return "debug"
	case number <= 12 && number > 0:
		return "info"
	case number <= 16 && number > 0:
		return "warn"
	case number <= 20 && number > 0:
		return "error"
	case number > 20:
		return "fatal"
	}
	return ""
}

// normalizeLevel maps level spellings to Loki's detected_level values (its
// distributor's normalizeLogLevel): trc, dbg, inf, information, wrn, warning and err
// become trace, debug, info, warn and error; other values are lower-cased.
func normalizeLevel(s string) string {
	switch l := strings.ToLower(s); l {
	case "trc":
		return "trace"
	case "dbg":
		return "debug"
	case "inf", "information":
		return "info"
	case "wrn", "warning":
		return "warn"
	case "err":
		return "error"
	default:
		return l
	}
}

// newEntry builds the pipeline entry of a stored row of a stream with the given labels.
func newEntry(r plan.Row, streamLabels map[string]string, streamKeys map[string]bool) *entry {
	e := &entry{ts: r.Timestamp, line: r.Body, stream: streamKeys,
		labels: make(map[string]string, len(streamLabels)+len(r.Attributes)+3),
		meta:   make(map[string]bool, len(r.Attributes)+3)}
	maps.Copy(e.labels, streamLabels)
	addMeta := func(k, v string) {
		if v == "" {
			return
		}
		if _, ok := e.labels[k]; ok {
			return // a stream label wins over metadata of the same name
		}
		e.labels[k] = v
		e.meta[k] = true
	}
	for k, v := range r.Attributes {
		addMeta(SanitizeLabelName(k), valueString(v))
	}
	addMeta("trace_id", r.TraceID)
	addMeta("span_id", r.SpanID)
	if _, ok := e.labels["detected_level"]; !ok {
		if lvl := detectedLevel(r.SeverityText, r.SeverityNumber); lvl != "" {
			e.labels["detected_level"] = lvl
		}
	}
	return e
}

// setExtracted sets a label found by a parser. A name that is already a stream label
// gets the suffix _extracted, as in Loki.
func (e *entry) setExtracted(k, v string) {
	k = SanitizeLabelName(k)
	if k == "" {
		return
	}
	if e.stream[k] {
		k += "_extracted"
	}
	e.labels[k] = v
	delete(e.meta, k)
}

func (e *entry) setError(kind string, err error) {
	if _, ok := e.labels[errorLabel]; ok {
		return
	}
	e.labels[errorLabel] = kind
	if err != nil {
		e.labels[errorDetailsLabel] = err.Error()
	}
}

// seriesLabels returns the labels of e that name a metric series: all but structured
// metadata and the unwrapped label.
func (e *entry) seriesLabels(unwrapped string) map[string]string {
	out := make(map[string]string, len(e.labels))
	for k, v := range e.labels {
		if !e.meta[k] && k != unwrapped && k != errorDetailsLabel {
			out[k] = v
		}
	}
	return out
}

// run applies the stages to e and reports whether e is kept.
func run(stages []Stage, e *entry) bool {
	for _, s := range stages {
		if !apply(s, e) {
			return false
		}
	}
	return true
}

func apply(s Stage, e *entry) bool {
	switch st := s.(type) {
	case *LineFilter:
		return st.match(e.line)
	case *ParserStage:
		st.parse(e)
	case *LabelFilterStage:
		return evalLabelFilter(st.Filter, e)
	case *LineFormatStage:
		out, err := render(st.tmpl, st.Src, e.labels, e.line, e.ts)
		if err != nil {
			e.setError("TemplateFormatErr", err)
			return true
		}
		e.line = out
	case *LabelFormatStage:
		// Every item sees the labels as they were before the stage, as in Loki.
		before := maps.Clone(e.labels)
		for _, it := range st.Items {
			if it.tmpl == nil {
				v := before[it.Src]
				delete(e.labels, it.Src)
				e.labels[it.Dst] = v
				delete(e.meta, it.Dst)
				continue
			}
			out, err := render(it.tmpl, it.tmplSrc, before, e.line, e.ts)
			if err != nil {
				e.setError("TemplateFormatErr", err)
				continue
			}
			e.labels[it.Dst] = out
			delete(e.meta, it.Dst)
		}
	case *DropKeepStage:
		st.apply(e)
	case *UnwrapStage:
		st.extract(e)
	case *DecolorizeStage:
		e.line = ansiRegexp.ReplaceAllString(e.line, "")
	}
	return true
}

// ansiRegexp matches ANSI escape sequences; it is the pattern Loki's decolorize uses
// (from github.com/acarl005/stripansi).
var ansiRegexp = regexp.MustCompile("[\u001B\u009B][[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\u0007)|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))")

func (f *LineFilter) match(line string) bool {
	if f.ip != nil {
		return f.ip.inLine(line) == (f.Op == "|=")
	}
	matched := false
	for i, v := range f.Values {
		var ok bool
		if f.res != nil {
			ok = f.res[i].MatchString(line)
		} else {
			ok = strings.Contains(line, v)
		}
		if ok {
			matched = true
			break
		}
	}
	if f.Op == "!=" || f.Op == "!~" {
		return !matched
	}
	return matched
}

func (d *DropKeepStage) apply(e *entry) {
	if d.Keep {
		keep := make(map[string]bool, len(d.Names)+len(d.Match))
		for _, n := range d.Names {
			keep[n] = true
		}
		for _, m := range d.Match {
			if v, ok := e.labels[m.Name]; ok && m.Matches(v) {
				keep[m.Name] = true
			}
		}
		for k := range e.labels {
			if !keep[k] {
				delete(e.labels, k)
			}
		}
		return
	}
	for _, n := range d.Names {
		delete(e.labels, n)
	}
	for _, m := range d.Match {
		if v, ok := e.labels[m.Name]; ok && m.Matches(v) {
			delete(e.labels, m.Name)
		}
	}
}

func (u *UnwrapStage) extract(e *entry) {
	s, ok := e.labels[u.Label]
	if !ok {
		e.setError("SampleExtractionErr", fmt.Errorf("label %q not found", u.Label))
		return
	}
	var err error
	switch u.Conv {
	case "duration", "duration_seconds":
		var d float64
		if d, err = parseDurationSeconds(s); err == nil {
			e.value = d
		}
	case "bytes":
		e.value, err = parseBytes(s)
	default:
		e.value, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
	}
	if err != nil {
		e.setError("SampleExtractionErr", err)
	}
}

func parseDurationSeconds(s string) (float64, error) {
	d, err := parseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return d.Seconds(), nil
}

func evalLabelFilter(f LabelFilter, e *entry) bool {
	switch x := f.(type) {
	case *LabelBinary:
		if x.And {
			return evalLabelFilter(x.Left, e) && evalLabelFilter(x.Right, e)
		}
		return evalLabelFilter(x.Left, e) || evalLabelFilter(x.Right, e)
	case *LabelCompare:
		v, ok := e.labels[x.Name]
		if x.Kind == "string" {
			return x.match.Matches(v)
		}
		if !ok {
			return false
		}
		if x.Kind == "ip" {
			return x.ip.matches(v) == (x.Op == "=")
		}
		var n float64
		var err error
		switch x.Kind {
		case "duration":
			n, err = parseDurationSeconds(v)
		case "bytes":
			n, err = parseBytes(v)
		default:
			n, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
		if err != nil {
			// Loki keeps the line with an error label, which `| __error__=""` drops.
			e.setError("LabelFilterErr", err)
			return true
		}
		return compare(x.Op, n, x.Num)
	}
	return false
}

func compare(op string, a, b float64) bool {
	switch op {
	case "==":
		return a == b
	case "!=":
		return a != b
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "<":
		return a < b
	case "<=":
		return a <= b
	}
	return false
}
