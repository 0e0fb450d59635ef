package dashboards

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Kinds of report items.
const (
	// Unsupported: something of the Grafana dashboard Loupe does not draw; it is left out.
	Unsupported = "unsupported"
	// Converted: something mapped to its Loupe equivalent (a legacy panel type, a data
	// source placeholder), for the record.
	Converted = "converted"
)

// ReportItem is one thing the importer did not carry over as is, panel by panel.
type ReportItem struct {
	Kind       string `json:"kind"`
	PanelID    int    `json:"panelId,omitempty"`
	PanelTitle string `json:"panelTitle,omitempty"`
	PanelType  string `json:"panelType,omitempty"` // the Grafana type
	Path       string `json:"path"`                // JSON path in the Grafana panel or dashboard: "options.legend.sortBy"
	Message    string `json:"message"`
}

// Report lists what an import left out or converted.
type Report struct {
	SchemaVersion int          `json:"schemaVersion"`
	Panels        int          `json:"panels"`      // panels of the Loupe dashboard, rows included
	Unsupported   int          `json:"unsupported"` // items of kind Unsupported
	Items         []ReportItem `json:"items"`
}

// reporter collects items, with the panel they concern.
type reporter struct {
	r      *Report
	panel  map[string]any // the Grafana panel being imported, nil at the dashboard level
	prefix string         // of the paths reported: "targets[0]." for a query's fields
}

func (rp reporter) forPanel(p map[string]any) reporter { return reporter{r: rp.r, panel: p} }

// forPath reports paths under prefix (which ends with "." or is "").
func (rp reporter) forPath(prefix string) reporter {
	rp.prefix += prefix
	return rp
}

func (rp reporter) add(kind, path, format string, args ...any) {
	it := ReportItem{Kind: kind, Path: strings.TrimSuffix(rp.prefix+path, "."), Message: fmt.Sprintf(format, args...)}
	if rp.panel != nil {
		it.PanelID = toInt(rp.panel["id"])
		it.PanelTitle, _ = rp.panel["title"].(string)
		it.PanelType, _ = rp.panel["type"].(string)
	}
	if kind == Unsupported {
		rp.r.Unsupported++
	}
	rp.r.Items = append(rp.r.Items, it)
}

func (rp reporter) unsupported(path, format string, args ...any) {
	rp.add(Unsupported, path, format, args...)
}

// leftovers reports every key of m not in handled whose value is set (not null, false, 0,
// "", [] or {}) and differs from Grafana's default for it: an option at its zero or
// default value changes nothing, so leaving it out loses nothing.
func (rp reporter) leftovers(m map[string]any, prefix string, handled map[string]bool, defaults map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if handled[k] || isZero(v) {
			continue
		}
		if d, ok := defaults[k]; ok && sameJSON(d, v) {
			continue
		}
		rp.unsupported(prefix+k, "not supported: %s", short(v))
	}
}

// isZero reports whether a decoded JSON value is null, false, 0, "", [] or {}, or an
// object of such values only.
func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		for _, x := range v {
			if !isZero(x) {
				return false
			}
		}
		return true
	}
	return false
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var x, y any
	_ = json.Unmarshal(ja, &x)
	_ = json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}

// short is a value for a message, cut at 80 characters.
func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func toInt(v any) int {
	switch v := v.(type) {
	case float64:
		return int(v)
	case int:
		return v
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	}
	return 0
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case string:
		var f float64
		_, err := fmt.Sscan(v, &f)
		return f, err == nil
	}
	return 0, false
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
