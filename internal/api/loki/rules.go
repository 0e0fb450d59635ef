package loki

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/rules"
	v1 "github.com/prometheus/prometheus/web/api/v1"
	"gopkg.in/yaml.v3"
)

// RuleSource is what the rules API reads: the LogQL rules (rules.Manager.LogQL).
type RuleSource interface {
	RuleGroups() []*rules.Group
	AlertingRules() []*rules.AlertingRule
}

// RulePaths are the endpoints of NewRulesHandler: Loki's ruler API, read-only. The
// ruler paths (/loki/api/v1/rules and its pre-2.0 name /api/prom/rules) answer YAML keyed
// by namespace, which is the rule file's path as in the `file` of the JSON endpoints; the
// /prometheus/api/v1 ones answer Prometheus' JSON, where Grafana's Loki data source
// reads rules and alerts.
var RulePaths = []string{
	"/loki/api/v1/rules", "/loki/api/v1/rules/{namespace}", "/loki/api/v1/rules/{namespace}/{group}",
	"/api/prom/rules", "/api/prom/rules/{namespace}", "/api/prom/rules/{namespace}/{group}",
	"/prometheus/api/v1/rules", "/prometheus/api/v1/alerts",
}

// NewRulesHandler serves RulePaths from src. The API is read-only: rules come from the
// files named in rules.logql_files, so writes are refused with 405.
func NewRulesHandler(src RuleSource) http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"/loki/api/v1/rules", "/api/prom/rules"} {
		mux.HandleFunc(prefix, readOnly(func(w http.ResponseWriter, _ *http.Request) {
			writeRulesYAML(w, src.RuleGroups(), "", "")
		}))
		mux.HandleFunc(prefix+"/{namespace}", readOnly(func(w http.ResponseWriter, r *http.Request) {
			writeRulesYAML(w, src.RuleGroups(), r.PathValue("namespace"), "")
		}))
		mux.HandleFunc(prefix+"/{namespace}/{group}", readOnly(func(w http.ResponseWriter, r *http.Request) {
			writeRulesYAML(w, src.RuleGroups(), r.PathValue("namespace"), r.PathValue("group"))
		}))
	}
	mux.HandleFunc("/prometheus/api/v1/rules", readOnly(func(w http.ResponseWriter, r *http.Request) {
		promRules(w, r, src.RuleGroups())
	}))
	mux.HandleFunc("/prometheus/api/v1/alerts", readOnly(func(w http.ResponseWriter, _ *http.Request) {
		alerts := []*v1.Alert{}
		for _, ar := range src.AlertingRules() {
			alerts = append(alerts, apiAlerts(ar.ActiveAlerts())...)
		}
		writePromJSON(w, http.StatusOK, v1.AlertDiscovery{Alerts: alerts})
	}))
	return mux
}

func readOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the rules API of Loupe is read-only: LogQL rules are read from the files named in rules.logql_files (docs/alerting.md#logql-rules)", http.StatusMethodNotAllowed)
			return
		}
		h(w, r)
	}
}

