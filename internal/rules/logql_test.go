package rules_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"gopkg.in/yaml.v3"

	"github.com/loupe-dev/loupe/internal/query/logql"
	"github.com/loupe-dev/loupe/internal/rules"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// Loki's ruler format: a plain Prometheus rule file whose expressions are LogQL.
const logqlRules = `groups:
  - name: api-logs
    rules:
      - record: service:log_errors:count5m
        expr: sum by (service_name) (count_over_time({service_name="api"} |= "error" [5m]))
      - alert: APIErrorBurst
        expr: sum by (service_name) (count_over_time({service_name="api"} |= "error" [5m])) > 2
        for: 300ms
        labels: {severity: page}
        annotations: {summary: "{{ $labels.service_name }} logged {{ $value }} errors in 5m"}
`

// logEnv is env with a log store and a LogQL engine over it, as the server has.
type logEnv struct {
	*env
	logs  *duck.Store
	lopts logql.Options
	evals *evalTimes // the evaluation times of the current manager's LogQL queries
}

// evalTimes records the times the rule manager evaluates LogQL queries at.
type evalTimes struct {
	rules.LogQLEngine
	mu    sync.Mutex
	times []time.Time
}

func (e *evalTimes) Query(ctx context.Context, q string, p logql.Params) (*logql.Result, error) {
	e.mu.Lock()
	e.times = append(e.times, p.Start)
	e.mu.Unlock()
	return e.LogQLEngine.Query(ctx, q, p)
}

// first and last return the earliest and latest evaluation time; ok is false before any.
func (e *evalTimes) first() (t time.Time, ok bool) { return e.at(0) }
func (e *evalTimes) last() (t time.Time, ok bool)  { return e.at(-1) }

// has reports whether t is one of the evaluation times.
func (e *evalTimes) has(t time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.times, t.Equal)
}

func (e *evalTimes) at(i int) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.times) == 0 {
		return time.Time{}, false
	}
	if i < 0 {
		i = len(e.times) + i
	}
	return e.times[i], true
}

func newLogEnv(t *testing.T) *logEnv { return newLogEnvWith(t, logql.DefaultOptions()) }

// newLogEnvWith is newLogEnv with the LogQL engine's limits lopts.
func newLogEnvWith(t *testing.T, lopts logql.Options) *logEnv {
	t.Helper()
	e := newEnv(t)
	logs, err := duck.Open(filepath.Join(t.TempDir(), "logs.duckdb"), duck.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = logs.Close() })
	le := &logEnv{env: e, logs: logs, lopts: lopts}
	le.newLogManager(t)
	return le
}

// newLogManager gives e a new manager over the same stores, as a restarted server has.
func (e *logEnv) newLogManager(t *testing.T) {
	t.Helper()
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	t.Cleanup(func() { _ = engine.Close() })
	opts := rules.DefaultOptions()
	e.evals = &evalTimes{LogQLEngine: logql.NewEngine(e.logs.LogQL(), e.lopts, nil)}
	opts.LogQL = e.evals
	e.reg = prometheus.NewRegistry()
	mgr := rules.New(engine, e.store, opts, nil, e.reg)
	t.Cleanup(func() { require.NoError(t, mgr.Shutdown(context.Background())) })
	e.mgr = mgr
}

// writeLogs stores n lines of service "api" saying body, timestamped now.
func (e *logEnv) writeLogs(t *testing.T, n int, body string) {
	t.Helper()
	e.writeServiceLogs(t, "api", n, body)
}

func (e *logEnv) writeServiceLogs(t *testing.T, service string, n int, body string) {
	t.Helper()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range n {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now().Add(-time.Duration(i) * time.Millisecond)))
		lr.Body().SetStr(fmt.Sprintf("%s %d", body, i))
	}
	require.NoError(t, e.logs.WriteLogs(context.Background(), ld))
}

func logAlertState(l rules.LogQLRules, name string) string {
	for _, r := range l.AlertingRules() {
		if r.Name() == name {
			return r.State().String()
		}
	}
	return "missing"
}

