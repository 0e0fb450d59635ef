package dashboards

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// The fixtures are Grafana dashboards written for these tests in Grafana's export format:
// grafana-legacy.json as Grafana 6 saved them (graph, singlestat, table-old, a data source
// variable, ${DS_PROMETHEUS} inputs), grafana-modern.json as Grafana 10 does (schemaVersion
// 39, a collapsed row, every panel type Loupe draws, one it does not, overrides,
// transformations, an ad hoc variable, a Tempo query in a mixed panel),
// grafana-tempo-heatmap.json as Grafana 10 exports a dashboard that kept a Grafana 8
// heatmap (top-level dataFormat, cards, color) beside a current one, and panels of Tempo
// searches (the TraceQL search editor's filters, a native search in a table, TraceQL
// text, a trace id, a structural query).
var fixtures = []string{"grafana-legacy.json", "grafana-modern.json", "grafana-tempo-heatmap.json"}

// TestImportGolden imports each fixture and compares the dashboard and the report with
// testdata/<name>.loupe.json (go test -update rewrites them); the dashboard is valid.
func TestImportGolden(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", name))
			require.NoError(t, err)
			d, rep, err := ImportGrafana(raw)
			require.NoError(t, err)
			require.NoError(t, Validate(&d))
			got, err := json.MarshalIndent(map[string]any{"dashboard": d, "report": rep}, "", "  ")
			require.NoError(t, err)
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".json")+".loupe.json")
			if *update {
				require.NoError(t, os.WriteFile(golden, append(got, '\n'), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(got))
		})
	}
}

// TestImportReport checks the report's items one by one for what each fixture holds.
func TestImportReport(t *testing.T) {
	has := func(rep Report, kind string, panelID int, path, msg string) {
		t.Helper()
		for _, it := range rep.Items {
			if it.Kind == kind && it.PanelID == panelID && it.Path == path && strings.Contains(it.Message, msg) {
				return
			}
		}
		t.Errorf("no %s item for panel %d at %s with %q in %+v", kind, panelID, path, msg, rep.Items)
	}
	raw, err := os.ReadFile("testdata/grafana-modern.json")
	require.NoError(t, err)
	d, rep, err := ImportGrafana(raw)
	require.NoError(t, err)
	has(rep, Unsupported, 4, "type", `panel type "piechart"`)
	has(rep, Unsupported, 5, "fieldConfig.overrides[0]", "byRegexp")
	has(rep, Unsupported, 5, "transformations", "transformations")
	has(rep, Unsupported, 8, "targets[2]", "tempo")
	has(rep, Unsupported, 0, "templating.list[5]", "adhoc")
	has(rep, Converted, 0, "templating.list[0]", "data source variable $ds")
	has(rep, Unsupported, 0, "annotations.list[1]", "Reboots")
	has(rep, Unsupported, 0, "links", "")
	has(rep, Unsupported, 0, "graphTooltip", "")
	has(rep, Unsupported, 5, "fieldConfig.defaults.custom.axisCenteredZero", "true")
	require.Equal(t, 11, rep.Panels)
	// The mixed panel keeps a prometheus and a loki query; the logs panel queries loki.
	var mixed, logs *Panel
	d.Walk(func(p *Panel) {
		switch p.ID {
		case 8:
			mixed = p
		case 7:
			logs = p
		}
	})
	require.Nil(t, mixed.Datasource)
	require.Len(t, mixed.Targets, 2)
	require.Equal(t, DSPrometheus, TargetDatasource(mixed, &mixed.Targets[0]))
	require.Equal(t, DSLoki, TargetDatasource(mixed, &mixed.Targets[1]))
	require.Equal(t, DSLoki, logs.Datasource.Type)
	require.Equal(t, 500, logs.Targets[0].MaxLines)

	raw, err = os.ReadFile("testdata/grafana-legacy.json")
	require.NoError(t, err)
	d, rep, err = ImportGrafana(raw)
	require.NoError(t, err)
	has(rep, Converted, 3, "type", "legacy graph panel")
	has(rep, Unsupported, 3, "seriesOverrides[0]", "/idle/")
	has(rep, Unsupported, 3, "aliasColors", "")
	has(rep, Unsupported, 2, "prefix", `"~"`)
	has(rep, Unsupported, 2, "valueMaps[0]", "0 -> down")
	has(rep, Unsupported, 4, "sort", "column 2")
	has(rep, Unsupported, 4, "styles[0]", "Time")
	has(rep, Converted, 2, "type", "converted to gauge")
	for _, it := range rep.Items {
		require.NotContains(t, []string{"renderer", "dashLength", "valueFontSize", "styles[1]", "rangeMaps[0]"}, it.Path,
			"a Grafana default is not reported: %+v", it)
	}
	graph := d.Panels[2].Panels[0]
	require.Equal(t, PanelTimeseries, graph.Type)
	require.Equal(t, "percentunit", graph.FieldConfig.Defaults.Unit)
	require.Equal(t, 0.0, *graph.FieldConfig.Defaults.Min)
	require.Equal(t, map[string]any{"mode": "normal", "group": "A"}, graph.FieldConfig.Defaults.Custom["stacking"])
	require.Equal(t, 40.0, graph.FieldConfig.Defaults.Custom["fillOpacity"])
	require.Equal(t, []any{"max", "mean", "lastNotNull"}, graph.Options["legend"].(map[string]any)["calcs"])
	require.Equal(t, "table", graph.Options["legend"].(map[string]any)["displayMode"])
	stat := d.Panels[0]
	require.Equal(t, PanelStat, stat.Type)
	require.Equal(t, "value", stat.Options["colorMode"])
	require.Equal(t, "area", stat.Options["graphMode"])
	require.Len(t, stat.FieldConfig.Defaults.Thresholds.Steps, 3)
	require.Equal(t, "#d44a3a", stat.FieldConfig.Defaults.Thresholds.Steps[2].Color)
	require.Equal(t, 90.0, *stat.FieldConfig.Defaults.Thresholds.Steps[2].Value)
	require.Equal(t, "", d.Refresh, "refresh: false is off")
	require.Len(t, d.Templating.List, 1, "the data source variable is dropped")
}

