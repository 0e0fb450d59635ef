package rules_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	v1 "github.com/prometheus/prometheus/web/api/v1"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/rules"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// The manager is what the Prometheus API reads /api/v1/rules and /api/v1/alerts from.
var _ v1.RulesRetriever = (*rules.Manager)(nil)

const goodRules = `groups:
  - name: g
    rules:
      - record: job:temp:max
        expr: max by (job) (temp)
      - alert: Hot
        expr: temp > 30
        for: 300ms
        labels: {severity: page}
        annotations: {summary: "{{ $labels.room }} is {{ $value }}"}
`

type env struct {
	store *tsdb.Store
	mgr   *rules.Manager
	reg   *prometheus.Registry
	dir   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	e := &env{store: st, dir: t.TempDir()}
	e.newManager(t)
	return e
}

// newManager gives e a new manager (with its own engine and registry) over the same store,
// as a restarted server has.
func (e *env) newManager(t *testing.T) {
	t.Helper()
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	t.Cleanup(func() { _ = engine.Close() })
	e.reg = prometheus.NewRegistry()
	mgr := rules.New(engine, e.store, rules.DefaultOptions(), nil, e.reg)
	t.Cleanup(func() { require.NoError(t, mgr.Shutdown(context.Background())) })
	e.mgr = mgr
}

func (e *env) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(e.dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// appendTemp writes temp{job="j",room="r"}=v now.
func (e *env) appendTemp(t *testing.T, v float64) {
	t.Helper()
	app := e.store.Appender(context.Background())
	_, err := app.Append(0, labels.FromStrings("__name__", "temp", "job", "j", "room", "r"), time.Now().UnixMilli(), v)
	require.NoError(t, err)
	require.NoError(t, app.Commit())
}

// series returns the latest value of each series matching name, keyed by its labels.
func (e *env) series(t *testing.T, name string) map[string]float64 {
	t.Helper()
	q, err := e.store.Querier(0, time.Now().Add(time.Minute).UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name))
	out := map[string]float64{}
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			_, v := it.At()
			out[ss.At().Labels().String()] = v
		}
	}
	require.NoError(t, ss.Err())
	return out
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func alertState(m *rules.Manager) string {
	for _, r := range m.AlertingRules() {
		if r.Name() == "Hot" {
			return r.State().String()
		}
	}
	return "missing"
}

