package dashboards

import (
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportTempoAndHeatmap checks what grafana-tempo-heatmap.json maps to, panel by panel
// (the golden file holds the whole answer).
func TestImportTempoAndHeatmap(t *testing.T) {
	raw, err := os.ReadFile("testdata/grafana-tempo-heatmap.json")
	require.NoError(t, err)
	d, rep, err := ImportGrafana(raw)
	require.NoError(t, err)
	require.NoError(t, Validate(&d))
	byID := map[int]Panel{}
	for _, p := range d.Panels {
		byID[p.ID] = p
	}
	query := func(id int) url.Values {
		t.Helper()
		require.Equal(t, PanelTraces, byID[id].Type)
		q, err := url.ParseQuery(byID[id].Options["query"].(string))
		require.NoError(t, err)
		return q
	}
	has := func(panelID int, kind, path, msg string) {
		t.Helper()
		for _, it := range rep.Items {
			if it.PanelID == panelID && it.Kind == kind && it.Path == path && strings.Contains(it.Message, msg) {
				return
			}
		}
		t.Errorf("no %s item for panel %d at %s with %q in %+v", kind, panelID, path, msg, rep.Items)
	}

	// The Grafana 8 heatmap, converted as Grafana's migration does.
	hm := byID[1]
	require.Equal(t, PanelHeatmap, hm.Type)
	require.Equal(t, false, hm.Options["calculate"])
	require.Equal(t, map[string]any{"mode": "scheme", "scheme": "Blues", "scale": "exponential", "exponent": 0.5}, hm.Options["color"])
	require.Equal(t, map[string]any{"unit": "s"}, hm.Options["yAxis"])
	require.Equal(t, map[string]any{"layout": "le"}, hm.Options["rowsFrame"])
	require.Equal(t, map[string]any{"le": 1e-9}, hm.Options["filterValues"])
	require.Equal(t, "heatmap", hm.Targets[0].Format)
	has(1, Converted, "type", "legacy heatmap")
	has(1, Unsupported, "yAxis.logBase", "log scale")
	// The current heatmap: calculated buckets and a log axis are reported and left out.
	require.Equal(t, false, byID[2].Options["calculate"])
	require.NotContains(t, byID[2].Options, "calculation")
	has(2, Unsupported, "options.calculate", "buckets calculated")
	has(2, Unsupported, "options.yAxis.scaleDistribution", "log scale")

	// The TraceQL search editor's filters.
	require.Equal(t, url.Values{"service": {"$service"}, "min_duration": {"100ms"}, "errors": {"true"},
		"attr": {"http.route=~/checkout|/cart"}}, query(3))
	require.EqualValues(t, 20, byID[3].Options["limit"])
	has(3, Unsupported, "targets[0].filters[5]", "http.response.status_code >= 500")
	// A table of a native search.
	require.Equal(t, url.Values{"service": {"payments"}, "span_name": {"charge"}, "min_duration": {"50ms"},
		"max_duration": {"2s"}, "attr": {"payment.method=card", "order.id=1042"}}, query(4))
	has(4, Converted, "type", "table of a Tempo trace search")
	has(4, Unsupported, "options.cellHeight", "")
	// TraceQL text.
	require.Equal(t, url.Values{"service": {"checkout"}, "attr": {"db.system=postgresql"}, "min_duration": {"20ms"}}, query(5))
	has(5, Unsupported, "targets[0]", "kind = client")
	has(5, Unsupported, "targets[0].spss", "spans per span set")
	// One trace by id, and a structural query: text panels saying so.
	require.Equal(t, PanelText, byID[6].Type)
	require.Contains(t, byID[6].Options["content"], "(/traces/4bf92f3577b34da6a3ce929d0e0e4736)")
	has(6, Unsupported, "targets[0].query", "a single trace by id")
	require.Equal(t, PanelText, byID[7].Type)
	has(7, Unsupported, "targets[0].query", "only one span set")
}

func TestTraceQL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want url.Values
		ok   bool
	}{
		{"{}", url.Values{}, true},
		{`{ .service.name = "api" && name = "GET /" && status = error }`, url.Values{"service": {"api"}, "span_name": {"GET /"}, "errors": {"true"}}, true},
		{`{span:duration > 1s && span:duration < 5s && resource.k8s.namespace.name =~ "prod.*"}`, url.Values{"min_duration": {"1s"}, "max_duration": {"5s"}, "attr": {"k8s.namespace.name=~prod.*"}}, true},
		{`{ span.http.status_code != 200 }`, url.Values{"attr": {"http.status_code!=200"}}, true},
		{`{ .a = "x" } | count() > 2`, nil, false},
		{`{ .a = "x" || .b = "y" }`, nil, false},
		{`not traceql`, nil, false},
	} {
		rep := Report{}
		q := url.Values{}
		ok := traceQL(q, c.in, reporter{r: &rep})
		require.Equal(t, c.ok, ok, c.in)
		if ok {
			require.Equal(t, c.want, q, c.in)
		} else {
			require.NotEmpty(t, rep.Items, c.in)
		}
	}
}

