package dashboards

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Grafana panels whose queries are Tempo trace searches (a traces panel, or a table of a
// search's results) become Loupe traces panels: the search's service, span name,
// attributes, durations, error status and limit map to the parameters of Loupe's trace
// search (options.query); what has no equivalent is reported. A panel that shows one
// trace by id, or a search that cannot be mapped, keeps its place as a text panel.

// isTempoPanel reports whether every query of a traces or table panel is a Tempo one.
func (im *importer) isTempoPanel(m map[string]any) bool {
	typ := str(m["type"])
	targets := toList(m["targets"])
	if (typ != PanelTraces && typ != PanelTable) || len(targets) == 0 {
		return false
	}
	panelDS := im.dsType(m["datasource"])
	for _, t := range targets {
		ds := im.dsType(obj(t)["datasource"])
		if ds == "" || ds == "-- Mixed --" {
			ds = panelDS
		}
		if ds != "tempo" {
			return false
		}
	}
	return true
}

// tempoPanel converts a panel of Tempo searches to a traces panel.
func (im *importer) tempoPanel(m map[string]any, p Panel, rp reporter) Panel {
	targets := toList(m["targets"])
	t := obj(targets[0])
	q, ok := tempoSearch(t, rp.forPath("targets[0]."))
	if !ok {
		return im.tempoPlaceholder(m, p, t, rp)
	}
	if str(m["type"]) == PanelTable {
		rp.add(Converted, "type", "table of a Tempo trace search: converted to a traces panel (a list of traces linking to their waterfall)")
	}
	for i := 1; i < len(targets); i++ {
		rp.unsupported(fmt.Sprintf("targets[%d]", i), "Tempo query %s: a traces panel runs one search, the first query's", str(obj(targets[i])["refId"]))
	}
	p.Type = PanelTraces
	p.Options = map[string]any{"query": encodeSearch(q)}
	if l := toInt(t["limit"]); l > 0 {
		p.Options["limit"] = float64(min(l, 1000)) // as JSON reads it back
	}
	p.Interval, p.MaxDataPoints = "", 0
	opts := obj(m["options"])
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if !isZero(opts[k]) {
			rp.unsupported("options."+k, "not supported on a traces panel: %s", short(opts[k]))
		}
	}
	if fc := obj(m["fieldConfig"]); !isZero(obj(fc["defaults"])) || !isZero(fc["overrides"]) {
		rp.unsupported("fieldConfig", "field options of a table of traces are not kept")
	}
	im.panelLeftovers(m, set(append(keys(panelKeys), "options", "fieldConfig")...), rp)
	return p
}

// tempoPlaceholder keeps the place of a Tempo panel that cannot be a trace search.
func (im *importer) tempoPlaceholder(m map[string]any, p Panel, t map[string]any, rp reporter) Panel {
	var b strings.Builder
	fmt.Fprintf(&b, "Grafana %s panel of a Tempo query that Loupe's traces panel (a trace search) cannot show.\n", str(m["type"]))
	if q := str(t["query"]); q != "" {
		fmt.Fprintf(&b, "\n```\n%s\n```\n", q)
	}
	if id := str(t["query"]); traceIDRE.MatchString(id) {
		fmt.Fprintf(&b, "\n[Open the trace](/traces/%s)\n", strings.ToLower(id))
	}
	return Panel{ID: p.ID, Type: PanelText, Title: p.Title, Description: p.Description, GridPos: p.GridPos,
		Options: map[string]any{"mode": "markdown", "content": b.String()}}
}

var traceIDRE = regexp.MustCompile(`^[0-9a-fA-F]{16,32}$`)

// tempoSearch maps one Tempo query to the parameters of Loupe's trace search; false when it
// is not a search Loupe can run (reported).
func tempoSearch(t map[string]any, rp reporter) (url.Values, bool) {
	q := url.Values{}
	qt := str(t["queryType"])
	switch {
	case qt == "traceId" || (qt == "traceql" || qt == "") && traceIDRE.MatchString(strings.TrimSpace(str(t["query"]))):
		rp.unsupported("query", "a single trace by id (%s): Loupe's traces panel is a search; the trace opens at /traces/<id>", str(t["query"]))
		return nil, false
	case qt == "traceqlSearch":
		for i, f := range toList(t["filters"]) {
			tempoFilter(q, obj(f), rp.forPath(fmt.Sprintf("filters[%d].", i)))
		}
	case qt == "nativeSearch" || qt == "search":
		set1(q, "service", str(t["serviceName"]))
		set1(q, "span_name", str(t["spanName"]))
		set1(q, "min_duration", str(t["minDuration"]))
		set1(q, "max_duration", str(t["maxDuration"]))
		for _, kv := range strings.Fields(str(t["search"])) {
			if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
				q.Add("attr", k+"="+strings.Trim(v, `"`))
			} else {
				rp.unsupported("search", "tag %q: want key=value", kv)
			}
		}
	case qt == "traceql" || qt == "":
		if !traceQL(q, str(t["query"]), rp) {
			return nil, false
		}
	default:
		rp.unsupported("queryType", "Tempo query type %q (service graph, metrics, uploads): not supported", qt)
		return nil, false
	}
	if !isZero(t["spss"]) {
		rp.unsupported("spss", "spans per span set: not supported (a trace search lists traces)")
	}
	if tt := str(t["tableType"]); tt != "" && tt != "traces" {
		rp.unsupported("tableType", "table of %s: listed as traces", tt)
	}
	return q, true
}

