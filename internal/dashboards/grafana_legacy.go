package dashboards

import (
	"fmt"
	"strings"
)

// The legacy panel types of Grafana before 7 (graph, singlestat, table-old) are mapped as
// Grafana's own automatic migration maps them, for the options Loupe draws.

// legacyGraph converts a graph panel's options to a timeseries panel's and returns the
// panel keys it read.
func (im *importer) legacyGraph(m map[string]any, p *Panel, rp reporter) map[string]bool {
	custom := map[string]any{}
	switch {
	case m["bars"] == true:
		custom["drawStyle"] = "bars"
	case m["lines"] == false && m["points"] == true:
		custom["drawStyle"] = "points"
	}
	if m["points"] == true && m["lines"] != false {
		custom["showPoints"] = "always"
	}
	if f, ok := toFloat(m["fill"]); ok && f > 0 {
		custom["fillOpacity"] = f * 10
	}
	if f, ok := toFloat(m["linewidth"]); ok && f != 1 {
		custom["lineWidth"] = f
	}
	if m["stack"] == true {
		mode := "normal"
		if m["percentage"] == true {
			mode = "percent"
		}
		custom["stacking"] = map[string]any{"mode": mode, "group": "A"}
	}
	if m["steppedLine"] == true {
		custom["lineInterpolation"] = "stepAfter"
	}
	switch np := str(m["nullPointMode"]); np {
	case "connected":
		custom["spanNulls"] = true
	case "", "null":
	default:
		rp.unsupported("nullPointMode", "null values drawn as %q: not supported, gaps are shown", np)
	}
	var fd FieldDefaults
	if d := m["decimals"]; d != nil {
		n := toInt(d)
		fd.Decimals = &n
	}
	yaxes := toList(m["yaxes"])
	if len(yaxes) > 0 {
		y := obj(yaxes[0])
		if u := str(y["format"]); u != "" && u != "short" {
			fd.Unit = u
		}
		if f, ok := toFloat(y["min"]); ok && y["min"] != nil {
			fd.Min = &f
		}
		if f, ok := toFloat(y["max"]); ok && y["max"] != nil {
			fd.Max = &f
		}
		if l := str(y["label"]); l != "" {
			custom["axisLabel"] = l
		}
		if b := toInt(y["logBase"]); b > 1 {
			custom["scaleDistribution"] = map[string]any{"type": "log", "log": float64(b)}
		}
		if y["show"] == false {
			custom["axisPlacement"] = "hidden"
		}
	}
	if len(custom) > 0 {
		fd.Custom = custom
	}
	if !isZero(fieldDefaultsMap(fd)) {
		p.FieldConfig = &FieldConfig{Defaults: fd}
	}
	opts := map[string]any{}
	if l := obj(m["legend"]); l != nil {
		legend := map[string]any{"showLegend": l["show"] != false, "displayMode": "list", "placement": "bottom", "calcs": []any{}}
		if l["show"] == false {
			legend["displayMode"] = "hidden"
		}
		if l["alignAsTable"] == true {
			legend["displayMode"] = "table"
		}
		if l["rightSide"] == true {
			legend["placement"] = "right"
		}
		if l["values"] == true {
			var calcs []any
			for _, c := range [][2]string{{"min", "min"}, {"max", "max"}, {"avg", "mean"}, {"current", "lastNotNull"}, {"total", "sum"}} {
				if l[c[0]] == true {
					calcs = append(calcs, c[1])
				}
			}
			if calcs != nil {
				legend["calcs"] = calcs
			}
		}
		for _, k := range []string{"hideEmpty", "hideZero", "sort", "sortDesc", "sideWidth"} {
			if !isZero(l[k]) {
				rp.unsupported("legend."+k, "not supported: %s", short(l[k]))
			}
		}
		opts["legend"] = legend
	}
	if t := obj(m["tooltip"]); t != nil {
		mode := "single"
		if t["shared"] == true {
			mode = "multi"
		}
		sort := "none"
		switch toInt(t["sort"]) {
		case 1:
			sort = "asc"
		case 2:
			sort = "desc"
		}
		opts["tooltip"] = map[string]any{"mode": mode, "sort": sort}
	}
	if len(opts) > 0 {
		p.Options = opts
	}
	if a := obj(m["aliasColors"]); len(a) > 0 {
		rp.unsupported("aliasColors", "fixed colours of %d series: not supported", len(a))
	}
	for i, o := range toList(m["seriesOverrides"]) {
		rp.unsupported(fmt.Sprintf("seriesOverrides[%d]", i), "series override for %s: not supported", short(obj(o)["alias"]))
	}
	if th := toList(m["thresholds"]); len(th) > 0 {
		rp.unsupported("thresholds", "%d graph threshold line(s): not supported", len(th))
	}
	if tr := toList(m["timeRegions"]); len(tr) > 0 {
		rp.unsupported("timeRegions", "%d time region(s): not supported", len(tr))
	}
	if x := obj(m["xaxis"]); x != nil && str(x["mode"]) != "" && str(x["mode"]) != "time" {
		rp.unsupported("xaxis.mode", "x axis mode %q: not supported, the x axis is time", str(x["mode"]))
	}
	if len(yaxes) > 1 {
		if y := obj(yaxes[1]); str(y["format"]) != "" && str(y["format"]) != "short" && y["show"] == true {
			rp.unsupported("yaxes[1]", "the right y axis (%s): not supported", str(y["format"]))
		}
	}
	return union(panelKeys, set("bars", "lines", "points", "fill", "linewidth", "stack", "percentage", "steppedLine",
		"nullPointMode", "decimals", "yaxes", "legend", "tooltip", "aliasColors", "seriesOverrides", "thresholds",
		"timeRegions", "xaxis", "yaxis", "renderer", "dashes", "dashLength", "spaceLength", "pointradius",
		"fillGradient", "hiddenSeries", "grid", "options", "fieldConfig"))
}

