package dashboards

import (
	"fmt"
	"slices"
	"strings"
)

// optionKeys are the options Loupe keeps per panel type (Grafana's names).
var optionKeys = map[string]map[string]bool{
	PanelTimeseries: set("legend", "tooltip"),
	PanelStat:       set("reduceOptions", "colorMode", "graphMode", "textMode", "justifyMode", "orientation", "text", "showPercentChange", "percentChangeColorMode", "wideLayout"),
	PanelGauge:      set("reduceOptions", "orientation", "showThresholdLabels", "showThresholdMarkers", "text", "minVizWidth", "minVizHeight", "sizing"),
	PanelBarGauge:   set("reduceOptions", "orientation", "displayMode", "showUnfilled", "valueMode", "namePlacement", "text", "minVizWidth", "minVizHeight", "maxVizHeight", "sizing", "legend"),
	PanelTable:      set("showHeader", "sortBy", "cellHeight", "footer", "frameIndex"),
	PanelHeatmap:    set("calculate", "calculation", "cellGap", "cellValues", "color", "exemplars", "filterValues", "legend", "rowsFrame", "showValue", "tooltip", "yAxis", "selectionMode"),
	PanelLogs:       set("showTime", "showLabels", "showCommonLabels", "wrapLogMessage", "prettifyLogMessage", "enableLogDetails", "dedupStrategy", "sortOrder", "enableInfiniteScrolling"),
	PanelText:       set("mode", "content", "code"),
	PanelTraces:     set("query", "limit"),
	PanelErrors:     set("query", "limit"),
}

// customKeys are the fieldConfig.defaults.custom keys Loupe keeps per panel type.
var customKeys = map[string]map[string]bool{
	PanelTimeseries: set("drawStyle", "lineWidth", "fillOpacity", "stacking", "showPoints", "pointSize", "lineInterpolation",
		"spanNulls", "axisPlacement", "axisLabel", "axisSoftMin", "axisSoftMax", "scaleDistribution", "thresholdsStyle", "hideFrom", "gradientMode"),
	PanelTable:   set("align", "width", "minWidth", "cellOptions", "filterable", "inspect"),
	PanelHeatmap: set("hideFrom", "scaleDistribution"),
}

// customDefaults are Grafana's defaults of custom keys Loupe does not keep: at these
// values they change nothing.
var customDefaults = map[string]any{
	"axisBorderShow": false, "axisCenteredZero": false, "axisColorMode": "text", "barAlignment": 0.0,
	"barWidthFactor": 0.6, "insertNulls": false, "showValues": false, "lineStyle": map[string]any{"fill": "solid"},
	"hideFrom": map[string]any{"legend": false, "tooltip": false, "viz": false},
}

// passTypes are the Grafana panel types Loupe has as they are.
var passTypes = []string{PanelTimeseries, PanelStat, PanelGauge, PanelBarGauge, PanelTable, PanelHeatmap,
	PanelLogs, PanelText, PanelTraces, PanelErrors}

// panelKeys are the panel fields the importer reads itself, or that change nothing drawn.
var panelKeys = set("id", "type", "title", "description", "gridPos", "datasource", "targets", "fieldConfig",
	"options", "interval", "maxDataPoints", "collapsed", "panels",
	"pluginVersion", "editable", "error", "isNew", "scopedVars", "repeatIteration", "repeatPanelId", "span", "height")

func (im *importer) panels(list []any, path string) []Panel {
	out := make([]Panel, 0, len(list))
	for i, v := range list {
		m := obj(v)
		if m == nil {
			continue
		}
		out = append(out, im.panel(m, fmt.Sprintf("%s[%d]", path, i)))
	}
	return out
}

