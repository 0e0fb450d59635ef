// Package dashboards is Loupe's dashboard model (a subset of Grafana's dashboard JSON, with
// Grafana's field names), its validation, the Store interface that keeps dashboards, the
// Grafana importer and exporter, and the provisioning of read-only dashboards from files
// and from the built-in set. See docs/dashboards.md.
package dashboards

// Dashboard is one dashboard as the API reads and writes it. Field names are Grafana's,
// so that a Grafana dashboard of the supported subset maps to it almost one to one.
type Dashboard struct {
	UID         string     `json:"uid"`
	Title       string     `json:"title"`
	Description string     `json:"description,omitempty"`
	Tags        []string   `json:"tags"`
	Time        TimeRange  `json:"time"`
	Refresh     string     `json:"refresh,omitempty"`  // auto-refresh interval ("30s", "1m"); "" is off
	Timezone    string     `json:"timezone,omitempty"` // "", "browser" or "utc"
	Templating  Templating `json:"templating"`
	Panels      []Panel    `json:"panels"`
	// Version is the stored version, set on reads; writes pass the expected version
	// beside the dashboard instead (Store.Put).
	Version int64 `json:"version,omitempty"`
}

// TimeRange is the default time range, in Grafana's relative syntax ("now-6h", "now") or
// RFC 3339.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Templating holds the dashboard's variables, in display order.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable types.
const (
	VarQuery    = "query"    // label_values(...), label_names(), query_result(...) or LogQL label values
	VarCustom   = "custom"   // comma-separated values in Query
	VarConstant = "constant" // one hidden value in Query
	VarInterval = "interval" // comma-separated durations in Query, optionally "auto"
	VarTextbox  = "textbox"  // free text, default in Query
)

// Variable is one template variable, referenced as $name or ${name} in queries.
type Variable struct {
	Type        string      `json:"type"`
	Name        string      `json:"name"`
	Label       string      `json:"label,omitempty"`
	Description string      `json:"description,omitempty"`
	Query       string      `json:"query,omitempty"`
	Datasource  *Datasource `json:"datasource,omitempty"` // query variables: prometheus (default) or loki
	Regex       string      `json:"regex,omitempty"`      // filters (and with a group, extracts) the values
	Sort        int         `json:"sort,omitempty"`       // Grafana's: 0 none, 1/2 alphabetical asc/desc, 3/4 numerical asc/desc
	Refresh     int         `json:"refresh,omitempty"`    // Grafana's: 1 on load, 2 on time range change
	Multi       bool        `json:"multi,omitempty"`
	IncludeAll  bool        `json:"includeAll,omitempty"`
	AllValue    string      `json:"allValue,omitempty"` // what "All" expands to; default a regex of every value
	Current     *Current    `json:"current,omitempty"`  // the default selection
	Hide        int         `json:"hide,omitempty"`     // 0 shown, 1 label hidden, 2 variable hidden
	// Interval variables: "auto" picks a step giving about AutoCount points, at least AutoMin.
	Auto      bool   `json:"auto,omitempty"`
	AutoCount int    `json:"auto_count,omitempty"`
	AutoMin   string `json:"auto_min,omitempty"`
}

// Current is a variable's selected value: Text and Value are strings, or lists of
// strings for multi-value variables.
type Current struct {
	Text  any `json:"text"`
	Value any `json:"value"`
}

// Datasource types: Loupe answers both itself.
const (
	DSPrometheus = "prometheus"
	DSLoki       = "loki"
)

// Datasource names the query language of a panel or target. Loupe has one data source of
// each type, so UID is informational (kept for Grafana round trips).
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid,omitempty"`
}

// Panel types.
const (
	PanelTimeseries = "timeseries"
	PanelStat       = "stat"
	PanelGauge      = "gauge"
	PanelBarGauge   = "bargauge"
	PanelTable      = "table"
	PanelHeatmap    = "heatmap"
	PanelLogs       = "logs"
	PanelTraces     = "traces" // options.query: the trace search of GET /api/loupe/v1/traces
	PanelErrors     = "errors" // options.query: the issue filter of GET /api/loupe/v1/issues
	PanelText       = "text"   // options.content: Markdown
	PanelRow        = "row"    // a section header; when collapsed it holds its panels
)