// TestRoundTrip: import -> export -> import gives the same dashboard, and the export is
// what Grafana's import expects (data sources as __inputs, no variable of Loupe left).
func TestRoundTrip(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", name))
			require.NoError(t, err)
			d1, _, err := ImportGrafana(raw)
			require.NoError(t, err)
			out, err := ExportGrafana(d1)
			require.NoError(t, err)
			var g map[string]any
			require.NoError(t, json.Unmarshal(out, &g))
			require.NotEmpty(t, g["__inputs"])
			require.Nil(t, g["id"])
			require.EqualValues(t, exportSchemaVersion, g["schemaVersion"])
			require.NotContains(t, string(out), `"uid": "$ds"`)
			d2, rep2, err := ImportGrafana(out)
			require.NoError(t, err)
			require.Equal(t, d1, d2)
			require.Zero(t, rep2.Unsupported, "an export holds nothing Loupe does not support: %+v", rep2.Items)
		})
	}
}

func TestImportBadInput(t *testing.T) {
	f := func(in, wantErr string) {
		t.Helper()
		_, _, err := ImportGrafana([]byte(in))
		require.ErrorContains(t, err, wantErr)
	}
	f(`{"title": `, "malformed JSON")
	f(`[1, 2]`, "malformed JSON")
	f(`null`, "want a JSON object")
	f(`{"schemaVersion": 12, "rows": [{"panels": []}]}`, "rows (Grafana 4 and older)")
	f(`{"schemaVersion": 12, "panels": []}`, "older than 16")
	f(`{"apiVersion": "dashboard.grafana.app/v2alpha1", "elements": {}}`, "v2 schema")
}

