package dashboards

import (
	"encoding/json"
	"fmt"
)

// exportSchemaVersion is the schemaVersion of exported dashboards (Grafana 10.3 to 11):
// Grafana migrates it forward on import.
const exportSchemaVersion = 39

// dsInputs are the __inputs of an export, one per data source type used.
var dsInputs = map[string]map[string]any{
	DSPrometheus: {"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "", "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"},
	DSLoki:       {"name": "DS_LOKI", "label": "Loki", "description": "", "type": "datasource", "pluginId": "loki", "pluginName": "Loki"},
	dsTempo:      {"name": "DS_TEMPO", "label": "Tempo", "description": "", "type": "datasource", "pluginId": "tempo", "pluginName": "Tempo"},
}

// ExportGrafana returns d as a Grafana dashboard JSON for "Import dashboard" in Grafana:
// data sources as __inputs placeholders (${DS_PROMETHEUS}, ${DS_LOKI}) that Grafana asks
// to map on import. A traces panel whose search TraceQL can say becomes a table of a Tempo
// search (grafana_tempo_export.go, ${DS_TEMPO}); other traces panels and errors panels
// are kept by name, their search in options.query: Grafana draws its own traces panel
// empty and errors as a missing plugin, and importing the file into Loupe gets them back.
func ExportGrafana(d Dashboard) ([]byte, error) {
	used := map[string]bool{}
	ds := func(typ string) map[string]any {
		if typ == "" {
			typ = DSPrometheus
		}
		used[typ] = true
		return map[string]any{"type": typ, "uid": "${" + dsInputs[typ]["name"].(string) + "}"}
	}
	panelTypes := map[string]bool{}
	var panels func(ps []Panel) []any
	panels = func(ps []Panel) []any {
		out := make([]any, 0, len(ps))
		for _, p := range ps {
			panelTypes[p.Type] = true
			g := map[string]any{"id": p.ID, "type": p.Type, "title": p.Title,
				"gridPos": map[string]any{"x": p.GridPos.X, "y": p.GridPos.Y, "w": p.GridPos.W, "h": p.GridPos.H}}
			if p.Description != "" {
				g["description"] = p.Description
			}
			if p.Type == PanelRow {
				g["collapsed"] = p.Collapsed
				g["panels"] = panels(p.Panels)
				out = append(out, g)
				continue
			}
			if len(p.Targets) > 0 {
				mixed := false
				for i := range p.Targets {
					if TargetDatasource(&p, &p.Targets[i]) != TargetDatasource(&p, &p.Targets[0]) {
						mixed = true
					}
				}
				if mixed {
					g["datasource"] = map[string]any{"type": "datasource", "uid": "-- Mixed --"}
				} else {
					g["datasource"] = ds(TargetDatasource(&p, &p.Targets[0]))
				}
				var ts []any
				for i := range p.Targets {
					t := p.Targets[i]
					gt := map[string]any{"refId": t.RefID, "expr": t.Expr, "datasource": ds(TargetDatasource(&p, &t))}
					if t.LegendFormat != "" {
						gt["legendFormat"] = t.LegendFormat
					}
					if t.Instant {
						gt["instant"], gt["range"] = true, false
					} else {
						gt["range"] = true
					}
					if t.Format != "" {
						gt["format"] = t.Format
					}
					if t.Interval != "" {
						gt["interval"] = t.Interval
					}
					if t.Hide {
						gt["hide"] = true
					}
					if t.MaxLines > 0 {
						gt["maxLines"] = t.MaxLines
					}
					ts = append(ts, gt)
				}
				g["targets"] = ts
			} else if p.Datasource != nil {
				g["datasource"] = ds(p.Datasource.Type)
			}
			fc := map[string]any{"defaults": map[string]any{}, "overrides": []any{}}
			if p.FieldConfig != nil {
				b, err := json.Marshal(p.FieldConfig.Defaults)
				if err != nil {
					return nil
				}
				var m map[string]any
				_ = json.Unmarshal(b, &m)
				fc["defaults"] = m
			}
			g["fieldConfig"] = fc
			g["options"] = p.Options
			if p.Options == nil {
				g["options"] = map[string]any{}
			}
			if p.Interval != "" {
				g["interval"] = p.Interval
			}
			if p.MaxDataPoints > 0 {
				g["maxDataPoints"] = p.MaxDataPoints
			}
			if p.Type == PanelTraces {
				if tg, ok := tempoExport(p, g, ds); ok {
					g = tg
					panelTypes[PanelTable] = true
				}
			}
			out = append(out, g)
		}
		return out
	}
	ps := panels(d.Panels)

	vars := make([]any, 0, len(d.Templating.List))
	for _, v := range d.Templating.List {
		g := map[string]any{"type": v.Type, "name": v.Name, "hide": v.Hide, "skipUrlSync": false}
		put := func(k string, val any, keep bool) {
			if keep {
				g[k] = val
			}
		}
		put("label", v.Label, v.Label != "")
		put("description", v.Description, v.Description != "")
		put("query", v.Query, true)
		put("regex", v.Regex, v.Regex != "")
		put("current", v.Current, v.Current != nil)
		if v.Type == VarQuery {
			typ := DSPrometheus
			if v.Datasource != nil && v.Datasource.Type != "" {
				typ = v.Datasource.Type
			}
			g["datasource"] = ds(typ)
			g["definition"] = v.Query
		}
		// What the importer reads of every variable type, so that an export imports back
		// the same.
		put("refresh", v.Refresh, v.Refresh != 0 || v.Type == VarQuery)
		put("sort", v.Sort, v.Sort != 0 || v.Type == VarQuery)
		put("multi", v.Multi, v.Multi || v.Type == VarQuery || v.Type == VarCustom)
		put("includeAll", v.IncludeAll, v.IncludeAll || v.Type == VarQuery || v.Type == VarCustom)
		put("allValue", v.AllValue, v.AllValue != "")
		if v.Type == VarInterval {
			g["auto"], g["auto_count"], g["auto_min"] = v.Auto, v.AutoCount, v.AutoMin
		}
		vars = append(vars, g)
	}

	inputs := []any{}
	requires := []any{map[string]any{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.3.0"}}
	for _, typ := range []string{DSPrometheus, DSLoki, dsTempo} {
		if used[typ] {
			inputs = append(inputs, dsInputs[typ])
			requires = append(requires, map[string]any{"type": "datasource", "id": typ, "name": dsInputs[typ]["pluginName"], "version": "1.0.0"})
		}
	}
	for _, t := range PanelTypes {
		if panelTypes[t] && t != PanelRow {
			requires = append(requires, map[string]any{"type": "panel", "id": t, "name": t, "version": ""})
		}
	}
	g := map[string]any{
		"__inputs":   inputs,
		"__elements": map[string]any{},
		"__requires": requires,
		"annotations": map[string]any{"list": []any{map[string]any{
			"builtIn": 1, "datasource": map[string]any{"type": "grafana", "uid": "-- Grafana --"}, "enable": true, "hide": true,
			"iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}}},
		"editable":      true,
		"graphTooltip":  0,
		"id":            nil,
		"links":         []any{},
		"uid":           d.UID,
		"title":         d.Title,
		"description":   d.Description,
		"tags":          d.Tags,
		"time":          map[string]any{"from": d.Time.From, "to": d.Time.To},
		"timezone":      d.Timezone,
		"refresh":       d.Refresh,
		"schemaVersion": exportSchemaVersion,
		"version":       1,
		"templating":    map[string]any{"list": vars},
		"panels":        ps,
	}
	if d.Tags == nil {
		g["tags"] = []string{}
	}
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("export dashboard %s: %w", d.UID, err)
	}
	return out, nil
}
