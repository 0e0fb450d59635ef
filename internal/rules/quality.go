package rules

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/rules"

	"github.com/loupe-dev/loupe/internal/selfmetrics"
)

// Alert quality (docs/alerting.md, "Alert quality"): an alerting rule without a summary
// or runbook_url annotation is warned about when it is loaded, and every change of an
// alert's state (inactive, pending, firing) is counted per rule, so that flapping alerts
// show in the self-metrics.

// Annotations an alerting rule should have: what a person paged reads first, and where
// they go next.
var wantAnnotations = []string{"summary", "runbook_url"}

// quality checks loaded rules and counts alert state changes. Safe for concurrent use:
// evalIteration runs in every group's goroutine.
type quality struct {
	logger   *slog.Logger
	warnings *prometheus.GaugeVec
	changes  *prometheus.CounterVec
}

func newQuality(logger *slog.Logger, reg prometheus.Registerer) *quality {
	return &quality{
		logger: logger,
		warnings: selfmetrics.Register(reg, logger, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loupe_rules_quality_warnings",
			Help: "Loaded alerting rules without an annotation they should have (summary, runbook_url), by annotation; each is logged at load.",
		}, []string{"annotation"})),
		changes: selfmetrics.Register(reg, logger, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loupe_rules_alert_state_changes_total",
			Help: "Changes of state of the alerts of each alerting rule, by the state changed to (pending, firing, inactive): a flapping alert changes often.",
		}, []string{"rule_group", "alertname", "to"})),
	}
}

// check logs a warning for each alerting rule of groups that lacks one of
// wantAnnotations, and sets loupe_rules_quality_warnings to the counts.
func (q *quality) check(groups []*rules.Group) {
	missing := map[string]int{}
	for _, g := range groups {
		for _, r := range g.Rules() {
			ar, ok := r.(*rules.AlertingRule)
			if !ok {
				continue
			}
			for _, k := range wantAnnotations {
				if ar.Annotations().Get(k) == "" {
					missing[k]++
					q.logger.Warn("alerting rule without a "+k+" annotation (docs/alerting.md, Alert quality)",
						"file", g.File(), "group", g.Name(), "rule", ar.Name())
				}
			}
		}
	}
	for _, k := range wantAnnotations {
		q.warnings.WithLabelValues(k).Set(float64(missing[k]))
	}
}

// evalIteration is Prometheus' group evaluation (rules.DefaultEvalIterationFunc) that
// also counts the alerts whose state the evaluation changed.
func (q *quality) evalIteration(ctx context.Context, g *rules.Group, ts time.Time) {
	before := alertStates(g)
	rules.DefaultEvalIterationFunc(ctx, g, ts)
	after := alertStates(g)
	key := rules.GroupKey(g.File(), g.Name())
	for id, was := range before {
		if now := after[id]; now.String() != was.String() {
			q.changes.WithLabelValues(key, was.rule, now.String()).Inc()
		}
	}
	for id, now := range after {
		if _, ok := before[id]; !ok {
			q.changes.WithLabelValues(key, now.rule, now.String()).Inc()
		}
	}
}

type alertState struct {
	rule  string
	state rules.AlertState
	set   bool // false: inactive (not among the active alerts)
}

func (s alertState) String() string {
	if !s.set {
		return rules.StateInactive.String()
	}
	return s.state.String()
}

type alertID struct {
	rule   string
	labels uint64
}

// alertStates returns the state of each active (pending or firing) alert of g.
func alertStates(g *rules.Group) map[alertID]alertState {
	out := map[alertID]alertState{}
	for _, r := range g.Rules() {
		ar, ok := r.(*rules.AlertingRule)
		if !ok {
			continue
		}
		for _, a := range ar.ActiveAlerts() {
			out[alertID{ar.Name(), a.Labels.Hash()}] = alertState{rule: ar.Name(), state: a.State, set: true}
		}
	}
	return out
}