// A recording rule writes its series into the store; an alert goes inactive -> pending ->
// firing and its ALERTS and ALERTS_FOR_STATE series are written as Prometheus writes them.
func TestRecordingAndAlerting(t *testing.T) {
	e := newEnv(t)
	f := e.write(t, "r.yml", goodRules)
	require.NoError(t, e.mgr.Load([]string{f}, nil, 100*time.Millisecond))
	require.NoError(t, e.mgr.Start(context.Background()))
	require.Len(t, e.mgr.RuleGroups(), 1)
	require.Equal(t, "inactive", alertState(e.mgr))

	e.appendTemp(t, 35)
	seen := map[string]bool{}
	eventually(t, func() error {
		seen[alertState(e.mgr)] = true
		if !seen["firing"] {
			return fmt.Errorf("states seen %v", seen)
		}
		return nil
	})
	require.True(t, seen["pending"], "pending before firing: %v", seen)

	eventually(t, func() error {
		if got := e.series(t, "job:temp:max"); got[`{__name__="job:temp:max", job="j"}`] != 35 {
			return fmt.Errorf("job:temp:max = %v", got)
		}
		return nil
	})
	eventually(t, func() error {
		got := e.series(t, "ALERTS")
		if got[`{__name__="ALERTS", alertname="Hot", alertstate="firing", job="j", room="r", severity="page"}`] != 1 {
			return fmt.Errorf("ALERTS = %v", got)
		}
		return nil
	})
	require.NotEmpty(t, e.series(t, "ALERTS_FOR_STATE"))
	a := e.mgr.AlertingRules()[0].ActiveAlerts()
	require.Len(t, a, 1)
	require.Equal(t, "r is 35", a[0].Annotations.Get("summary"))
	eventually(t, func() error {
		if n := counterValue(t, e.reg, "loupe_rules_alerts_not_sent_total"); n < 1 {
			return fmt.Errorf("alerts not sent = %v", n)
		}
		return nil
	})
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// The pending state of an alert survives a restart: the new manager restores its start
// from ALERTS_FOR_STATE (with Prometheus' defaults: a `for` longer than the 10m grace
// period, an outage shorter than 1h) instead of starting the `for` again.
func TestPendingStateRestored(t *testing.T) {
	e := newEnv(t)
	f := e.write(t, "r.yml", strings.Replace(goodRules, "for: 300ms", "for: 1h", 1))
	require.NoError(t, e.mgr.Load([]string{f}, nil, 100*time.Millisecond))
	require.NoError(t, e.mgr.Start(context.Background()))
	e.appendTemp(t, 35)

	activeAt := func() (time.Time, error) {
		for _, r := range e.mgr.AlertingRules() {
			for _, a := range r.ActiveAlerts() {
				if a.State.String() == "pending" {
					return a.ActiveAt, nil
				}
			}
		}
		return time.Time{}, fmt.Errorf("no pending alert")
	}
	// onGrid reports whether t is an evaluation time of the group, which evaluates at times
	// a whole number of intervals apart: a fresh alert is active since one, a restored one
	// is not (Prometheus restores whole seconds shifted by the downtime up to the restore).
	onGrid := func(t time.Time) (bool, error) {
		g := e.mgr.RuleGroups()[0]
		last := g.GetLastEvalTimestamp()
		if last.IsZero() {
			return false, fmt.Errorf("not evaluated yet")
		}
		return last.Sub(t)%g.Interval() == 0, nil
	}
	var first time.Time
	eventually(t, func() error {
		var err error
		if first, err = activeAt(); err != nil {
			return err
		}
		if fresh, err := onGrid(first); err != nil || !fresh {
			return fmt.Errorf("a fresh alert pending since %s, not an evaluation time (%v)", first, err)
		}
		if time.Since(first) < time.Second {
			return fmt.Errorf("pending for %s only", time.Since(first)) // let it pend a while
		}
		if len(e.series(t, "ALERTS_FOR_STATE")) == 0 {
			return fmt.Errorf("no ALERTS_FOR_STATE yet")
		}
		return nil
	})
	require.NoError(t, e.mgr.Shutdown(context.Background()))

	e.newManager(t)
	restart := time.Now()
	require.NoError(t, e.mgr.Load([]string{f}, nil, 100*time.Millisecond))
	require.NoError(t, e.mgr.Start(context.Background()))
	eventually(t, func() error {
		restored, err := activeAt()
		if err != nil {
			return err
		}
		// Not "a second before the restart": the restore runs after the second evaluation,
		// and the restored start is the restore time less the time pended, so on a loaded
		// machine it came later than that (CI).
		if fresh, err := onGrid(restored); err != nil || fresh {
			return fmt.Errorf("pending since %s (an evaluation time: %v), restarted at %s: not restored yet (%v)", restored, fresh, restart, err)
		}
		if !restored.Before(time.Now().Add(-time.Second)) {
			return fmt.Errorf("pending since %s: restored, but not the second it pended before the restart", restored)
		}
		return nil
	})
}

// A reload with a bad file is refused with an error naming the file, position, group and
// rule, and the running rules keep running.
func TestBadReloadKeepsRules(t *testing.T) {
	e := newEnv(t)
	f := e.write(t, "r.yml", goodRules)
	require.NoError(t, e.mgr.Load([]string{f}, nil, time.Second))
	require.NoError(t, e.mgr.Start(context.Background()))

	bad := e.write(t, "bad.yml", `groups:
  - name: broken
    rules:
      - record: ok:sum
        expr: sum(temp)
      - alert: Typo
        expr: rate(temp[5m]
`)
	err := e.mgr.Load([]string{f, bad}, nil, time.Second)
	require.ErrorContains(t, err, bad)
	require.ErrorContains(t, err, `7:15: group "broken", rule 2, "Typo": could not parse expression`)
	require.Len(t, e.mgr.RuleGroups(), 1, "the running rules are kept")
	require.Equal(t, "g", e.mgr.RuleGroups()[0].Name())

	// Fixed, the reload goes through: the new group runs beside the old one.
	require.NoError(t, os.WriteFile(bad, []byte("groups:\n  - name: fixed\n    rules:\n      - record: ok:sum\n        expr: sum(temp)\n"), 0o644))
	require.NoError(t, e.mgr.Load([]string{filepath.Join(e.dir, "*.yml")}, nil, time.Second))
	require.Len(t, e.mgr.RuleGroups(), 2)
}

// A bad file is refused by Load, and by Start when it went bad after Load, so that the
// server does not start with it. (rulefmt gives no position for a repeated group: 0:0.)
func TestBadFileAtStart(t *testing.T) {
	e := newEnv(t)
	dup := "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n  - name: a\n    rules:\n      - record: y\n        expr: up\n"
	bad := e.write(t, "bad.yml", dup)
	require.ErrorContains(t, e.mgr.Load([]string{bad}, nil, time.Second), bad+`: 0:0: groupname: "a" is repeated in the same file`)

	f := e.write(t, "r.yml", goodRules)
	require.NoError(t, e.mgr.Load([]string{f}, nil, time.Second), "before Start, Load checks and records the files")
	require.NoError(t, os.WriteFile(f, []byte(dup), 0o644))
	require.ErrorContains(t, e.mgr.Start(context.Background()), f+`: 0:0: groupname: "a" is repeated in the same file`)
	require.Empty(t, e.mgr.RuleGroups())
}

func TestCheckNamesProblems(t *testing.T) {
	dir := t.TempDir()
	f := func(content, want string) {
		t.Helper()
		p := filepath.Join(dir, "x.yml")
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		_, err := rules.Check([]string{p})
		require.ErrorContains(t, err, p)
		require.ErrorContains(t, err, want)
	}
	f("groups: [", "yaml")
	f("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: nosuchfn(up)\n",
		`group "g", rule 1, "A": could not parse expression: 1:1: parse error: unknown function with name "nosuchfn"`)
	f("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations: {summary: '{{ $labels.x '}\n",
		`group "g", rule 1, "A": annotation "summary"`)
	f("groups:\n  - name: g\n    rules:\n      - record: a\n        alert: b\n        expr: up\n",
		`only one of 'record' and 'alert' must be set`)
	f("groups:\n  - name: g\n    bogus: 1\n", "field bogus not found")

	_, err := rules.Check([]string{"[bad"})
	require.ErrorContains(t, err, `rule files "[bad": syntax error in pattern`)
	files, err := rules.Check([]string{filepath.Join(dir, "none-*.yml")})
	require.NoError(t, err, "a glob matching nothing is no error, as in Prometheus")
	require.Empty(t, files)
}

// The example rule file is valid for Loupe and for promtool, and its promtool unit tests
// pass (the Debian package prometheus provides promtool; scripts/test-deps.sh installs it).
func TestExampleRules(t *testing.T) {
	files, err := rules.Check([]string{"../../examples/rules/loupe-rules.yml"})
	require.NoError(t, err)
	require.Len(t, files, 1)

	e := newEnv(t)
	require.NoError(t, e.mgr.Load([]string{"../../examples/rules/loupe-rules.yml"}, nil, time.Minute))
	require.NoError(t, e.mgr.Start(context.Background()))
	require.Len(t, e.mgr.RuleGroups(), 3)

	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (scripts/test-deps.sh, Debian package prometheus)")
	}
	for _, args := range [][]string{
		{"check", "rules", "loupe-rules.yml"},
		{"test", "rules", "loupe-rules.test.yml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "../../examples/rules"
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %v:\n%s", args, out)
		require.Contains(t, string(out), "SUCCESS")
	}
}