// A LogQL alert goes pending -> firing on a burst of error lines and its recording rule
// writes the count into the metric store.
func TestLogQLRulesFireAndRecord(t *testing.T) {
	e := newLogEnv(t)
	f := e.write(t, "api.logql.yml", logqlRules)
	require.NoError(t, e.mgr.Load(nil, []string{f}, 100*time.Millisecond))
	require.NoError(t, e.mgr.Start(context.Background()))

	e.writeLogs(t, 5, "all fine")
	eventually(t, func() error {
		g := e.mgr.LogQL().RuleGroups()
		if len(g) != 1 || g[0].GetLastEvaluation().IsZero() {
			return fmt.Errorf("not evaluated yet")
		}
		return nil
	})
	require.Equal(t, "inactive", logAlertState(e.mgr.LogQL(), "APIErrorBurst"))
	require.Len(t, e.mgr.RuleGroups(), 1, "/api/v1/rules lists the LogQL groups too")

	e.writeLogs(t, 4, "error: upstream timeout")
	var seen []string
	eventually(t, func() error {
		st := logAlertState(e.mgr.LogQL(), "APIErrorBurst")
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		if st != "firing" {
			return fmt.Errorf("states seen %v", seen)
		}
		return nil
	})
	require.Equal(t, []string{"inactive", "pending", "firing"}, seen)
	alerts := e.mgr.LogQL().AlertingRules()[0].ActiveAlerts()
	require.Len(t, alerts, 1)
	require.Equal(t, `{alertname="APIErrorBurst", service_name="api", severity="page"}`, alerts[0].Labels.String())
	require.Equal(t, "api logged 4 errors in 5m", alerts[0].Annotations.Get("summary"))

	eventually(t, func() error {
		got := e.series(t, "service:log_errors:count5m")
		if got[`{__name__="service:log_errors:count5m", service_name="api"}`] != 4 {
			return fmt.Errorf("recorded %v", got)
		}
		return nil
	})
	require.Equal(t, 1.0, e.series(t, "ALERTS")[`{__name__="ALERTS", alertname="APIErrorBurst", alertstate="firing", service_name="api", severity="page"}`])
}