// singlestat value names and the reducers of stat panels.
var singlestatCalcs = map[string]string{"avg": "mean", "current": "lastNotNull", "max": "max", "min": "min",
	"total": "sum", "first": "firstNotNull", "delta": "delta", "diff": "diff", "range": "range"}

// legacySinglestat converts a singlestat to a stat panel, or to a gauge when it showed one.
func (im *importer) legacySinglestat(m map[string]any, p *Panel, rp reporter) map[string]bool {
	gauge := obj(m["gauge"])
	p.Type = PanelStat
	if gauge["show"] == true {
		p.Type = PanelGauge
	}
	rp.add(Converted, "type", "legacy singlestat panel: converted to %s", p.Type)
	var fd FieldDefaults
	if u := str(m["format"]); u != "" && u != "none" {
		fd.Unit = u
	}
	if d := m["decimals"]; d != nil {
		n := toInt(d)
		fd.Decimals = &n
	}
	colors := toList(m["colors"])
	if ts := strings.TrimSpace(str(m["thresholds"])); ts != "" {
		th := &Thresholds{Mode: "absolute"}
		color := func(i int) string {
			if i < len(colors) {
				return str(colors[i])
			}
			return "red"
		}
		th.Steps = append(th.Steps, ThresholdStep{Color: color(0)})
		for i, s := range strings.Split(ts, ",") {
			if f, ok := toFloat(strings.TrimSpace(s)); ok {
				th.Steps = append(th.Steps, ThresholdStep{Color: color(i + 1), Value: &f})
			}
		}
		fd.Thresholds = th
	}
	opts := map[string]any{}
	calc := "mean"
	if vn := str(m["valueName"]); vn != "" {
		c, ok := singlestatCalcs[vn]
		if !ok {
			rp.unsupported("valueName", "value %q: not supported, the mean is shown", vn)
			c = "mean"
		}
		calc = c
	}
	opts["reduceOptions"] = map[string]any{"calcs": []any{calc}, "fields": "", "values": false}
	if p.Type == PanelGauge {
		if f, ok := toFloat(gauge["minValue"]); ok {
			fd.Min = &f
		}
		if f, ok := toFloat(gauge["maxValue"]); ok {
			fd.Max = &f
		}
		opts["showThresholdLabels"] = gauge["thresholdLabels"] == true
		opts["showThresholdMarkers"] = gauge["thresholdMarkers"] != false
	} else {
		colorMode := "none"
		switch {
		case m["colorBackground"] == true:
			colorMode = "background"
		case m["colorValue"] == true:
			colorMode = "value"
		}
		graphMode := "none"
		if obj(m["sparkline"])["show"] == true {
			graphMode = "area"
		}
		opts["colorMode"], opts["graphMode"] = colorMode, graphMode
	}
	p.Options = opts
	if !isZero(fieldDefaultsMap(fd)) {
		p.FieldConfig = &FieldConfig{Defaults: fd}
	}
	for _, k := range []string{"prefix", "postfix", "nullText", "tableColumn"} {
		if !isZero(m[k]) {
			rp.unsupported(k, "not supported: %s", short(m[k]))
		}
	}
	for i, vm := range toList(m["valueMaps"]) {
		v := obj(vm)
		if str(v["value"]) == "null" && str(v["text"]) == "N/A" {
			continue // Grafana's default
		}
		rp.unsupported(fmt.Sprintf("valueMaps[%d]", i), "value mapping %s -> %s: not supported", str(v["value"]), str(v["text"]))
	}
	for i, rm := range toList(m["rangeMaps"]) {
		v := obj(rm)
		if str(v["from"]) == "null" && str(v["to"]) == "null" {
			continue
		}
		rp.unsupported(fmt.Sprintf("rangeMaps[%d]", i), "range mapping %s-%s -> %s: not supported", str(v["from"]), str(v["to"]), str(v["text"]))
	}
	fontDefaults := map[string]string{"prefixFontSize": "50%", "postfixFontSize": "50%", "valueFontSize": "80%"}
	for k, def := range fontDefaults {
		if s := str(m[k]); s != "" && s != def {
			rp.unsupported(k, "font size %s: not supported", s)
		}
	}
	return union(panelKeys, set("format", "decimals", "thresholds", "colors", "valueName", "gauge", "colorBackground",
		"colorValue", "sparkline", "prefix", "postfix", "nullText", "tableColumn", "valueMaps", "rangeMaps", "mappingType",
		"mappingTypes", "nullPointMode", "prefixFontSize", "postfixFontSize", "valueFontSize", "colorPrefix",
		"colorPostfix", "options", "fieldConfig"))
}