func TestImportAPIWrapperAndUID(t *testing.T) {
	d, rep, err := ImportGrafana([]byte(`{"dashboard": {"title": "Hello, World!", "schemaVersion": 39, "panels": [
		{"type": "timeseries", "title": "a", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8}, "targets": [{"expr": "up"}]}]}, "meta": {}}`))
	require.NoError(t, err)
	require.Equal(t, "hello-world", d.UID)
	require.Equal(t, "A", d.Panels[0].Targets[0].RefID)
	require.Equal(t, 1, d.Panels[0].ID)
	require.Equal(t, DSPrometheus, d.Panels[0].Datasource.Type, "the default data source is prometheus")
	require.NoError(t, Validate(&d))
	require.Equal(t, 1, rep.Panels)
}

// TestImportFixesLayout: missing sizes, panels past column 24 and duplicate ids are
// fixed with a note, so the import is valid; variables round-trip whatever their type.
func TestImportFixesLayout(t *testing.T) {
	d, rep, err := ImportGrafana([]byte(`{"schemaVersion": 39, "title": "t", "panels": [
		{"id": 1, "type": "stat", "title": "a", "targets": [{"expr": "up"}]},
		{"id": 1, "type": "text", "title": "b", "gridPos": {"x": 20, "y": 0, "w": 8, "h": 2}, "options": {"content": "hi"}}],
		"templating": {"list": [{"type": "custom", "name": "c", "query": "a,b", "refresh": 1, "multi": true},
			{"type": "interval", "name": "i", "query": "1m,5m", "refresh": 0, "sort": 1}]}}`))
	require.NoError(t, err)
	require.NoError(t, Validate(&d))
	require.Equal(t, GridPos{X: 0, Y: 0, W: 12, H: 8}, d.Panels[0].GridPos)
	require.Equal(t, GridPos{X: 16, Y: 0, W: 8, H: 2}, d.Panels[1].GridPos)
	require.Equal(t, 2, d.Panels[1].ID)
	var paths []string
	for _, it := range rep.Items {
		paths = append(paths, it.Path)
	}
	require.Subset(t, paths, []string{"gridPos", "gridPos.x", "id"})
	out, err := ExportGrafana(d)
	require.NoError(t, err)
	back, _, err := ImportGrafana(out)
	require.NoError(t, err)
	require.Equal(t, d, back)
}

// TestImportVariableQueries: Loki's query object and a variable without a query.
func TestImportVariableQueries(t *testing.T) {
	d, rep, err := ImportGrafana([]byte(`{"schemaVersion": 39, "title": "t", "templating": {"list": [
		{"type": "query", "name": "app", "datasource": {"type": "loki", "uid": "x"}, "query": {"type": 1, "label": "app", "stream": "{env=\"prod\"}", "refId": "LokiVariableQueryEditor-VariableQuery"}},
		{"type": "query", "name": "labels", "datasource": {"type": "loki", "uid": "x"}, "query": {"type": 0, "refId": "x"}},
		{"type": "query", "name": "empty", "query": "", "current": {"text": "a", "value": "a"}}]}}`))
	require.NoError(t, err)
	require.NoError(t, Validate(&d))
	vs := d.Templating.List
	require.Equal(t, `label_values({env="prod"}, app)`, vs[0].Query)
	require.Equal(t, DSLoki, vs[0].Datasource.Type)
	require.Equal(t, "label_names()", vs[1].Query)
	require.Equal(t, VarTextbox, vs[2].Type)
	require.Equal(t, "a", vs[2].Query)
	require.Equal(t, "templating.list[2].query", rep.Items[len(rep.Items)-1].Path)
}

func TestImportLibraryPanel(t *testing.T) {
	d, rep, err := ImportGrafana([]byte(`{"schemaVersion": 39, "title": "t", "panels": [
		{"id": 3, "gridPos": {"x": 0, "y": 0, "w": 8, "h": 4}, "libraryPanel": {"uid": "u", "name": "Shared CPU"}}]}`))
	require.NoError(t, err)
	require.NoError(t, Validate(&d))
	require.Equal(t, PanelText, d.Panels[0].Type)
	require.Contains(t, d.Panels[0].Options["content"], "Shared CPU")
	require.Equal(t, 1, rep.Unsupported)
	require.Contains(t, rep.Items, ReportItem{Kind: Unsupported, PanelID: 3, Path: "libraryPanel",
		Message: `library panel "Shared CPU": not supported, replaced by a text panel`})
}