func (im *importer) panel(m map[string]any, path string) Panel {
	rp := im.rp.forPanel(m)
	typ := str(m["type"])
	p := Panel{ID: toInt(m["id"]), Type: typ, Title: str(m["title"]), Description: str(m["description"]),
		Interval: str(m["interval"]), MaxDataPoints: toInt(m["maxDataPoints"])}
	if g := obj(m["gridPos"]); g != nil {
		p.GridPos = GridPos{X: toInt(g["x"]), Y: toInt(g["y"]), W: toInt(g["w"]), H: toInt(g["h"])}
	}
	if typ == PanelRow {
		p.Collapsed = m["collapsed"] == true
		if p.Collapsed {
			p.Panels = im.panels(toList(m["panels"]), path+".panels")
		}
		if m["repeat"] != nil && m["repeat"] != "" {
			rp.unsupported("repeat", "rows repeated by a variable ($%s): not supported, the row is shown once", str(m["repeat"]))
		}
		return p
	}
	if im.isTempoPanel(m) {
		return im.tempoPanel(m, p, rp)
	}
	handled := panelKeys
	switch {
	case typ == "graph":
		p.Type = PanelTimeseries
		rp.add(Converted, "type", "legacy graph panel: converted to timeseries")
		handled = im.legacyGraph(m, &p, rp)
	case typ == "singlestat" || typ == "grafana-singlestat-panel":
		handled = im.legacySinglestat(m, &p, rp)
	case isLegacyHeatmap(m):
		handled = im.legacyHeatmap(m, &p, rp)
	case typ == "table-old":
		p.Type = PanelTable
		rp.add(Converted, "type", "legacy table panel: converted to table")
		handled = im.legacyTable(m, &p, rp)
	case slices.Contains(passTypes, typ):
		p.Options = im.options(obj(m["options"]), typ, rp)
		p.FieldConfig = im.fieldConfig(obj(m["fieldConfig"]), typ, rp)
		if typ == PanelHeatmap {
			heatmapOptions(p.Options, rp)
		}
	default:
		return im.placeholder(m, p, rp)
	}
	p.Datasource, p.Targets = im.targets(m, rp)
	if p.Type == PanelTraces || p.Type == PanelErrors || p.Type == PanelText {
		if len(p.Targets) > 0 {
			rp.unsupported("targets", "a %s panel's queries are not kept: its options say what it shows", p.Type)
		}
		p.Datasource, p.Targets = nil, nil
	}
	if p.Type == PanelText && p.Options == nil {
		p.Options = map[string]any{"mode": "markdown", "content": ""}
	}
	im.panelLeftovers(m, handled, rp)
	return p
}

// placeholder keeps the place of a panel of a type Loupe does not draw, as a text panel
// naming the type and listing its queries.
func (im *importer) placeholder(m map[string]any, p Panel, rp reporter) Panel {
	typ := str(m["type"])
	var b strings.Builder
	if lib := obj(m["libraryPanel"]); lib != nil && typ == "" {
		rp.unsupported("libraryPanel", "library panel %q: not supported, replaced by a text panel", str(lib["name"]))
		fmt.Fprintf(&b, "Grafana library panel `%s` is not supported by Loupe.\n", str(lib["name"]))
	} else {
		rp.unsupported("type", "panel type %q: not supported, replaced by a text panel with its queries", typ)
		fmt.Fprintf(&b, "Grafana panel type `%s` is not supported by Loupe.\n", typ)
	}
	for _, t := range toList(m["targets"]) {
		if e := str(obj(t)["expr"]); e != "" {
			fmt.Fprintf(&b, "\n```\n%s\n```\n", e)
		}
	}
	p.Type = PanelText
	p.Options = map[string]any{"mode": "markdown", "content": b.String()}
	p.Interval, p.MaxDataPoints = "", 0
	return p
}

func (im *importer) panelLeftovers(m map[string]any, handled map[string]bool, rp reporter) {
	explain := map[string]string{
		"transformations": "transformations are not supported",
		"links":           "panel links are not supported",
		"repeat":          "panels repeated by a variable are not supported: the panel is shown once",
		"timeFrom":        "a panel's own time range is not supported",
		"timeShift":       "a panel's time shift is not supported",
		"libraryPanel":    "library panels are not supported",
		"alert":           "legacy panel alerts are not imported: use Loupe's alerting rules (docs/alerting.md)",
		"transparent":     "transparent panels are not supported",
	}
	for k, msg := range explain {
		if !handled[k] && !isZero(m[k]) {
			rp.unsupported(k, "%s", msg)
		}
	}
	skip := set("repeatDirection", "maxPerRow", "hideTimeOverride", "cacheTimeout", "queryCachingTTL")
	for k := range explain {
		skip[k] = true
	}
	for k := range handled {
		skip[k] = true
	}
	rp.leftovers(m, "", skip, nil)
}

