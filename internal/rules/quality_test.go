package rules

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// qualityGroup is a group of one alerting rule with annotations ann and `for` hold,
// whose query answers the values of vals in turn (a sample while > 0, none at 0).
func qualityGroup(t *testing.T, ann labels.Labels, hold time.Duration, vals *[]float64) *rules.Group {
	t.Helper()
	st, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	expr, err := parser.ParseExpr("temp > 30")
	require.NoError(t, err)
	query := func(_ context.Context, _ string, ts time.Time) (promql.Vector, error) {
		v := (*vals)[0]
		*vals = (*vals)[1:]
		if v == 0 {
			return promql.Vector{}, nil
		}
		return promql.Vector{{Metric: labels.FromStrings("room", "a"), T: ts.UnixMilli(), F: v}}, nil
	}
	rule := rules.NewAlertingRule("Hot", expr, hold, 0, labels.EmptyLabels(), ann, labels.EmptyLabels(), "", true, nil)
	return rules.NewGroup(rules.GroupOptions{
		Name: "g", File: "f.yml", Interval: time.Second, Rules: []rules.Rule{rule},
		Opts: &rules.ManagerOptions{QueryFunc: query, Appendable: st, Queryable: st, Context: context.Background(),
			NotifyFunc: func(context.Context, string, ...*rules.Alert) {}, Metrics: rules.NewGroupMetrics(nil)},
	})
}

func TestQualityWarnsAtLoad(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	q := newQuality(slog.New(slog.NewTextHandler(&logs, nil)), reg)
	none := []float64{}
	q.check([]*rules.Group{
		qualityGroup(t, labels.EmptyLabels(), 0, &none),
		qualityGroup(t, labels.FromStrings("summary", "hot"), 0, &none),
		qualityGroup(t, labels.FromStrings("summary", "hot", "runbook_url", "https://example.com/hot"), 0, &none),
	})
	require.Equal(t, 1.0, testutil.ToFloat64(q.warnings.WithLabelValues("summary")))
	require.Equal(t, 2.0, testutil.ToFloat64(q.warnings.WithLabelValues("runbook_url")))
	require.Contains(t, logs.String(), `msg="alerting rule without a runbook_url annotation (docs/alerting.md, Alert quality)" file=f.yml group=g rule=Hot`)

	// A reload with good rules clears the counts.
	q.check(nil)
	require.Equal(t, 0.0, testutil.ToFloat64(q.warnings.WithLabelValues("runbook_url")))
}

func TestQualityCountsStateChanges(t *testing.T) {
	q := newQuality(nil, prometheus.NewRegistry())
	// Above, above, below, above, above, above (for: 1 s at one evaluation a second):
	// pending, firing, inactive, pending, firing, firing.
	vals := []float64{35, 35, 0, 35, 35, 35}
	g := qualityGroup(t, labels.EmptyLabels(), time.Second, &vals)
	ts := time.Now()
	for range 6 {
		q.evalIteration(context.Background(), g, ts)
		ts = ts.Add(time.Second)
	}
	c := func(to string) float64 { return testutil.ToFloat64(q.changes.WithLabelValues("f.yml;g", "Hot", to)) }
	require.Equal(t, 2.0, c("pending"))
	require.Equal(t, 2.0, c("firing"))
	require.Equal(t, 1.0, c("inactive"))
}

// The example rules on errors and job runs are valid for Loupe and promtool, have the
// annotations quality wants, and their promtool unit tests pass.
func TestExampleErrorsRunsRules(t *testing.T) {
	const file = "../../examples/rules/loupe-errors-runs-rules.yml"
	_, errs := rulefmt.ParseFile(file, false)
	require.Empty(t, errs)
	var logs bytes.Buffer
	m := rules.NewManager(&rules.ManagerOptions{Context: context.Background(), Logger: slog.New(slog.DiscardHandler),
		Metrics: rules.NewGroupMetrics(nil)})
	groups, errs := m.LoadGroups(time.Minute, labels.EmptyLabels(), "", nil, false, file)
	require.Empty(t, errs)
	q := newQuality(slog.New(slog.NewTextHandler(&logs, nil)), prometheus.NewRegistry())
	var gs []*rules.Group
	for _, g := range groups {
		gs = append(gs, g)
	}
	q.check(gs)
	require.Empty(t, logs.String())

	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (scripts/test-deps.sh, Debian package prometheus)")
	}
	for _, args := range [][]string{
		{"check", "rules", "loupe-errors-runs-rules.yml"},
		{"test", "rules", "loupe-errors-runs-rules.test.yml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "../../examples/rules"
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %v:\n%s", args, out)
		require.Contains(t, string(out), "SUCCESS")
	}
}

// The rule file of docs/alerting.md's "Rules on errors and job runs" is the example file,
// word for word, and the other expressions of the section and of "Alert quality" are in
// the doc and parse.
func TestErrorsRunsDocExamples(t *testing.T) {
	raw, err := os.ReadFile("../../docs/alerting.md")
	require.NoError(t, err)
	doc := string(raw)
	_, section, ok := strings.Cut(doc, "\n## Rules on errors and job runs\n")
	require.True(t, ok, "docs/alerting.md has the section")
	_, block, ok := strings.Cut(section, "```yaml\ngroups:\n")
	require.True(t, ok, "the section has a rule file")
	block, _, _ = strings.Cut("groups:\n"+block, "```")
	example, err := os.ReadFile("../../examples/rules/loupe-errors-runs-rules.yml")
	require.NoError(t, err)
	require.Contains(t, string(example), block)

	flat := strings.Join(strings.Fields(doc), " ") // inline code may wrap across lines
	for _, expr := range []string{
		`increase(loupe_error_issues_created_total{service="shop-api"}[10m]) > 0`,
		`increase(loupe_run_completed_total{job="nightly", status="failed"}[10m]) > 0`,
		`last_over_time(loupe_run_completed_success{job="nightly"}[2d]) == 0`,
		`loupe_run_completed_duration_seconds > 1.5 * avg_over_time(loupe_run_completed_duration_seconds[5d] offset 5m)`,
		`sum by (rule_group, alertname) (increase(loupe_rules_alert_state_changes_total[1h])) > 6`,
	} {
		require.Contains(t, flat, expr)
		_, err := parser.ParseExpr(expr)
		require.NoError(t, err, expr)
	}
}