// legacyTable converts a table-old panel: the header and the data; column styles and
// transforms are reported.
func (im *importer) legacyTable(m map[string]any, p *Panel, rp reporter) map[string]bool {
	if m["showHeader"] == false {
		p.Options = map[string]any{"showHeader": false}
	}
	for i, s := range toList(m["styles"]) {
		st := obj(s)
		if str(st["pattern"]) == "/.*/" && str(st["type"]) == "number" && str(st["unit"]) == "short" {
			continue // Grafana's default style
		}
		rp.unsupported(fmt.Sprintf("styles[%d]", i), "column style for %q (%s): not supported", str(st["pattern"]), str(st["type"]))
	}
	if tr := str(m["transform"]); tr != "" && tr != "timeseries_to_columns" && tr != "table" {
		rp.unsupported("transform", "transform %q: not supported", tr)
	}
	if cols := toList(m["columns"]); len(cols) > 0 {
		rp.unsupported("columns", "%d aggregated column(s): not supported", len(cols))
	}
	if s := obj(m["sort"]); s != nil && s["col"] != nil {
		rp.unsupported("sort", "sort by column %v: not supported", s["col"])
	}
	return union(panelKeys, set("showHeader", "styles", "transform", "columns", "sort", "fontSize", "pageSize",
		"scroll", "options", "fieldConfig"))
}

func union(a, b map[string]bool) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
