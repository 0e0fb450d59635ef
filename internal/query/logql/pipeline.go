package logql

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/loupe-dev/loupe/internal/query/logql/plan"
)

// Labels an entry carries through the pipeline: stream labels (resource attributes),
// detected_level (from the severity), structured metadata (record attributes, trace_id,
// span_id) and labels the pipeline extracts. Structured metadata is visible to filters
// and templates and returned with log lines, but is not a label of metric series (Loki
// would make it one, giving one series per trace id); detected_level is, so that
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

// detectedLevel is the Loki detected_level of a record: its severity text in lower case,
// else the name of its severity number.
func detectedLevel(text string, number int32) string {
	if text != "" {
		return strings.ToLower(text)
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
	}
	return true
}

func (f *LineFilter) match(line string) bool {
	any := false
	for i, v := range f.Values {
		var ok bool
		if f.res != nil {
			ok = f.res[i].MatchString(line)
		} else {
			ok = strings.Contains(line, v)
		}
		if ok {
			any = true
			break
		}
	}
	if f.Op == "!=" || f.Op == "!~" {
		return !any
	}
	return any
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

// Parsers.

func (p *ParserStage) parse(e *entry) {
	switch p.Kind {
	case "json":
		p.parseJSON(e)
	case "logfmt":
		if err := parseLogfmt(e.line, e.setExtracted); err != nil {
			e.setError("LogfmtParserErr", err)
		}
	case "regexp":
		m := p.re.FindStringSubmatch(e.line)
		if m == nil {
			return
		}
		for i, name := range p.re.SubexpNames() {
			if name != "" {
				e.setExtracted(name, m[i])
			}
		}
	case "pattern":
		matchPattern(p.pattern, e.line, e.setExtracted)
	case "unpack":
		var obj map[string]any
		if err := json.Unmarshal([]byte(e.line), &obj); err != nil {
			e.setError("JSONParserErr", err)
			return
		}
		for k, v := range obj {
			s, ok := v.(string)
			if !ok {
				continue
			}
			if k == "_entry" {
				e.line = s
				continue
			}
			e.setExtracted(k, s)
		}
	}
}

func (p *ParserStage) parseJSON(e *entry) {
	dec := json.NewDecoder(strings.NewReader(e.line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		e.setError("JSONParserErr", err)
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		e.setError("JSONParserErr", fmt.Errorf("line is not a JSON object"))
		return
	}
	if len(p.Params) > 0 {
		for _, prm := range p.Params {
			if x, ok := jsonPath(obj, prm.Path); ok {
				e.setExtracted(prm.Label, jsonLabelValue(x))
			}
		}
		return
	}
	flattenJSON("", obj, e)
}

func flattenJSON(prefix string, obj map[string]any, e *entry) {
	for k, v := range obj {
		name := k
		if prefix != "" {
			name = prefix + "_" + k
		}
		switch x := v.(type) {
		case map[string]any:
			flattenJSON(name, x, e)
		case []any:
			// Loki skips arrays unless they are selected with json expressions.
		default:
			e.setExtracted(name, jsonLabelValue(x))
		}
	}
}

func jsonLabelValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			return ""
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
}

func jsonPath(v any, path []string) (any, bool) {
	for _, k := range path {
		if strings.HasPrefix(k, "[") {
			arr, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i, err := strconv.Atoi(k[1 : len(k)-1])
			if err != nil || i < 0 || i >= len(arr) {
				return nil, false
			}
			v = arr[i]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// parseLogfmt calls set for each key=value pair of line. Values may be double-quoted
// with Go escapes; bare keys and empty values are skipped, as Loki does by default.
func parseLogfmt(line string, set func(k, v string)) error {
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		start := i
		for i < len(line) && line[i] != '=' && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		key := line[start:i]
		if i >= len(line) || line[i] != '=' {
			continue // bare key
		}
		i++ // '='
		var val string
		if i < len(line) && line[i] == '"' {
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(line) {
				return fmt.Errorf("unterminated quoted value for key %q", key)
			}
			s, err := strconv.Unquote(line[i : j+1])
			if err != nil {
				s = line[i+1 : j]
			}
			val = s
			i = j + 1
		} else {
			vs := i
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				i++
			}
			val = line[vs:i]
		}
		if key != "" && val != "" {
			set(key, val)
		}
	}
	return nil
}

// patternPart is a literal or a named capture (<name>; <_> captures nothing).
type patternPart struct {
	literal string
	capture string
	isCap   bool
}

func parsePattern(s string) ([]patternPart, error) {
	var parts []patternPart
	captures := 0
	for s != "" {
		i := strings.IndexByte(s, '<')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(s[i:], '>')
		}
		name := ""
		if i >= 0 && j > 0 {
			name = s[i+1 : i+j]
		}
		if i < 0 || j < 0 || !validCaptureName(name) {
			// No (valid) capture ahead: the rest up to the next '<' candidate is literal.
			k := len(s)
			if i >= 0 {
				k = i + 1
			}
			if n := len(parts); n > 0 && !parts[n-1].isCap {
				parts[n-1].literal += s[:k]
			} else {
				parts = append(parts, patternPart{literal: s[:k]})
			}
			s = s[k:]
			continue
		}
		if i > 0 {
			if n := len(parts); n > 0 && !parts[n-1].isCap {
				parts[n-1].literal += s[:i]
			} else {
				parts = append(parts, patternPart{literal: s[:i]})
			}
		}
		if n := len(parts); n > 0 && parts[n-1].isCap {
			return nil, fmt.Errorf("captures <%s> and <%s> need a literal between them", parts[n-1].capture, name)
		}
		parts = append(parts, patternPart{capture: name, isCap: true})
		if name != "_" {
			captures++
		}
		s = s[i+j+1:]
	}
	if captures == 0 {
		return nil, fmt.Errorf("at least one named capture such as <name> is needed")
	}
	return parts, nil
}

func validCaptureName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// matchPattern matches line against parts: literals must appear in order, each capture
// takes the text up to the next literal. A line that does not match extracts nothing.
func matchPattern(parts []patternPart, line string, set func(k, v string)) {
	type kv struct{ k, v string }
	var got []kv
	pos := 0
	for i, p := range parts {
		if !p.isCap {
			if i == 0 {
				if !strings.HasPrefix(line, p.literal) {
					return
				}
				pos = len(p.literal)
			}
			continue
		}
		end := len(line)
		next := ""
		if i+1 < len(parts) {
			next = parts[i+1].literal
			k := strings.Index(line[pos:], next)
			if k < 0 {
				return
			}
			end = pos + k
		}
		if p.capture != "_" {
			got = append(got, kv{p.capture, line[pos:end]})
		}
		pos = end + len(next)
	}
	for _, g := range got {
		set(g.k, g.v)
	}
}