// Bad LogQL rule files are refused with the file, the expression's line:column, the
// group and the rule; the running rules keep running.
func TestLogQLRulesBadInput(t *testing.T) {
	e := newLogEnv(t)
	good := e.write(t, "good.logql.yml", logqlRules)
	require.NoError(t, e.mgr.Load(nil, []string{good}, 100*time.Millisecond))
	require.NoError(t, e.mgr.Start(context.Background()))

	for _, tc := range []struct{ name, content, want string }{
		{"syntax", "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: count_over_time({service_name=\"api\"} |= [5m])\n",
			`: 5:15: group "g", rule 1, "Broken": could not parse LogQL expression: parse error at line 1`},
		{"log query", "groups:\n  - name: g\n    rules:\n      - record: lines\n        expr: '{service_name=\"api\"} |= \"error\"'\n",
			`: 5:15: group "g", rule 1, "lines": LogQL expression is a log query; a rule needs a metric query`},
		{"second rule", "groups:\n  - name: g\n    rules:\n      - record: ok\n        expr: count_over_time({a=\"b\"}[1m])\n      - alert: Bad\n        expr: nosuchfn({a=\"b\"}[1m])\n",
			`: 7:15: group "g", rule 2, "Bad": could not parse LogQL expression`},
		{"unknown key", "groups:\n  - name: g\n    rules:\n      - alert: A\n        exp: count_over_time({a=\"b\"}[1m])\n",
			": yaml: unmarshal errors:\n  line 5: field exp not found in type rulefmt.Rule"},
		{"repeated group", "groups:\n  - name: g\n    rules: [{record: a, expr: 'count_over_time({a=\"b\"}[1m])'}]\n  - name: g\n    rules: [{record: b, expr: 'count_over_time({a=\"b\"}[1m])'}]\n",
			`: 0:0: groupname: "g" is repeated in the same file`},
		{"template", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: count_over_time({a=\"b\"}[1m]) > 1\n        annotations: {summary: '{{ $labels.x '}\n",
			`: group "g", rule 1, "A": annotation "summary": template: __alert_A:1: unclosed action`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := e.write(t, "bad.logql.yml", tc.content)
			_, err := rules.CheckLogQL([]string{bad})
			require.ErrorContains(t, err, bad+tc.want)
			require.ErrorContains(t, e.mgr.Load(nil, []string{good, bad}, 100*time.Millisecond), bad+tc.want)
			require.Len(t, e.mgr.LogQL().RuleGroups(), 1, "the running rules stay")
		})
	}

	// The PromQL checker refuses the LogQL file, and one file cannot be both.
	_, err := rules.Check([]string{good})
	require.ErrorContains(t, err, `could not parse expression`)
	require.ErrorContains(t, e.mgr.Load([]string{good}, []string{good}, time.Second), good+" is named both in rules.files (PromQL) and in rules.logql_files")
}

// Without a LogQL engine (no log store), LogQL rule files are refused.
func TestLogQLRulesNeedEngine(t *testing.T) {
	e := newEnv(t)
	f := e.write(t, "a.logql.yml", logqlRules)
	require.ErrorContains(t, e.mgr.Load(nil, []string{f}, time.Second), "LogQL rule files given but no log store")
}

// The example LogQL rule file passes the check.
func TestLogQLRulesExample(t *testing.T) {
	files, err := rules.CheckLogQL([]string{"../../examples/rules/loupe-logql-rules.yml"})
	require.NoError(t, err)
	require.Len(t, files, 1)
}

// The LogQL rules example of docs/alerting.md is a part of the example file, word for
// word, and passes the check on its own.
func TestLogQLRulesDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/alerting.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "\n## LogQL rules\n")
	require.True(t, ok, "docs/alerting.md has a LogQL rules section")
	_, block, ok := strings.Cut(section, "```yaml\ngroups:\n")
	require.True(t, ok, "the section has a rule file")
	block, _, _ = strings.Cut("groups:\n"+block, "```")
	example, err := os.ReadFile("../../examples/rules/loupe-logql-rules.yml")
	require.NoError(t, err)
	require.Contains(t, string(example), block)
	e := newEnv(t)
	_, err = rules.CheckLogQL([]string{e.write(t, "doc.logql.yml", block)})
	require.NoError(t, err)
}

// Every expression of the example LogQL rule file runs in the LogQL engine and gives what
// its comment says over a small set of logs: error lines per service, the api burst, and
// the nginx 5xx ratio from its access log.
func TestLogQLRulesExampleEvaluates(t *testing.T) {
	e := newLogEnv(t)
	e.writeLogs(t, 12, "error: upstream timeout")
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("job", "nginx")
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range 10 {
		status := 200
		if i < 2 {
			status = 503
		}
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now().Add(-time.Duration(i) * time.Second)))
		lr.Body().SetStr(fmt.Sprintf(`10.0.0.%d - - [06/Dec/2026:10:00:00 +0000] "GET /x HTTP/1.1" %d 512`, i, status))
	}
	require.NoError(t, e.logs.WriteLogs(context.Background(), ld))

	b, err := os.ReadFile("../../examples/rules/loupe-logql-rules.yml")
	require.NoError(t, err)
	var rgs rulefmt.RuleGroups
	require.NoError(t, yaml.Unmarshal(b, &rgs))
	engine := logql.NewEngine(e.logs.LogQL(), logql.DefaultOptions(), nil)
	now := time.Now()
	got := map[string]string{}
	for _, r := range rgs.Groups[0].Rules {
		res, err := engine.Query(context.Background(), r.Expr, logql.Params{Start: now, End: now})
		require.NoError(t, err, r.Expr)
		require.Equal(t, "vector", res.Type)
		var out []string
		for _, s := range res.Series {
			out = append(out, fmt.Sprintf("%s=%g", logql.LabelsString(s.Labels), s.Points[0].V))
		}
		got[r.Record+r.Alert] = strings.Join(out, " ")
	}
	require.Equal(t, map[string]string{
		"service:log_errors:count5m": `{service_name="api"}=12`,
		"APIErrorLogBurst":           `{service_name="api"}=12`,
		"NginxHigh5xx":               `{}=0.2`,
	}, got)
}