// PanelTypes are the panel types Loupe draws, row included.
var PanelTypes = []string{PanelTimeseries, PanelStat, PanelGauge, PanelBarGauge, PanelTable,
	PanelHeatmap, PanelLogs, PanelTraces, PanelErrors, PanelText, PanelRow}

// Panel is one panel. As in Grafana, the panels of an expanded row follow the row in the
// dashboard's list, and a collapsed row keeps its panels in Panels.
type Panel struct {
	ID            int            `json:"id"`
	Type          string         `json:"type"`
	Title         string         `json:"title"`
	Description   string         `json:"description,omitempty"`
	GridPos       GridPos        `json:"gridPos"`
	Datasource    *Datasource    `json:"datasource,omitempty"` // default of the targets
	Targets       []Target       `json:"targets,omitempty"`
	FieldConfig   *FieldConfig   `json:"fieldConfig,omitempty"`
	Options       map[string]any `json:"options,omitempty"`       // per type, Grafana's names (docs/dashboards.md)
	Interval      string         `json:"interval,omitempty"`      // minimum query step
	MaxDataPoints int            `json:"maxDataPoints,omitempty"` // query resolution
	Collapsed     bool           `json:"collapsed,omitempty"`     // rows
	Panels        []Panel        `json:"panels,omitempty"`        // collapsed rows
}

// GridPos places a panel on a grid 24 columns wide; Y and H are in rows of 30 px.
type GridPos struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	Datasource   *Datasource `json:"datasource,omitempty"` // default: the panel's, then prometheus
	LegendFormat string      `json:"legendFormat,omitempty"`
	Instant      bool        `json:"instant,omitempty"` // one value at the end of the range
	Format       string      `json:"format,omitempty"`  // "time_series" (default), "table" or "heatmap"
	Interval     string      `json:"interval,omitempty"`
	Hide         bool        `json:"hide,omitempty"`
	MaxLines     int         `json:"maxLines,omitempty"` // LogQL log queries
}

// FieldConfig is how values are shown. Grafana's per-series overrides are not supported.
type FieldConfig struct {
	Defaults FieldDefaults `json:"defaults"`
}

// FieldDefaults are Grafana's fieldConfig.defaults of the supported subset.
type FieldDefaults struct {
	Unit        string           `json:"unit,omitempty"` // Grafana's unit ids: "s", "bytes", "percent", "reqps", ...
	Min         *float64         `json:"min,omitempty"`
	Max         *float64         `json:"max,omitempty"`
	Decimals    *int             `json:"decimals,omitempty"`
	DisplayName string           `json:"displayName,omitempty"`
	NoValue     string           `json:"noValue,omitempty"`
	Thresholds  *Thresholds      `json:"thresholds,omitempty"`
	Color       map[string]any   `json:"color,omitempty"`    // {"mode": "palette-classic" | "thresholds" | "fixed", "fixedColor"}
	Mappings    []map[string]any `json:"mappings,omitempty"` // value, range and special mappings, Grafana's shape
	Custom      map[string]any   `json:"custom,omitempty"`   // per panel type (docs/dashboards.md)
}

// Thresholds colour values: the first step's Value is null (the base colour).
type Thresholds struct {
	Mode  string          `json:"mode"` // "absolute" or "percentage"
	Steps []ThresholdStep `json:"steps"`
}

// ThresholdStep is one colour from Value up.
type ThresholdStep struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

// Walk calls f for every panel of d, the panels of collapsed rows included, in order.
func (d *Dashboard) Walk(f func(p *Panel)) {
	var walk func(ps []Panel)
	walk = func(ps []Panel) {
		for i := range ps {
			f(&ps[i])
			walk(ps[i].Panels)
		}
	}
	walk(d.Panels)
}
