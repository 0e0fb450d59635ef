package dashboards

import (
	"strings"
)

// Grafana's heatmap panel: Loupe draws the buckets a query returns (Prometheus classic
// histograms, `format: heatmap`), as Grafana does with `calculate: false`. Heatmaps of
// Grafana 8 and older (the Angular panel: dataFormat, cards, color, yAxis at the panel's
// top level) are converted as Grafana's own migration does.

// legacyHeatmapKeys are the top-level fields of the old heatmap panel.
var legacyHeatmapKeys = set("dataFormat", "cards", "color", "heatmap", "hideZeroBuckets", "highlightCards",
	"legend", "reverseYBuckets", "tooltip", "xAxis", "yAxis", "yBucketBound", "xBucketSize", "xBucketNumber",
	"yBucketSize", "yBucketNumber", "tooltipDecimals")

// isLegacyHeatmap tells the old panel by its top-level fields.
func isLegacyHeatmap(m map[string]any) bool {
	if str(m["type"]) != PanelHeatmap || obj(m["options"])["calculate"] != nil {
		return false
	}
	return m["dataFormat"] != nil || m["cards"] != nil || m["heatmap"] != nil || m["yBucketBound"] != nil
}

// legacyHeatmap converts the old panel's fields to the options of the current one and
// returns the fields it handled.
func (im *importer) legacyHeatmap(m map[string]any, p *Panel, rp reporter) map[string]bool {
	rp.add(Converted, "type", "legacy heatmap panel (Grafana 8 and older): converted to the current heatmap's options")
	o := map[string]any{"calculate": false}
	if df := str(m["dataFormat"]); df != "tsbuckets" {
		rp.unsupported("dataFormat", "buckets calculated from raw series (dataFormat %q): not supported, Loupe draws the buckets the query returns (a Prometheus histogram's _bucket series with format heatmap)", df)
	}
	for _, k := range []string{"xBucketSize", "xBucketNumber", "yBucketSize", "yBucketNumber"} {
		if !isZero(m[k]) {
			rp.unsupported(k, "bucket calculation: not supported: %s", short(m[k]))
		}
	}
	y := obj(m["yAxis"])
	ya := map[string]any{}
	if u := str(y["format"]); u != "" && u != "short" {
		ya["unit"] = u
	}
	if y["decimals"] != nil {
		ya["decimals"] = float64(toInt(y["decimals"]))
	}
	if y["show"] == false {
		ya["axisPlacement"] = "hidden"
	}
	if m["reverseYBuckets"] == true {
		ya["reverse"] = true
	}
	for _, k := range []string{"min", "max"} {
		if f, ok := toFloat(y[k]); ok && y[k] != nil && y[k] != "" {
			ya[k] = f
		}
	}
	if lb := toInt(y["logBase"]); lb > 1 {
		rp.unsupported("yAxis.logBase", "log scale (base %d): not supported, buckets are drawn evenly", lb)
	}
	if !isZero(y["splitFactor"]) {
		rp.unsupported("yAxis.splitFactor", "not supported: %s", short(y["splitFactor"]))
	}
	if len(ya) > 0 {
		o["yAxis"] = ya
	}
	switch str(m["yBucketBound"]) {
	case "upper":
		o["rowsFrame"] = map[string]any{"layout": "le"}
	case "lower":
		o["rowsFrame"] = map[string]any{"layout": "ge"}
		rp.unsupported("yBucketBound", "buckets labelled by their lower bound: drawn by their upper bound (le)")
	case "middle":
		o["rowsFrame"] = map[string]any{"layout": "unknown"}
		rp.unsupported("yBucketBound", "buckets labelled by their middle: drawn by their upper bound (le)")
	}
	c := obj(m["color"])
	if len(c) > 0 {
		col := map[string]any{}
		if str(c["mode"]) == "opacity" {
			col["mode"] = "opacity"
			if f := str(c["cardColor"]); f != "" {
				col["fill"] = f
			}
		} else {
			col["mode"] = "scheme"
			col["scheme"] = strings.TrimPrefix(str(c["colorScheme"]), "interpolate")
			if col["scheme"] == "" {
				col["scheme"] = "Oranges"
			}
		}
		if str(c["colorScale"]) == "linear" {
			col["scale"] = "linear"
		} else {
			col["scale"] = "exponential"
			if e, ok := toFloat(c["exponent"]); ok && c["exponent"] != nil {
				col["exponent"] = e
			}
		}
		for _, k := range []string{"min", "max"} {
			if f, ok := toFloat(c[k]); ok && c[k] != nil {
				col[k] = f
			}
		}
		o["color"] = col
	}
	if cards := obj(m["cards"]); len(cards) > 0 {
		if cards["cardPadding"] != nil {
			o["cellGap"] = float64(toInt(cards["cardPadding"])) // as JSON reads it back
		}
		if !isZero(cards["cardRound"]) {
			rp.unsupported("cards.cardRound", "rounded cells: not supported")
		}
	}
	if m["hideZeroBuckets"] == true {
		o["filterValues"] = map[string]any{"le": 1e-9}
	}
	if l := obj(m["legend"]); l != nil {
		o["legend"] = map[string]any{"show": l["show"] == true}
	}
	if t := obj(m["tooltip"]); t != nil {
		o["tooltip"] = map[string]any{"show": t["show"] != false, "yHistogram": t["showHistogram"] == true}
	}
	if x := obj(m["xAxis"]); x != nil && x["show"] == false {
		rp.unsupported("xAxis.show", "a hidden time axis: not supported, it is shown")
	}
	p.Options = o
	handled := set(keys(panelKeys)...)
	for k := range legacyHeatmapKeys {
		handled[k] = true
	}
	return handled
}

// heatmapOptions reports what the current heatmap panel's options ask for that Loupe does
// not draw, and leaves it out of the options (so that they say what is drawn).
func heatmapOptions(o map[string]any, rp reporter) {
	if o["calculate"] == true {
		rp.unsupported("options.calculate", "buckets calculated from raw series: not supported, Loupe draws the buckets the query returns (a Prometheus histogram's _bucket series with format heatmap)")
		o["calculate"] = false
		delete(o, "calculation")
	}
	if y := obj(o["yAxis"]); y != nil && toInt(obj(y["scaleDistribution"])["log"]) > 1 {
		rp.unsupported("options.yAxis.scaleDistribution", "log scale: not supported, buckets are drawn evenly")
		delete(y, "scaleDistribution")
	}
}