// A LogQL rule whose query fails (here over the engine's series limit) shows it in its
// health and last error, as a failing PromQL rule does, and the other rules still run.
func TestLogQLRuleEvaluationError(t *testing.T) {
	e := newLogEnvWith(t, logql.Options{MaxSeries: 1})
	e.writeServiceLogs(t, "api", 2, "error a")
	e.writeServiceLogs(t, "worker", 2, "error b")
	f := e.write(t, "err.logql.yml", `groups:
  - name: g
    rules:
      - record: too:many
        expr: sum by (service_name) (count_over_time({service_name=~".+"}[5m]))
      - record: one
        expr: sum(count_over_time({service_name=~".+"}[5m]))
`)
	require.NoError(t, e.mgr.Load(nil, []string{f}, 100*time.Millisecond))
	require.NoError(t, e.mgr.Start(context.Background()))
	eventually(t, func() error {
		rs := e.mgr.LogQL().RuleGroups()[0].Rules()
		if rs[0].Health() != "err" || rs[1].Health() != "ok" {
			return fmt.Errorf("health %s %s", rs[0].Health(), rs[1].Health())
		}
		return nil
	})
	require.ErrorContains(t, e.mgr.LogQL().RuleGroups()[0].Rules()[0].LastError(), "series")
	eventually(t, func() error {
		if got := e.series(t, "one"); got[`{__name__="one"}`] != 4 {
			return fmt.Errorf("one = %v", got)
		}
		return nil
	})
}

// The pending `for` state of a LogQL alert survives a restart, restored from
// ALERTS_FOR_STATE as for PromQL alerts (TestPendingStateRestored).
func TestLogQLPendingStateRestored(t *testing.T) {
	e := newLogEnv(t)
	f := e.write(t, "r.logql.yml", strings.Replace(logqlRules, "for: 300ms", "for: 1h", 1))
	require.NoError(t, e.mgr.Load(nil, []string{f}, 100*time.Millisecond))
	require.NoError(t, e.mgr.Start(context.Background()))
	e.writeLogs(t, 4, "error: disk full")

	activeAt := func() (time.Time, error) {
		for _, r := range e.mgr.LogQL().AlertingRules() {
			for _, a := range r.ActiveAlerts() {
				if a.State.String() == "pending" {
					return a.ActiveAt, nil
				}
			}
		}
		return time.Time{}, fmt.Errorf("no pending alert")
	}
	// Let it pend, evaluated, for over a second, so that it has an ALERTS_FOR_STATE series
	// to be restored from.
	eventually(t, func() error {
		first, err := activeAt()
		if err != nil {
			return err
		}
		// A fresh alert is active since the evaluation that found it: the criterion below.
		if !e.evals.has(first) {
			return fmt.Errorf("a fresh alert pending since %s, not an evaluation time", first)
		}
		if last, _ := e.evals.last(); last.Sub(first) < time.Second {
			return fmt.Errorf("pending for %s only", last.Sub(first))
		}
		if len(e.series(t, "ALERTS_FOR_STATE")) == 0 {
			return fmt.Errorf("no ALERTS_FOR_STATE yet")
		}
		return nil
	})
	require.NoError(t, e.mgr.Shutdown(context.Background()))

	e.newLogManager(t)
	require.NoError(t, e.mgr.Load(nil, []string{f}, 100*time.Millisecond))
	require.NoError(t, e.mgr.Start(context.Background()))
	eventually(t, func() error {
		restored, err := activeAt()
		if err != nil {
			return err
		}
		// A fresh alert would be active since an evaluation of the new manager. Prometheus
		// restores the pending start (whole seconds) shifted by the downtime up to the
		// restore, which runs after the second evaluation: not an evaluation time, and
		// earlier than the restore by the time the alert pended before the restart. (How
		// much earlier than the first evaluation depends on how late the restore runs on
		// a loaded machine, so that is no criterion.)
		if e.evals.has(restored) {
			firstEval, _ := e.evals.first()
			return fmt.Errorf("pending since %s, an evaluation time (the first after the restart: %s): not restored", restored, firstEval)
		}
		return nil
	})
}
