package dashboards

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Limits of one dashboard. Grafana sets none; these keep one request, one file or one
// page in the UI from growing without bound, set well above the dashboards Loupe ships
// and imports in its tests.
const (
	MaxPanels    = 1000
	MaxBytes     = 5 << 20
	MaxVariables = 100
	MaxTargets   = 26 // refIds A to Z, as Grafana's query editor names them
	maxUIDLen    = 40 // Grafana's
	maxProblems  = 20 // listed in one error; the rest are counted
)

var (
	uidRE     = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ValidationError lists every problem of a dashboard, each naming where it is.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	ps := e.Problems
	more := ""
	if len(ps) > maxProblems {
		more = fmt.Sprintf("; and %d more", len(ps)-maxProblems)
		ps = ps[:maxProblems]
	}
	return "invalid dashboard: " + strings.Join(ps, "; ") + more
}

// Normalize fills what a writer may leave out: the time range (last 6 hours), an empty
// tag list, the refIds of targets (A, B, ...) and the ids of panels (unique, from 1).
// It does not change anything a writer set.
func Normalize(d *Dashboard) {
	if d.Time.From == "" && d.Time.To == "" {
		d.Time = TimeRange{From: "now-6h", To: "now"}
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	if d.Panels == nil {
		d.Panels = []Panel{}
	}
	if d.Templating.List == nil {
		d.Templating.List = []Variable{}
	}
	used := map[int]bool{}
	d.Walk(func(p *Panel) { used[p.ID] = p.ID > 0 })
	next := 1
	d.Walk(func(p *Panel) {
		if p.ID <= 0 {
			for used[next] {
				next++
			}
			p.ID = next
			used[next] = true
		}
		for i := range p.Targets {
			if p.Targets[i].RefID == "" {
				p.Targets[i].RefID = freeRefID(p.Targets)
			}
		}
	})
}

func freeRefID(ts []Target) string {
	for i := 0; ; i++ {
		id := string(rune('A' + i%26))
		if i >= 26 {
			id += fmt.Sprint(i / 26)
		}
		if !slices.ContainsFunc(ts, func(t Target) bool { return t.RefID == id }) {
			return id
		}
	}
}

// Validate checks d and returns a *ValidationError listing every problem, or nil.
// Queries are not parsed here: they hold variables ($job, $__rate_interval) that only
// the viewer substitutes, so a bad query is the panel's error, not the dashboard's.
func Validate(d *Dashboard) error {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	switch {
	case d.UID == "":
		bad("uid is empty")
	case len(d.UID) > maxUIDLen:
		bad("uid %q is longer than %d characters", d.UID, maxUIDLen)
	case !uidRE.MatchString(d.UID):
		bad("uid %q may hold only letters, digits, '-' and '_'", d.UID)
	}
	if strings.TrimSpace(d.Title) == "" {
		bad("title is empty")
	}
	for _, tr := range []struct{ name, v string }{{"time.from", d.Time.From}, {"time.to", d.Time.To}} {
		if !validTime(tr.v) {
			bad("%s %q is neither now[-+]duration (now-6h) nor an RFC 3339 time", tr.name, tr.v)
		}
	}
	if d.Refresh != "" {
		if _, err := model.ParseDuration(d.Refresh); err != nil {
			bad("refresh %q is not a duration (30s, 1m, 5m)", d.Refresh)
		}
	}
	if !slices.Contains([]string{"", "browser", "utc"}, d.Timezone) {
		bad("timezone %q: want \"\", \"browser\" or \"utc\"", d.Timezone)
	}
	validateVariables(d.Templating.List, bad)
	// One walk counts the panels and finds the ids used twice; those are reported after
	// the panels' own problems, and only when the count is within the limit.
	n := 0
	ids := map[int]bool{}
	var twice []int
	d.Walk(func(p *Panel) {
		n++
		if ids[p.ID] {
			twice = append(twice, p.ID)
		}
		ids[p.ID] = true
	})
	if n > MaxPanels {
		bad("%d panels: a dashboard holds at most %d", n, MaxPanels)
	} else {
		validatePanels(d.Panels, "panels", false, bad)
		for _, id := range twice {
			bad("panel id %d is used twice (ids are unique across the dashboard, rows included)", id)
		}
	}
	if len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

var relTimeRE = regexp.MustCompile(`^now([+-][0-9]+[smhdwMy])*(/[smhdwMy])?$`)

func validTime(s string) bool {
	if relTimeRE.MatchString(s) {
		return true
	}
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

func validateVariables(vs []Variable, bad func(string, ...any)) {
	if len(vs) > MaxVariables {
		bad("%d variables: a dashboard holds at most %d", len(vs), MaxVariables)
		return
	}
	seen := map[string]bool{}
	for i, v := range vs {
		where := fmt.Sprintf("templating.list[%d] (%s)", i, v.Name)
		switch {
		case !varNameRE.MatchString(v.Name):
			bad("%s: name %q: want letters, digits and '_', not starting with a digit", where, v.Name)
		case strings.HasPrefix(v.Name, "__"):
			bad("%s: names starting with __ are reserved ($__interval, $__range, ...)", where)
		case seen[v.Name]:
			bad("%s: a second variable named %q", where, v.Name)
		}
		seen[v.Name] = true
		switch v.Type {
		case VarQuery:
			if strings.TrimSpace(v.Query) == "" {
				bad("%s: a query variable needs a query (label_values(up, job))", where)
			}
			if v.Datasource != nil && !knownDS(v.Datasource.Type) {
				bad("%s: datasource type %q: want prometheus or loki", where, v.Datasource.Type)
			}
		case VarCustom, VarConstant, VarTextbox:
		case VarInterval:
			for _, s := range strings.Split(v.Query, ",") {
				s = strings.TrimSpace(s)
				if _, err := model.ParseDuration(s); err != nil && s != "auto" && s != "" {
					bad("%s: interval %q is not a duration", where, s)
				}
			}
		default:
			bad("%s: unknown variable type %q (want query, custom, constant, interval or textbox)", where, v.Type)
		}
		if v.Regex != "" {
			if _, err := regexp.Compile(strings.Trim(v.Regex, "/")); err != nil {
				bad("%s: regex %q: %v", where, v.Regex, err)
			}
		}
	}
}

func knownDS(t string) bool { return t == DSPrometheus || t == DSLoki }

func validatePanels(ps []Panel, path string, inRow bool, bad func(string, ...any)) {
	for i := range ps {
		p := &ps[i]
		where := fmt.Sprintf("%s[%d] (id %d, %q)", path, i, p.ID, p.Title)
		if !slices.Contains(PanelTypes, p.Type) {
			bad("%s: unknown panel type %q (Loupe draws %s)", where, p.Type, strings.Join(PanelTypes, ", "))
			continue
		}
		g := p.GridPos
		switch {
		case g.W < 1 || g.W > 24:
			bad("%s: gridPos.w %d: want 1 to 24 columns", where, g.W)
		case g.X < 0 || g.X+g.W > 24:
			bad("%s: gridPos.x %d with w %d: the panel must fit in 24 columns", where, g.X, g.W)
		}
		if g.H < 1 || g.H > 1000 {
			bad("%s: gridPos.h %d: want 1 to 1000 rows", where, g.H)
		}
		if g.Y < 0 || g.Y > 100000 {
			bad("%s: gridPos.y %d: want 0 to 100000", where, g.Y)
		}
		if p.Type == PanelRow {
			if inRow {
				bad("%s: a row inside a row", where)
			}
			if !p.Collapsed && len(p.Panels) > 0 {
				bad("%s: an expanded row keeps no panels of its own (they follow it in the list)", where)
			}
			validatePanels(p.Panels, path+fmt.Sprintf("[%d].panels", i), true, bad)
			continue
		}
		if len(p.Panels) > 0 {
			bad("%s: only rows hold panels", where)
		}
		validateTargets(p, where, bad)
		validateOptions(p, where, bad)
	}
}

func validateTargets(p *Panel, where string, bad func(string, ...any)) {
	if p.Datasource != nil && !knownDS(p.Datasource.Type) {
		bad("%s: datasource type %q: want prometheus or loki", where, p.Datasource.Type)
	}
	if len(p.Targets) > MaxTargets {
		bad("%s: %d queries, at most %d", where, len(p.Targets), MaxTargets)
	}
	refs := map[string]bool{}
	for j, t := range p.Targets {
		tw := fmt.Sprintf("%s.targets[%d] (%s)", where, j, t.RefID)
		if refs[t.RefID] {
			bad("%s: a second query with refId %q", tw, t.RefID)
		}
		refs[t.RefID] = true
		if t.Datasource != nil && !knownDS(t.Datasource.Type) {
			bad("%s: datasource type %q: want prometheus or loki", tw, t.Datasource.Type)
		}
		if strings.TrimSpace(t.Expr) == "" && !t.Hide {
			bad("%s: expr is empty", tw)
		}
		if !slices.Contains([]string{"", "time_series", "table", "heatmap"}, t.Format) {
			bad("%s: format %q: want time_series, table or heatmap", tw, t.Format)
		}
		if t.MaxLines < 0 {
			bad("%s: maxLines %d is negative", tw, t.MaxLines)
		}
	}
	switch p.Type {
	case PanelTraces, PanelErrors, PanelText:
		if len(p.Targets) > 0 {
			bad("%s: a %s panel has no queries (its options say what it shows)", where, p.Type)
		}
	case PanelLogs:
		for j, t := range p.Targets {
			if ds := TargetDatasource(p, &p.Targets[j]); ds != DSLoki {
				bad("%s.targets[%d] (%s): a logs panel queries loki, not %s", where, j, t.RefID, ds)
			}
		}
	}
	if p.Interval != "" {
		if _, err := model.ParseDuration(p.Interval); err != nil && !strings.HasPrefix(p.Interval, "$") {
			bad("%s: interval %q is not a duration", where, p.Interval)
		}
	}
	if p.MaxDataPoints < 0 {
		bad("%s: maxDataPoints %d is negative", where, p.MaxDataPoints)
	}
}

// TargetDatasource is the data source type a target queries: its own, else its panel's,
// else prometheus.
func TargetDatasource(p *Panel, t *Target) string {
	switch {
	case t.Datasource != nil && t.Datasource.Type != "":
		return t.Datasource.Type
	case p.Datasource != nil && p.Datasource.Type != "":
		return p.Datasource.Type
	}
	return DSPrometheus
}

// searchParams are the parameters a traces or errors panel's options.query may hold: those
// of the native API's trace search and issue list (docs/api-native.md).
var searchParams = map[string][]string{
	PanelTraces: {"service", "span_name", "attr", "min_duration", "max_duration", "errors", "limit"},
	PanelErrors: {"service", "project", "environment", "release", "status", "q", "sort", "limit"},
}

func validateOptions(p *Panel, where string, bad func(string, ...any)) {
	switch p.Type {
	case PanelTraces, PanelErrors:
		q, _ := p.Options["query"].(string)
		vals, err := url.ParseQuery(q)
		if err != nil {
			bad("%s: options.query %q: %v", where, q, err)
			return
		}
		for k := range vals {
			if !slices.Contains(searchParams[p.Type], k) {
				bad("%s: options.query: unknown parameter %q (want %s)", where, k, strings.Join(searchParams[p.Type], ", "))
			}
		}
	case PanelText:
		if _, ok := p.Options["content"]; ok {
			if _, isStr := p.Options["content"].(string); !isStr {
				bad("%s: options.content must be a string", where)
			}
		}
	}
}
