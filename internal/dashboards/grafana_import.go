package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Schema versions of Grafana dashboards the importer was written against (Grafana 9.0 to
// 11.x write 36 to 41). Older ones with grid positions (16 and later, Grafana 5) import
// too, with a note.
const (
	minSchemaVersion    = 16
	testedSchemaVersion = 36
	latestSchemaVersion = 41
)

// IsGrafana reports whether a dashboard JSON document is Grafana's rather than Loupe's:
// Grafana's carry a schemaVersion (and exports an __inputs list), Loupe's neither.
func IsGrafana(raw []byte) bool {
	var probe struct {
		SchemaVersion *json.RawMessage `json:"schemaVersion"`
		Inputs        *json.RawMessage `json:"__inputs"`
		Dashboard     *json.RawMessage `json:"dashboard"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return false
	}
	return probe.SchemaVersion != nil || probe.Inputs != nil || probe.Dashboard != nil
}

// ImportGrafana converts a Grafana dashboard JSON (as exported by Grafana, with or without
// __inputs; or the {"dashboard": ...} answer of Grafana's HTTP API) to a Loupe dashboard
// and reports, panel by panel and option by option, what it left out or converted. The
// dashboard is normalized but not validated.
func ImportGrafana(raw []byte) (Dashboard, Report, error) {
	var g map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&g); err != nil {
		return Dashboard{}, Report{}, fmt.Errorf("grafana dashboard: malformed JSON: %w", err)
	}
	if g == nil {
		return Dashboard{}, Report{}, errors.New("grafana dashboard: want a JSON object")
	}
	if inner := obj(g["dashboard"]); inner != nil && g["panels"] == nil {
		g = inner // Grafana's GET /api/dashboards/uid/<uid> answer, or its POST body
	}
	rep := Report{Items: []ReportItem{}}
	rp := reporter{r: &rep}
	if g["apiVersion"] != nil || g["elements"] != nil {
		return Dashboard{}, rep, errors.New("grafana dashboard: the v2 schema (Grafana 12 dynamic dashboards, elements and layout) is not supported: export the dashboard in the classic JSON model")
	}
	sv := toInt(g["schemaVersion"])
	rep.SchemaVersion = sv
	if rows, ok := g["rows"].([]any); ok && len(rows) > 0 {
		return Dashboard{}, rep, fmt.Errorf("grafana dashboard: schemaVersion %d lays panels out in rows (Grafana 4 and older): open it in Grafana 5 or later and save it, then import it", sv)
	}
	switch {
	case sv == 0:
		rp.add(Converted, "schemaVersion", "no schemaVersion: read as a recent Grafana dashboard")
	case sv < minSchemaVersion:
		return Dashboard{}, rep, fmt.Errorf("grafana dashboard: schemaVersion %d is older than %d (Grafana 5): open it in a recent Grafana and save it, then import it", sv, minSchemaVersion)
	case sv < testedSchemaVersion:
		rp.add(Converted, "schemaVersion", "schemaVersion %d is older than %d (Grafana 9): imported as the same fields, check the result", sv, testedSchemaVersion)
	case sv > latestSchemaVersion:
		rp.add(Converted, "schemaVersion", "schemaVersion %d is newer than %d, the latest this importer knows: check the result", sv, latestSchemaVersion)
	}

	im := &importer{rp: rp, inputs: map[string]string{}, dsVars: map[string]string{}}
	for _, in := range toList(g["__inputs"]) {
		m := obj(in)
		if str(m["type"]) == "datasource" {
			im.inputs[str(m["name"])] = str(m["pluginId"])
		}
	}
	if el := obj(g["__elements"]); len(el) > 0 {
		rp.unsupported("__elements", "%d library panel(s): not supported, their panels are imported as placeholders", len(el))
	}
	d := Dashboard{
		UID:         str(g["uid"]),
		Title:       strings.TrimSpace(str(g["title"])),
		Description: str(g["description"]),
		Tags:        []string{},
	}
	for _, t := range toList(g["tags"]) {
		if s := str(t); s != "" {
			d.Tags = append(d.Tags, s)
		}
	}
	if tm := obj(g["time"]); tm != nil {
		d.Time = TimeRange{From: str(tm["from"]), To: str(tm["to"])}
	}
	d.Refresh = str(g["refresh"]) // Grafana writes false for off
	switch tz := str(g["timezone"]); tz {
	case "", "browser", "utc":
		d.Timezone = tz
	default:
		rp.unsupported("timezone", "time zone %q: not supported, the browser's is used", tz)
	}
	if d.UID == "" {
		d.UID = slug(d.Title)
		rp.add(Converted, "uid", "no uid: %q, from the title", d.UID)
	}
	im.variables(g, &d)
	d.Panels = im.panels(toList(g["panels"]), "panels")
	im.fixLayout(&d)
	im.dashboardLeftovers(g)
	Normalize(&d)
	return d, rep, nil
}

type importer struct {
	rp     reporter
	inputs map[string]string // __inputs: DS_PROMETHEUS -> prometheus
	dsVars map[string]string // data source variables: ds -> prometheus
}

func toList(v any) []any {
	l, _ := v.([]any)
	return l
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

func slug(title string) string {
	s := strings.Trim(slugRE.ReplaceAllString(strings.ToLower(title), "-"), "-")
	if len(s) > maxUIDLen {
		s = strings.TrimRight(s[:maxUIDLen], "-")
	}
	if s == "" {
		s = "imported"
	}
	return s
}

// dashboardLeftovers reports the dashboard-level fields Loupe does not keep.
func (im *importer) dashboardLeftovers(g map[string]any) {
	for i, a := range toList(obj(g["annotations"])["list"]) {
		m := obj(a)
		if toInt(m["builtIn"]) == 1 {
			continue // Grafana's own "Annotations & Alerts"
		}
		im.rp.unsupported(fmt.Sprintf("annotations.list[%d]", i), "annotation %q: not supported", str(m["name"]))
	}
	handled := set("uid", "title", "description", "tags", "time", "refresh", "timezone", "templating",
		"panels", "annotations", "schemaVersion", "__inputs", "__requires", "__elements",
		// Grafana's bookkeeping, no effect on what is drawn:
		"id", "version", "gnetId", "iteration", "editable", "style", "timepicker", "hideControls",
		"fiscalYearStartMonth", "weekStart", "liveNow", "rows", "preload")
	im.rp.leftovers(g, "", handled, nil)
}

// dsType resolves a Grafana data source reference (null, a name, "${DS_X}", "$ds", or
// {"type", "uid"}) to a plugin type: "" for the default data source, "-- Mixed --" for a
// mixed panel.
func (im *importer) dsType(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return im.dsName(v)
	case map[string]any:
		if t := str(v["type"]); t != "" {
			if t == "datasource" {
				return im.dsName(str(v["uid"]))
			}
			return t
		}
		return im.dsName(str(v["uid"]))
	}
	return ""
}

func (im *importer) dsName(s string) string {
	switch s {
	case "":
		return ""
	case "-- Mixed --":
		return "-- Mixed --"
	case "-- Grafana --", "grafana":
		return "grafana"
	case "-- Dashboard --":
		return "dashboard"
	}
	if strings.HasPrefix(s, "$") {
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "$"), "{"), "}")
		if t, ok := im.inputs[name]; ok {
			return t
		}
		if t, ok := im.dsVars[name]; ok {
			return t
		}
		return ""
	}
	// A data source name of the exporting Grafana: its type is unknown here.
	if strings.Contains(strings.ToLower(s), "loki") {
		return DSLoki
	}
	if strings.Contains(strings.ToLower(s), "tempo") {
		return "tempo" // not drawn as such: its trace searches become traces panels
	}
	return DSPrometheus
}

func (im *importer) variables(g map[string]any, d *Dashboard) {
	list := toList(obj(g["templating"])["list"])
	// Data source variables first: queries and other variables refer to them.
	for _, v := range list {
		m := obj(v)
		if str(m["type"]) == "datasource" {
			im.dsVars[str(m["name"])] = str(m["query"])
		}
	}
	d.Templating.List = []Variable{}
	for i, v := range list {
		m := obj(v)
		path := fmt.Sprintf("templating.list[%d]", i)
		name, typ := str(m["name"]), str(m["type"])
		out := Variable{Type: typ, Name: name, Label: str(m["label"]), Description: str(m["description"]),
			Regex: str(m["regex"]), Sort: toInt(m["sort"]), Refresh: toInt(m["refresh"]), Multi: m["multi"] == true,
			IncludeAll: m["includeAll"] == true, AllValue: str(m["allValue"]), Hide: toInt(m["hide"])}
		if c := obj(m["current"]); c != nil && (c["value"] != nil || c["text"] != nil) {
			out.Current = &Current{Text: c["text"], Value: c["value"]}
		}
		switch typ {
		case "datasource":
			im.rp.add(Converted, path, "data source variable $%s (%s): Loupe answers prometheus and loki itself, the variable is dropped", name, str(m["query"]))
			continue
		case VarQuery:
			out.Query = str(m["query"])
			if q := obj(m["query"]); q != nil {
				out.Query = variableQuery(q)
			}
			switch t := im.dsType(m["datasource"]); {
			case strings.TrimSpace(out.Query) == "":
				im.rp.unsupported(path+".query", "query variable $%s has no query: it became a text box", name)
				out = Variable{Type: VarTextbox, Name: name, Label: out.Label, Query: currentText(out.Current), Current: out.Current}
			case t == "" || t == DSPrometheus:
			case t == DSLoki:
				out.Datasource = &Datasource{Type: DSLoki}
			default:
				im.rp.unsupported(path+".datasource", "query variable $%s queries a %s data source: not supported, it became a text box", name, t)
				out = Variable{Type: VarTextbox, Name: name, Label: out.Label, Query: currentText(out.Current), Current: out.Current}
			}
		case VarCustom, VarConstant, VarTextbox:
			out.Query = str(m["query"])
		case VarInterval:
			out.Query = str(m["query"])
			out.Auto, out.AutoCount, out.AutoMin = m["auto"] == true, toInt(m["auto_count"]), str(m["auto_min"])
		default:
			im.rp.unsupported(path, "variable $%s of type %q: not supported, dropped", name, typ)
			continue
		}
		if out.Type != VarInterval {
			out.Auto, out.AutoCount, out.AutoMin = false, 0, ""
		}
		d.Templating.List = append(d.Templating.List, out)
	}
}

// variableQuery is the query of a variable whose query is an object: Prometheus' editor
// keeps the text in "query"; Loki's keeps {"type": 0 (label names) or 1 (label values),
// "label", "stream"}.
func variableQuery(q map[string]any) string {
	if s := str(q["query"]); s != "" {
		return s
	}
	label, stream := str(q["label"]), str(q["stream"])
	switch {
	case label != "" && stream != "":
		return fmt.Sprintf("label_values(%s, %s)", stream, label)
	case label != "":
		return fmt.Sprintf("label_values(%s)", label)
	case q["type"] != nil && toInt(q["type"]) == 0:
		return "label_names()"
	}
	return ""
}

func currentText(c *Current) string {
	if c == nil {
		return ""
	}
	if s, ok := c.Value.(string); ok {
		return s
	}
	return ""
}

// fixLayout gives panels what Grafana fills in itself when a file leaves it out or gets
// it wrong, each with a note: a size (a row is 24x1, another panel 12x8), a place within
// the 24 columns, and an id of its own (Grafana tolerates duplicates, Loupe does not).
func (im *importer) fixLayout(d *Dashboard) {
	seen := map[int]bool{}
	maxID := 0
	d.Walk(func(p *Panel) {
		maxID = max(maxID, p.ID)
		im.rp.r.Panels++ // the report's count: Normalize, after this, adds or removes none
	})
	d.Walk(func(p *Panel) {
		rp := im.rp.forPanel(map[string]any{"id": float64(p.ID), "title": p.Title, "type": p.Type})
		g := &p.GridPos
		if g.W <= 0 || g.H <= 0 {
			w, h := 12, 8
			if p.Type == PanelRow {
				w, h = 24, 1
			}
			if g.W <= 0 {
				g.W = w
			}
			if g.H <= 0 {
				g.H = h
			}
			rp.add(Converted, "gridPos", "no size: %dx%d", g.W, g.H)
		}
		if g.W > 24 {
			g.W = 24
		}
		if g.X < 0 || g.X+g.W > 24 {
			g.X = max(0, 24-g.W)
			rp.add(Converted, "gridPos.x", "moved to column %d to fit in 24 columns", g.X)
		}
		g.Y = max(g.Y, 0)
		if p.ID > 0 && seen[p.ID] {
			maxID++
			rp.add(Converted, "id", "a second panel with id %d: now %d", p.ID, maxID)
			p.ID = maxID
		}
		seen[p.ID] = true
	})
}
