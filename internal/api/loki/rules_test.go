package loki

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// ruleSource holds groups built with Prometheus' own constructors, as the rule manager
// holds them.
type ruleSource []*rules.Group

func (s ruleSource) RuleGroups() []*rules.Group { return s }
func (s ruleSource) AlertingRules() []*rules.AlertingRule {
	var out []*rules.AlertingRule
	for _, g := range s {
		out = append(out, g.AlertingRules()...)
	}
	return out
}

func testRuleSource(t *testing.T) ruleSource {
	t.Helper()
	// The API only prints expressions; a PromQL one stands for the LogQL of real groups.
	expr, err := parser.ParseExpr(`errors > 10`)
	require.NoError(t, err)
	alert := rules.NewAlertingRule("ErrorBurst", expr, 2*time.Minute, 0, labels.FromStrings("severity", "page"),
		labels.FromStrings("summary", "many errors"), labels.EmptyLabels(), "", true, nil)
	rec := rules.NewRecordingRule("service:errors:count5m", expr, labels.EmptyLabels())
	g := rules.NewGroup(rules.GroupOptions{Name: "api-logs", File: "/etc/loupe/logs.yml", Interval: time.Minute,
		Rules: []rules.Rule{rec, alert}, Opts: &rules.ManagerOptions{}})
	return ruleSource{g}
}

func serveRules(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

func TestRulesAPIYAML(t *testing.T) {
	h := NewRulesHandler(testRuleSource(t))
	want := rulefmt.RuleGroup{Name: "api-logs", Interval: model.Duration(time.Minute), Rules: []rulefmt.Rule{
		{Record: "service:errors:count5m", Expr: "errors > 10"},
		{Alert: "ErrorBurst", Expr: "errors > 10", For: model.Duration(2 * time.Minute),
			Labels: map[string]string{"severity": "page"}, Annotations: map[string]string{"summary": "many errors"}},
	}}
	for _, prefix := range []string{"/loki/api/v1/rules", "/api/prom/rules"} {
		w := serveRules(t, h, "GET", prefix)
		require.Equal(t, 200, w.Code, w.Body.String())
		require.Equal(t, "application/yaml", w.Header().Get("Content-Type"))
		var all map[string][]rulefmt.RuleGroup
		require.NoError(t, yaml.Unmarshal(w.Body.Bytes(), &all))
		require.Equal(t, map[string][]rulefmt.RuleGroup{"/etc/loupe/logs.yml": {want}}, all)

		ns := prefix + "/" + url.PathEscape("/etc/loupe/logs.yml")
		w = serveRules(t, h, "GET", ns)
		require.Equal(t, 200, w.Code, w.Body.String())
		w = serveRules(t, h, "GET", ns+"/api-logs")
		require.Equal(t, 200, w.Code, w.Body.String())
		var one rulefmt.RuleGroup
		require.NoError(t, yaml.Unmarshal(w.Body.Bytes(), &one))
		require.Equal(t, want, one)

		w = serveRules(t, h, "GET", ns+"/nosuch")
		require.Equal(t, 404, w.Code)
		require.Contains(t, w.Body.String(), "group does not exist")
		w = serveRules(t, h, "GET", prefix+"/other.yml")
		require.Equal(t, 404, w.Code)
		require.Contains(t, w.Body.String(), "no rule groups found")
		for _, m := range []string{"POST", "DELETE"} {
			w = serveRules(t, h, m, ns)
			require.Equal(t, http.StatusMethodNotAllowed, w.Code)
			require.Contains(t, w.Body.String(), "read-only")
		}
	}
	w := serveRules(t, NewRulesHandler(ruleSource{}), "GET", "/loki/api/v1/rules")
	require.Equal(t, 404, w.Code)
}

func TestRulesAPIPrometheusJSON(t *testing.T) {
	h := NewRulesHandler(testRuleSource(t))
	type resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Groups []struct {
				Name, File string
				Interval   float64
				Rules      []struct {
					Name, Query, Type, Health, State string
				}
			} `json:"groups"`
			Alerts []any `json:"alerts"`
		} `json:"data"`
	}
	var r resp
	w := serveRules(t, h, "GET", "/prometheus/api/v1/rules")
	require.Equal(t, 200, w.Code)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
	require.Equal(t, "success", r.Status)
	require.Len(t, r.Data.Groups, 1)
	require.Equal(t, "/etc/loupe/logs.yml", r.Data.Groups[0].File)
	require.Equal(t, 60.0, r.Data.Groups[0].Interval)
	require.Len(t, r.Data.Groups[0].Rules, 2)
	require.Equal(t, "recording", r.Data.Groups[0].Rules[0].Type)
	require.Equal(t, "alerting", r.Data.Groups[0].Rules[1].Type)
	require.Equal(t, "inactive", r.Data.Groups[0].Rules[1].State)
	require.Equal(t, "errors > 10", r.Data.Groups[0].Rules[1].Query)

	for q, n := range map[string]int{"type=alert": 1, "type=record": 1, "rule_name[]=ErrorBurst": 1, "rule_group[]=other": 0, "file[]=/etc/loupe/logs.yml": 2} {
		r = resp{}
		w = serveRules(t, h, "GET", "/prometheus/api/v1/rules?"+q)
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
		got := 0
		for _, g := range r.Data.Groups {
			got += len(g.Rules)
		}
		require.Equal(t, n, got, q)
	}
	r = resp{}
	w = serveRules(t, h, "GET", "/prometheus/api/v1/rules?type=bogus")
	require.Equal(t, 400, w.Code)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
	require.Equal(t, "error", r.Status)
	require.Contains(t, r.Error, `not supported value "bogus"`)

	w = serveRules(t, h, "GET", "/prometheus/api/v1/alerts")
	require.Equal(t, 200, w.Code)
	require.True(t, strings.Contains(w.Body.String(), `"alerts":[]`), w.Body.String())
}
