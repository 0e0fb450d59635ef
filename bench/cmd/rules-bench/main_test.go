package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSmoke runs the benchmark at smoke size against the real loupe binary and Debian's
// Prometheus, so that the command never rots: both servers load and evaluate every rule
// without errors and report the same active alerts. It asserts nothing about time or CPU.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
	const prom = "/usr/bin/prometheus"
	if _, err := os.Stat(prom); err != nil {
		t.Skipf("no %s (make test-deps installs it)", prom)
	}
	bin := filepath.Join(t.TempDir(), "loupe")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/loupe").CombinedOutput(); err != nil {
		t.Fatalf("build loupe: %v: %s", err, out)
	}
	o := smokeOptions()
	o.Loupe, o.Prometheus = bin, prom
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Servers) != 2 {
		t.Fatalf("%d servers reported", len(rep.Servers))
	}
	for _, s := range rep.Servers {
		if s.Series < float64(o.Series)*0.9 {
			t.Errorf("%s: %v active series, want about %d", s.Name, s.Series, o.Series)
		}
		r := s.Rules
		if r.Rules != o.Rules || r.Evaluated != o.Rules || r.Unhealthy != 0 {
			t.Errorf("%s: %d rules, %d evaluated, %d unhealthy (%s); want %d, all evaluated and healthy",
				s.Name, r.Rules, r.Evaluated, r.Unhealthy, r.FirstError, o.Rules)
		}
		if r.Firing+r.Pending == 0 {
			t.Errorf("%s: no active alerts; the exposition's unhealthy pods should make some fire", s.Name)
		}
	}
	if !rep.AlertsSame {
		t.Error("Loupe and Prometheus report different active alerts")
	}
}

// TestRuleFileParses checks the generated rule file with promtool when it is installed,
// at the default size.
func TestRuleFileParses(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("no promtool")
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, []byte(ruleFile(1000, 20, 10, 50)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