// writeRulesYAML answers as Loki's ruler: every namespace, one namespace, or one group.
// Nothing to list is 404, as Loki says it.
func writeRulesYAML(w http.ResponseWriter, groups []*rules.Group, namespace, group string) {
	byNS := map[string][]rulefmt.RuleGroup{}
	for _, g := range groups {
		if namespace != "" && g.File() != namespace || group != "" && g.Name() != group {
			continue
		}
		byNS[g.File()] = append(byNS[g.File()], ruleGroupOf(g))
	}
	var out any = byNS
	switch {
	case len(byNS) == 0 && group != "":
		http.Error(w, "group does not exist", http.StatusNotFound)
		return
	case len(byNS) == 0:
		http.Error(w, "no rule groups found", http.StatusNotFound)
		return
	case group != "":
		out = byNS[namespace][0]
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(b)
}

// ruleGroupOf is a loaded group in the rule file format. The group's labels are shown in
// each rule's, where the rule manager keeps them.
func ruleGroupOf(g *rules.Group) rulefmt.RuleGroup {
	rg := rulefmt.RuleGroup{Name: g.Name(), Interval: model.Duration(g.Interval()), Limit: g.Limit()}
	for _, r := range g.Rules() {
		switch r := r.(type) {
		case *rules.AlertingRule:
			rg.Rules = append(rg.Rules, rulefmt.Rule{Alert: r.Name(), Expr: r.Query().String(),
				For: model.Duration(r.HoldDuration()), KeepFiringFor: model.Duration(r.KeepFiringFor()),
				Labels: nilIfEmpty(r.Labels().Map()), Annotations: nilIfEmpty(r.Annotations().Map())})
		case *rules.RecordingRule:
			rg.Rules = append(rg.Rules, rulefmt.Rule{Record: r.Name(), Expr: r.Query().String(), Labels: nilIfEmpty(r.Labels().Map())})
		}
	}
	return rg
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// promRules answers as Prometheus' /api/v1/rules with its filters type, rule_name[],
// rule_group[], file[] and exclude_alerts.
func promRules(w http.ResponseWriter, r *http.Request, groups []*rules.Group) {
	if err := r.ParseForm(); err != nil {
		writePromError(w, fmt.Errorf("error parsing form values: %w", err))
		return
	}
	typ := strings.ToLower(r.Form.Get("type"))
	if typ != "" && typ != "alert" && typ != "record" {
		writePromError(w, fmt.Errorf("not supported value %q", typ))
		return
	}
	excludeAlerts := false
	if s := r.Form.Get("exclude_alerts"); s != "" {
		var err error
		if excludeAlerts, err = strconv.ParseBool(s); err != nil {
			writePromError(w, fmt.Errorf("parameter exclude_alerts: %w", err))
			return
		}
	}
	in := func(key, v string) bool { return len(r.Form[key]) == 0 || slices.Contains(r.Form[key], v) }
	res := v1.RuleDiscovery{RuleGroups: []*v1.RuleGroup{}}
	for _, g := range groups {
		if !in("rule_group[]", g.Name()) || !in("file[]", g.File()) {
			continue
		}
		apiGroup := &v1.RuleGroup{Name: g.Name(), File: g.File(), Interval: g.Interval().Seconds(), Limit: g.Limit(),
			EvaluationTime: g.GetEvaluationTime().Seconds(), LastEvaluation: g.GetLastEvaluation(), Rules: []v1.Rule{}}
		for _, rule := range g.Rules() {
			if !in("rule_name[]", rule.Name()) {
				continue
			}
			lastError := ""
			if err := rule.LastError(); err != nil {
				lastError = err.Error()
			}
			switch rule := rule.(type) {
			case *rules.AlertingRule:
				if typ == "record" {
					continue
				}
				var alerts []*v1.Alert
				if !excludeAlerts {
					alerts = apiAlerts(rule.ActiveAlerts())
				}
				apiGroup.Rules = append(apiGroup.Rules, v1.AlertingRule{
					State: rule.State().String(), Name: rule.Name(), Query: rule.Query().String(),
					Duration: rule.HoldDuration().Seconds(), KeepFiringFor: rule.KeepFiringFor().Seconds(),
					Labels: rule.Labels(), Annotations: rule.Annotations(), Alerts: alerts,
					Health: rule.Health(), LastError: lastError, EvaluationTime: rule.GetEvaluationDuration().Seconds(),
					LastEvaluation: rule.GetEvaluationTimestamp(), Type: "alerting",
				})
			case *rules.RecordingRule:
				if typ == "alert" {
					continue
				}
				apiGroup.Rules = append(apiGroup.Rules, v1.RecordingRule{
					Name: rule.Name(), Query: rule.Query().String(), Labels: rule.Labels(),
					Health: rule.Health(), LastError: lastError, EvaluationTime: rule.GetEvaluationDuration().Seconds(),
					LastEvaluation: rule.GetEvaluationTimestamp(), Type: "recording",
				})
			}
		}
		// As Prometheus: a group whose rules were all filtered out is left out.
		if len(apiGroup.Rules) > 0 {
			res.RuleGroups = append(res.RuleGroups, apiGroup)
		}
	}
	writePromJSON(w, http.StatusOK, res)
}

// apiAlerts converts alerts as Prometheus' API does.
func apiAlerts(in []*rules.Alert) []*v1.Alert {
	out := make([]*v1.Alert, len(in))
	for i, a := range in {
		out[i] = &v1.Alert{Labels: a.Labels, Annotations: a.Annotations, State: a.State.String(),
			ActiveAt: &a.ActiveAt, Value: strconv.FormatFloat(a.Value, 'e', -1, 64)}
		if !a.KeepFiringSince.IsZero() {
			out[i].KeepFiringSince = &a.KeepFiringSince
		}
	}
	return out
}

func writePromJSON(w http.ResponseWriter, code int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
}

func writePromError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": "bad_data", "error": err.Error()})
}