// TestExportTracesPanelAsTempo: a traces panel whose search TraceQL can say is exported as
// a table of a Tempo TraceQL search (what Grafana lists as traces), with ${DS_TEMPO} among
// the inputs, and imports back as the same search; one it cannot say stays a traces panel.
func TestExportTracesPanelAsTempo(t *testing.T) {
	search := url.Values{"service": {"$svc"}, "span_name": {"GET /checkout"}, "min_duration": {"100ms"},
		"max_duration": {"2s"}, "errors": {"true"}, "attr": {"http.route=/checkout", "region!=eu", "user.id=~u-1.*"}}
	d := Dashboard{UID: "t", Title: "Traces", Time: TimeRange{From: "now-1h", To: "now"}, Panels: []Panel{
		{ID: 1, Type: PanelTraces, Title: "Slow errors", GridPos: GridPos{W: 12, H: 8}, Options: map[string]any{"query": search.Encode(), "limit": 20.0}},
		{ID: 2, Type: PanelTraces, Title: "Variable duration", GridPos: GridPos{X: 12, W: 12, H: 8}, Options: map[string]any{"query": "min_duration=$min&service=api"}},
	}}
	require.NoError(t, Validate(&d))
	out, err := ExportGrafana(d)
	require.NoError(t, err)
	var g struct {
		Inputs []struct{ Name string } `json:"__inputs"`
		Panels []map[string]any        `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(out, &g))
	require.Equal(t, "DS_TEMPO", g.Inputs[0].Name)
	p := g.Panels[0]
	require.Equal(t, "table", p["type"])
	target := p["targets"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"type": "tempo", "uid": "${DS_TEMPO}"}, target["datasource"])
	require.Equal(t, "traceql", target["queryType"])
	require.Equal(t, "traces", target["tableType"])
	require.Equal(t, 20.0, target["limit"])
	require.Equal(t, `{resource.service.name="$svc" && name="GET /checkout" && duration>=100ms && duration<=2s && status=error && .http.route="/checkout" && .region!="eu" && .user.id=~"u-1.*"}`, target["query"])
	require.Equal(t, "traces", g.Panels[1]["type"], "a duration variable is not a TraceQL duration")

	back, rep, err := ImportGrafana(out)
	require.NoError(t, err)
	require.Zero(t, rep.Unsupported, "%+v", rep.Items)
	got, err := url.ParseQuery(back.Panels[0].Options["query"].(string))
	require.NoError(t, err)
	require.Equal(t, search, got)
	require.Equal(t, 20.0, back.Panels[0].Options["limit"])
	require.Equal(t, PanelTraces, back.Panels[0].Type)
	require.Equal(t, d.Panels[1].Options, back.Panels[1].Options)
}
