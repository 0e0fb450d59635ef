package rules

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/rules"
	"gopkg.in/yaml.v3"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

// LogQL rules are Loki's ruler files: Prometheus' rule file format whose expressions are
// LogQL metric queries. They are run by a second Prometheus rule manager whose
// GroupLoader parses LogQL and whose QueryFunc runs the LogQL engine, as Loki's ruler
// does, so that `for`, `keep_firing_for`, templates, ALERTS / ALERTS_FOR_STATE and
// notifications behave exactly as for PromQL rules.

// LogQLEngine evaluates LogQL queries; *logql.Engine is one.
type LogQLEngine interface {
	Query(ctx context.Context, q string, p logql.Params) (*logql.Result, error)
}

// logqlLoader is the GroupLoader of the LogQL rule manager.
type logqlLoader struct{}

func (logqlLoader) Load(file string, _ bool) (*rulefmt.RuleGroups, []error) {
	return parseLogQLFile(file)
}

// Parse checks the LogQL expression and returns a stand-in for the PromQL expression the
// rule manager wants: the rules only ever call String on it, to hand the query to the
// QueryFunc, to the /rules APIs and to notifications.
func (logqlLoader) Parse(query string) (parser.Expr, error) {
	if err := checkLogQLExpr(query); err != nil {
		return nil, err
	}
	return logqlExpr(query), nil
}

// logqlExpr is a LogQL query standing where the rule manager expects a PromQL expression.
type logqlExpr string

func (e logqlExpr) String() string                        { return string(e) }
func (e logqlExpr) Pretty(int) string                     { return string(e) }
func (e logqlExpr) PositionRange() posrange.PositionRange { return posrange.PositionRange{} }
func (logqlExpr) Type() parser.ValueType                  { return parser.ValueTypeVector }
func (logqlExpr) PromQLExpr()                             {}

// noDependencies is the RuleDependencyController of the LogQL manager. Prometheus' own
// walks each expression as a PromQL syntax tree (and panics on any other node); with
// sequential evaluation, which Loupe uses, the dependencies are not needed.
type noDependencies struct{}

func (noDependencies) AnalyseRules([]rules.Rule) {}

// checkLogQLExpr accepts a LogQL metric query; log queries return lines, not samples.
func checkLogQLExpr(q string) error {
	expr, err := logql.Parse(q)
	if err != nil {
		return fmt.Errorf("could not parse LogQL expression: %w", err)
	}
	if _, ok := expr.(*logql.LogExpr); ok {
		return errors.New("LogQL expression is a log query; a rule needs a metric query such as count_over_time({...}[5m])")
	}
	return nil
}

// parseLogQLFile parses a LogQL rule file as rulefmt does a PromQL one (YAML, unknown
// keys, group and rule names, labels, annotations, templates), with the expressions
// checked as LogQL. Each error starts with the file name and, like Prometheus', names
// the line:column of the expression, the group and the rule.
func parseLogQLFile(file string) (*rulefmt.RuleGroups, []error) {
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", file, err)}
	}
	rgs, errs := parseLogQL(content)
	for i := range errs {
		errs[i] = fmt.Errorf("%s: %w", file, errs[i])
	}
	return rgs, errs
}

func parseLogQL(content []byte) (*rulefmt.RuleGroups, []error) {
	rgs, rfErrs := rulefmt.Parse(content, false)
	if rgs == nil {
		return nil, rfErrs // the YAML does not decode
	}
	var errs []error
	for _, err := range rfErrs {
		// rulefmt parses every expression as PromQL; those verdicts are replaced by the
		// LogQL ones below.
		var rfErr *rulefmt.Error
		if errors.As(err, &rfErr) {
			if inner := errors.Unwrap(&rfErr.Err); inner != nil && strings.HasPrefix(inner.Error(), "could not parse expression: ") {
				continue
			}
		}
		errs = append(errs, err)
	}
	// The positions of the expressions, from the same YAML (rulefmt has decoded it).
	var nodes struct {
		Groups []rulefmt.RuleGroupNode `yaml:"groups"`
	}
	if err := yaml.Unmarshal(content, &nodes); err != nil {
		return nil, append(errs, err)
	}
	for i, g := range rgs.Groups {
		for j, r := range g.Rules {
			if r.Expr == "" {
				continue // rulefmt said so
			}
			if err := checkLogQLExpr(r.Expr); err != nil {
				name := r.Alert
				if name == "" {
					name = r.Record
				}
				pos := ""
				if i < len(nodes.Groups) && j < len(nodes.Groups[i].Rules) {
					n := nodes.Groups[i].Rules[j].Expr
					pos = fmt.Sprintf("%d:%d: ", n.Line, n.Column)
				}
				errs = append(errs, fmt.Errorf("%sgroup %q, rule %d, %q: %w", pos, g.Name, j+1, name, err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return rgs, nil
}

// logqlQueryFunc evaluates a LogQL metric query at t, as the rule manager's QueryFunc:
// a vector is returned as it is, a scalar as one sample without labels (as Prometheus'
// EngineQueryFunc does). Each query gets at most timeout.
func logqlQueryFunc(engine LogQLEngine, timeout time.Duration) rules.QueryFunc {
	return func(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		res, err := engine.Query(ctx, q, logql.Params{Start: t, End: t})
		if err != nil {
			return nil, err
		}
		ts := timestamp.FromTime(t)
		switch res.Type {
		case "vector":
			v := make(promql.Vector, 0, len(res.Series))
			for _, s := range res.Series {
				if len(s.Points) == 0 {
					continue
				}
				v = append(v, promql.Sample{Metric: labels.FromMap(s.Labels), T: ts, F: s.Points[len(s.Points)-1].V})
			}
			return v, nil
		case "scalar":
			return promql.Vector{{Metric: labels.EmptyLabels(), T: ts, F: res.Scalar.V}}, nil
		default:
			return nil, fmt.Errorf("rule result is a %s; a LogQL rule needs a vector or a scalar", res.Type)
		}
	}
}

// LogQLNotifyFunc is rules.SendAlerts for LogQL rules: the generatorURL of an alert opens
// its query in Loupe's LogQL view (/logs?mode=logql&logql=...) instead of Prometheus'
// /graph, which would read it as PromQL.
func LogQLNotifyFunc(s rules.Sender, externalURL string) rules.NotifyFunc {
	externalURL = strings.TrimSuffix(externalURL, "/")
	return func(_ context.Context, expr string, alerts ...*rules.Alert) {
		if len(alerts) == 0 {
			return
		}
		link := externalURL + "/logs?" + url.Values{"mode": {"logql"}, "logql": {expr}}.Encode()
		res := make([]*notifier.Alert, 0, len(alerts))
		for _, alert := range alerts {
			a := &notifier.Alert{StartsAt: alert.FiredAt, Labels: alert.Labels, Annotations: alert.Annotations, GeneratorURL: link}
			if !alert.ResolvedAt.IsZero() {
				a.EndsAt = alert.ResolvedAt
			} else {
				a.EndsAt = alert.ValidUntil
			}
			res = append(res, a)
		}
		s.Send(res...)
	}
}