// options keeps the options Loupe knows for typ and reports the others.
func (im *importer) options(o map[string]any, typ string, rp reporter) map[string]any {
	if len(o) == 0 {
		return nil
	}
	out := map[string]any{}
	for k, v := range o {
		if optionKeys[typ][k] {
			out[k] = v
		}
	}
	rp.leftovers(o, "options.", optionKeys[typ], nil)
	if typ == PanelText {
		if mode := str(o["mode"]); mode != "" && mode != "markdown" {
			rp.unsupported("options.mode", "text mode %q: shown as Markdown", mode)
			out["mode"] = "markdown"
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// fieldConfig keeps the supported defaults and reports the rest, overrides included.
func (im *importer) fieldConfig(fc map[string]any, typ string, rp reporter) *FieldConfig {
	for i, o := range toList(fc["overrides"]) {
		match := obj(obj(o)["matcher"])
		rp.unsupported(fmt.Sprintf("fieldConfig.overrides[%d]", i), "per-series override (%s %s): not supported", str(match["id"]), short(match["options"]))
	}
	d := obj(fc["defaults"])
	if len(d) == 0 {
		return nil
	}
	var out FieldDefaults
	out.Unit = str(d["unit"])
	if f, ok := toFloat(d["min"]); ok && d["min"] != nil {
		out.Min = &f
	}
	if f, ok := toFloat(d["max"]); ok && d["max"] != nil {
		out.Max = &f
	}
	if d["decimals"] != nil {
		n := toInt(d["decimals"])
		out.Decimals = &n
	}
	out.DisplayName, out.NoValue = str(d["displayName"]), str(d["noValue"])
	out.Thresholds = thresholds(obj(d["thresholds"]))
	if c := obj(d["color"]); len(c) > 0 {
		out.Color = c
	}
	for _, mp := range toList(d["mappings"]) {
		if m := obj(mp); m != nil {
			out.Mappings = append(out.Mappings, m)
		}
	}
	if c := obj(d["custom"]); len(c) > 0 {
		kept := map[string]any{}
		for k, v := range c {
			if customKeys[typ][k] && !isZero(v) {
				kept[k] = v
			}
		}
		rp.leftovers(c, "fieldConfig.defaults.custom.", customKeys[typ], customDefaults)
		if len(kept) > 0 {
			out.Custom = kept
		}
	}
	rp.leftovers(d, "fieldConfig.defaults.", set("unit", "min", "max", "decimals", "displayName", "noValue",
		"thresholds", "color", "mappings", "custom"), nil)
	if isZero(fieldDefaultsMap(out)) {
		return nil
	}
	return &FieldConfig{Defaults: out}
}

func fieldDefaultsMap(f FieldDefaults) map[string]any {
	return map[string]any{"unit": f.Unit, "min": f.Min != nil, "max": f.Max != nil, "decimals": f.Decimals != nil,
		"displayName": f.DisplayName, "noValue": f.NoValue, "thresholds": f.Thresholds != nil,
		"color": len(f.Color) > 0, "mappings": len(f.Mappings) > 0, "custom": len(f.Custom) > 0}
}

func thresholds(t map[string]any) *Thresholds {
	steps := toList(t["steps"])
	if len(steps) == 0 {
		return nil
	}
	out := &Thresholds{Mode: str(t["mode"])}
	if out.Mode == "" {
		out.Mode = "absolute"
	}
	for _, s := range steps {
		m := obj(s)
		st := ThresholdStep{Color: str(m["color"])}
		if f, ok := toFloat(m["value"]); ok && m["value"] != nil {
			st.Value = &f
		}
		out.Steps = append(out.Steps, st)
	}
	return out
}

// targets imports the panel's queries of prometheus and loki data sources and reports the
// others.
func (im *importer) targets(m map[string]any, rp reporter) (*Datasource, []Target) {
	panelDS := im.dsType(m["datasource"])
	var pds *Datasource
	if knownDS(panelDS) {
		pds = &Datasource{Type: panelDS}
	}
	var out []Target
	for i, v := range toList(m["targets"]) {
		t := obj(v)
		path := fmt.Sprintf("targets[%d]", i)
		ds := im.dsType(t["datasource"])
		if ds == "" || ds == "-- Mixed --" {
			ds = panelDS
		}
		if ds == "" || ds == "-- Mixed --" {
			ds = DSPrometheus
		}
		if !knownDS(ds) {
			rp.unsupported(path, "query %s of a %s data source: not supported, dropped", str(t["refId"]), ds)
			continue
		}
		expr := str(t["expr"])
		if strings.TrimSpace(expr) == "" {
			rp.unsupported(path, "query %s has no expression: dropped", str(t["refId"]))
			continue
		}
		tg := Target{RefID: str(t["refId"]), Expr: expr, LegendFormat: str(t["legendFormat"]),
			Instant: t["instant"] == true || str(t["queryType"]) == "instant", Format: str(t["format"]),
			Interval: str(t["interval"]), Hide: t["hide"] == true, MaxLines: toInt(t["maxLines"])}
		if tg.Format == "time_series" {
			tg.Format = ""
		}
		if ds != panelDS {
			tg.Datasource = &Datasource{Type: ds}
		}
		out = append(out, tg)
		rp.leftovers(t, path+".", set("refId", "expr", "legendFormat", "instant", "format", "interval", "hide",
			"maxLines", "datasource", "range", "queryType", "editorMode", "intervalFactor", "metric", "step", "key",
			"exemplar", "useBackend", "disableTextWrap", "fullMetaSearch", "includeNullMetadata", "instant"),
			map[string]any{"resolution": 1.0, "legendFormat": "__auto"})
		if t["exemplar"] == true {
			rp.unsupported(path+".exemplar", "exemplars are not shown")
		}
	}
	if pds == nil && len(out) > 0 && panelDS != "-- Mixed --" {
		// The panel used the default data source: name the one its queries use.
		pds = &Datasource{Type: TargetDatasource(&Panel{}, &out[0])}
		for i := range out {
			if out[i].Datasource != nil && out[i].Datasource.Type == pds.Type {
				out[i].Datasource = nil
			}
		}
	}
	return pds, out
}