// searchOrder is the order of a trace search's parameters as Loupe's own panels write them,
// so that an exported search imports back as the same text.
var searchOrder = []string{"service", "span_name", "min_duration", "max_duration", "errors", "attr"}

// searchReadable undoes the escapes of the characters that write dashboard variables
// ($service, ${service}, [[service]]): the UI reads the query with URLSearchParams either way.
var searchReadable = strings.NewReplacer("%24", "$", "%7B", "{", "%7D", "}", "%5B", "[", "%5D", "]")

// encodeSearch writes q as a query string in searchOrder, then any other key sorted.
func encodeSearch(q url.Values) string {
	order := slices.Clone(searchOrder)
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	var parts []string
	for _, k := range order {
		for _, v := range q[k] {
			parts = append(parts, url.QueryEscape(k)+"="+searchReadable.Replace(url.QueryEscape(v)))
		}
	}
	return strings.Join(parts, "&")
}

func set1(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// tempoFilter maps one filter of Grafana's TraceQL search editor.
func tempoFilter(q url.Values, f map[string]any, rp reporter) {
	tag, op, scope := str(f["tag"]), str(f["operator"]), str(f["scope"])
	var vals []string
	switch v := f["value"].(type) {
	case string:
		vals = []string{v}
	case []any:
		for _, x := range v {
			vals = append(vals, str(x))
		}
	}
	if tag == "" || len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
		return // the editor's empty placeholder filters
	}
	switch str(f["id"]) {
	case "service-name":
		tag, scope = "service.name", "resource"
	case "span-name":
		tag, scope = "name", "intrinsic"
	case "min-duration", "max-duration":
		tag, scope = "duration", "intrinsic"
	}
	val := strings.Join(vals, "|")
	if len(vals) > 1 && op == "=" {
		op = "=~"
	}
	tempoCondition(q, scope, tag, op, val, rp)
}

var (
	traceQLCond = regexp.MustCompile(`^\s*([a-zA-Z:.][\w.:-]*)\s*(=~|!~|!=|>=|<=|=|>|<)\s*("(?:[^"\\]|\\.)*"|[\w.+-]+)\s*$`)
)

// traceQL maps a TraceQL query of one span set whose conditions are joined by && ({} is
// every trace); false, reported, for anything else (||, pipelines, several span sets).
func traceQL(q url.Values, s string, rp reporter) bool {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") || strings.Count(s, "{") != 1 || strings.Contains(s, "||") {
		rp.unsupported("query", "TraceQL %q: only one span set of conditions joined by && maps to a trace search", s)
		return false
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	if body == "" {
		return true
	}
	for _, c := range strings.Split(body, "&&") {
		m := traceQLCond.FindStringSubmatch(c)
		if m == nil {
			rp.unsupported("query", "TraceQL %q: condition %q does not map to a trace search", s, strings.TrimSpace(c))
			return false
		}
		field, op, val := m[1], m[2], strings.ReplaceAll(strings.Trim(m[3], `"`), `\"`, `"`)
		scope := "span"
		switch {
		case strings.HasPrefix(field, "resource."):
			scope, field = "resource", strings.TrimPrefix(field, "resource.")
		case strings.HasPrefix(field, "span."):
			field = strings.TrimPrefix(field, "span.")
		case strings.HasPrefix(field, "."):
			scope, field = "unscoped", strings.TrimPrefix(field, ".")
		case strings.HasPrefix(field, "span:"):
			scope, field = "intrinsic", strings.TrimPrefix(field, "span:")
		default:
			scope = "intrinsic"
		}
		tempoCondition(q, scope, field, op, val, rp)
	}
	return true
}

// tempoCondition maps one condition (scope intrinsic, resource or span) to a parameter.
func tempoCondition(q url.Values, scope, tag, op, val string, rp reporter) {
	intrinsic := scope == "intrinsic"
	switch {
	case tag == "service.name" && op == "=" && scope != "span":
		q.Set("service", val)
	case intrinsic && tag == "name" && op == "=":
		q.Set("span_name", val)
	case intrinsic && tag == "duration" && (op == ">" || op == ">="):
		q.Set("min_duration", val)
	case intrinsic && tag == "duration" && (op == "<" || op == "<="):
		q.Set("max_duration", val)
	case intrinsic && tag == "status" && op == "=" && val == "error":
		q.Set("errors", "true")
	case intrinsic:
		rp.unsupported("", "condition %s %s %s: not supported by Loupe's trace search", tag, op, val)
	case scope != "" && scope != "span" && scope != "resource" && scope != "unscoped":
		rp.unsupported("", "condition on %s.%s: only span and resource attributes are searched", scope, tag)
	case op == "=" || op == "!=" || op == "=~" || op == "!~":
		q.Add("attr", tag+op+val)
	default:
		rp.unsupported("", "condition %s %s %s: attributes compare with =, !=, =~ and !~", tag, op, val)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
