package dashboards

import (
	"net/url"
	"regexp"
	"strings"
)

// Exported to Grafana, a traces panel becomes what Grafana users build for a trace search:
// a table of a Tempo TraceQL query with tableType "traces", which Grafana lists as traces
// and the importer above turns back into the same traces panel. Only searches that
// TraceQL can say (service, span name, durations, errors, attribute conditions) go that
// way; another (a text search, several values) stays a traces panel by name.

// dsTempo is the data source of exported trace searches; Loupe's panels never query it.
const dsTempo = "tempo"

var (
	tempoBareValue = regexp.MustCompile(`^[\w.+-]+$`) // a duration the importer reads unquoted
	tempoAttrKey   = regexp.MustCompile(`^[\w.:-]+$`) // an attribute name it reads after "."
)

// tempoExport returns the Grafana panel g made into a Tempo search table for p, a traces
// panel; false when p's search has no TraceQL equivalent.
func tempoExport(p Panel, g map[string]any, ds func(string) map[string]any) (map[string]any, bool) {
	q, err := url.ParseQuery(str(p.Options["query"]))
	if err != nil {
		return nil, false
	}
	var conds []string
	one := func(k string) (string, bool) {
		v := q[k]
		delete(q, k)
		return strings.Join(v, ""), len(v) <= 1
	}
	// A value that would need escapes in TraceQL stays in a traces panel: the importer
	// reads quoted values without unescaping them.
	quotable := func(s string) bool { return !strings.ContainsAny(s, "\"\\\n\r\t") }
	quoted := func(s string) string { return `"` + s + `"` }
	for _, c := range []struct{ key, field, op string }{
		{"service", "resource.service.name", "="}, {"span_name", "name", "="},
		{"min_duration", "duration", ">="}, {"max_duration", "duration", "<="},
	} {
		v, ok := one(c.key)
		if !ok {
			return nil, false
		}
		switch {
		case v == "":
		case c.field == "duration" && tempoBareValue.MatchString(v):
			conds = append(conds, c.field+c.op+v)
		case c.field == "duration" || !quotable(v):
			return nil, false
		default:
			conds = append(conds, c.field+c.op+quoted(v))
		}
	}
	switch v, ok := one("errors"); {
	case !ok || (v != "" && v != "true"):
		return nil, false
	case v == "true":
		conds = append(conds, "status=error")
	}
	for _, a := range q["attr"] {
		k, op, v, ok := splitAttr(a)
		if !ok || !tempoAttrKey.MatchString(k) || !quotable(v) {
			return nil, false
		}
		conds = append(conds, "."+k+op+quoted(v))
	}
	delete(q, "attr")
	if len(q) > 0 { // a parameter TraceQL cannot say: q, limit in the query, ...
		return nil, false
	}
	t := map[string]any{"refId": "A", "datasource": ds(dsTempo), "queryType": "traceql",
		"query": "{" + strings.Join(conds, " && ") + "}", "tableType": "traces"}
	if l, ok := toFloat(p.Options["limit"]); ok && l > 0 {
		t["limit"] = l
	}
	g["type"] = PanelTable
	g["datasource"] = ds(dsTempo)
	g["targets"] = []any{t}
	g["options"] = map[string]any{}
	return g, true
}

// splitAttr splits a trace search's attr parameter (key=value, key!=value, key=~re,
// key!~re: the key ends at the first operator, as the native API reads it).
func splitAttr(s string) (key, op, value string, ok bool) {
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "!="), strings.HasPrefix(s[i:], "!~"), strings.HasPrefix(s[i:], "=~"):
			return s[:i], s[i : i+2], s[i+2:], i > 0
		case s[i] == '=':
			return s[:i], "=", s[i+1:], i > 0
		}
	}
	return "", "", "", false
}
