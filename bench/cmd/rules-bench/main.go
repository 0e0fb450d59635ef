// Command rules-bench measures the CPU that evaluating alerting rules costs Loupe, beside
// Prometheus evaluating the same rules over the same series in the same run (issue 13:
// 1,000 alert rules over 100k active series every 15 s in under a quarter of one core).
//
//	go run ./bench/cmd/rules-bench -loupe bin/loupe -prometheus /usr/bin/prometheus
//	go run ./bench/cmd/rules-bench -smoke
//
// The command serves -series series as Prometheus text exposition itself (-jobs targets,
// every value a function of the wall clock), starts Loupe and Prometheus on fresh data
// directories scraping those targets every -interval, and measures each process's CPU
// time from /proc/<pid>/stat in two windows of -duration: scraping only, then with a file
// of -rules alerting rules loaded in both (POST /-/reload), evaluated every -interval. The
// CPU the rules add is the difference. It then checks that both servers report the same
// active alerts.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/bench/harness"
)

type options struct {
	Loupe, Prometheus                  string
	Series, Rules, GroupSize, Jobs     int
	ClusterEvery                       int
	Interval, Warmup, RulesWarmup, Dur time.Duration
	Out                                string
	Profile                            bool
}

func main() {
	var o options
	flag.StringVar(&o.Loupe, "loupe", "bin/loupe", "the loupe binary")
	flag.StringVar(&o.Prometheus, "prometheus", "/usr/bin/prometheus", "the peer; empty runs Loupe alone")
	flag.IntVar(&o.Series, "series", 100_000, "active series served (99 per pod)")
	flag.IntVar(&o.Rules, "rules", 1000, "alerting rules")
	flag.IntVar(&o.GroupSize, "group-size", 20, "rules per group")
	flag.IntVar(&o.Jobs, "jobs", 10, "scrape targets (one job each)")
	flag.IntVar(&o.ClusterEvery, "cluster-every", 50, "one rule in this many is cluster-wide (over every job's series); 0: none")
	flag.DurationVar(&o.Interval, "interval", 15*time.Second, "scrape and evaluation interval")
	flag.DurationVar(&o.Warmup, "warmup", time.Minute, "scraping before the first window")
	flag.DurationVar(&o.RulesWarmup, "rules-warmup", 30*time.Second, "evaluation after the reload, before the second window")
	flag.DurationVar(&o.Dur, "duration", 3*time.Minute, "length of each window")
	flag.StringVar(&o.Out, "out", "bench/results", "directory for <date>.rules-bench.json and .txt; empty writes none")
	flag.BoolVar(&o.Profile, "profile", false, "save Loupe's CPU profile of the rules window (<date>.rules-bench.loupe.cpu.pprof, and its top in .cpu.top.txt)")
	smoke := flag.Bool("smoke", false, "tiny sizes: 1,000 series, 20 rules, 2 s interval, 5 s windows")
	flag.Parse()
	if *smoke {
		s := smokeOptions()
		s.Loupe, s.Prometheus, s.Out, s.Profile = o.Loupe, o.Prometheus, o.Out, o.Profile
		o = s
	}
	rep, err := run(context.Background(), o, os.Stdout)
	if err == nil && o.Out != "" {
		err = save(o, rep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rules-bench:", err)
		os.Exit(1)
	}
}

// smokeOptions are tiny sizes that still load, evaluate and compare every kind of rule.
func smokeOptions() options {
	return options{Series: 1000, Rules: 20, GroupSize: 10, Jobs: 2, ClusterEvery: 10,
		Interval: 2 * time.Second, Warmup: 5 * time.Second, RulesWarmup: 6 * time.Second, Dur: 5 * time.Second}
}

// window is one server's figures over one measured window.
type window struct {
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Cores      float64 `json:"cores"`
	RSSMiB     float64 `json:"rss_mib"`
}

// iterations are the rule manager's own counts over the rules window: group evaluations
// done, and skipped because the group's previous evaluation had not ended when its next
// was due (prometheus_rule_group_iterations_missed_total).
type iterations struct {
	Done        float64 `json:"done"`
	Missed      float64 `json:"missed"`
	Rounds      float64 `json:"rounds"`                      // done / groups
	CPUPerRound float64 `json:"rules_cpu_seconds_per_round"` // rules' CPU-s / rounds
	// DemandCores is CPUPerRound / interval: the cores the rules need to run every round,
	// which the window's cores understate when rounds were missed for want of CPU.
	DemandCores float64 `json:"demand_cores"`
}

type serverResult struct {
	Name         string     `json:"name"`
	Series       float64    `json:"active_series"`
	ScrapeOnly   window     `json:"scrape_only"`
	WithRules    window     `json:"with_rules"`
	RulesCores   float64    `json:"rules_cores"`
	Iterations   iterations `json:"iterations"`
	Rules        ruleStats  `json:"rules"`
	MissingPeers int        `json:"alerts_not_in_peer"`
}

type report struct {
	Start      time.Time      `json:"start"`
	Options    options        `json:"options"`
	Commit     string         `json:"commit"`
	Load       []string       `json:"load"` // at start, after the first window, after the second
	Servers    []serverResult `json:"servers"`
	AlertsSame bool           `json:"alerts_same"`
	Table      string         `json:"-"`
}

func run(ctx context.Context, o options, out io.Writer) (*report, error) {
	rep := &report{Start: time.Now().UTC(), Options: o, Commit: gitCommit(), Load: []string{harness.LoadAvg()}}
	dir, err := os.MkdirTemp("", "rules-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	exp := newExposition(o.Series, o.Jobs)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: exp}
	go func() { _ = hs.Serve(l) }()
	defer hs.Close()
	addr := l.Addr().String()
	rulesDir := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		return nil, err
	}
	glob := filepath.Join(rulesDir, "*.yml")

	var servers []*server
	defer func() {
		for _, s := range servers {
			if err := s.stop(); err != nil {
				fmt.Fprintf(out, "stop %s: %v\n", s.name, err)
			}
		}
	}()
	if err := os.MkdirAll(filepath.Join(dir, "loupe"), 0o755); err != nil {
		return nil, err
	}
	lo, err := startLoupe(ctx, o.Loupe, filepath.Join(dir, "loupe"), exp.scrapeConfigs(addr, "    "), glob, o.Interval)
	if err != nil {
		return nil, err
	}
	servers = append(servers, lo)
	if o.Prometheus != "" {
		if err := os.MkdirAll(filepath.Join(dir, "prometheus"), 0o755); err != nil {
			return nil, err
		}
		pr, err := startPrometheus(ctx, o.Prometheus, filepath.Join(dir, "prometheus"), exp.scrapeConfigs(addr, "  "), glob, o.Interval)
		if err != nil {
			return nil, err
		}
		servers = append(servers, pr)
	}
	fmt.Fprintf(out, "%d series on %d targets (%d pods), %d rules in groups of %d, every %s; windows of %s; load %s\n",
		exp.pods*seriesPerPod, exp.jobs, exp.pods, o.Rules, o.GroupSize, o.Interval, o.Dur, rep.Load[0])

	// The scrape managers apply new targets every 5 s and start each at an offset within
	// the interval: the warm-up counts from when every target of both has been scraped.
	for _, s := range servers {
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
			up, err := s.scalarQuery(`sum(up)`)
			if err != nil {
				return nil, err
			}
			if int(up) == exp.jobs {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%s: %v of %d targets up after 2m", s.name, up, exp.jobs)
			}
		}
	}
	time.Sleep(o.Warmup)
	res := make([]serverResult, len(servers))
	for i, s := range servers {
		res[i].Name = s.name
		n, err := s.scalarQuery(`count({__name__=~".+"})`)
		if err != nil {
			return nil, err
		}
		res[i].Series = n
	}

	w, err := measure(servers, o.Dur)
	if err != nil {
		return nil, err
	}
	for i := range res {
		res[i].ScrapeOnly = w[i]
	}
	rep.Load = append(rep.Load, harness.LoadAvg())
	fmt.Fprintf(out, "scrape only: %s; load %s\n", describe(servers, w), rep.Load[1])

	if err := os.WriteFile(filepath.Join(rulesDir, "bench.yml"), []byte(ruleFile(o.Rules, o.GroupSize, exp.jobs, o.ClusterEvery)), 0o644); err != nil {
		return nil, err
	}
	for _, s := range servers {
		if err := s.reload(); err != nil {
			return nil, err
		}
	}
	time.Sleep(o.RulesWarmup)
	var prof chan error
	if o.Profile {
		prof = make(chan error, 1)
		go func() { prof <- saveProfile(lo.base, profilePath(o, rep), o.Dur) }()
	}
	it0, err := iterationCounts(servers)
	if err != nil {
		return nil, err
	}
	w, err = measure(servers, o.Dur)
	if err != nil {
		return nil, err
	}
	it1, err := iterationCounts(servers)
	if err != nil {
		return nil, err
	}
	rep.Load = append(rep.Load, harness.LoadAvg())
	fmt.Fprintf(out, "with rules:  %s; load %s\n", describe(servers, w), rep.Load[2])
	for i, s := range servers {
		res[i].WithRules = w[i]
		res[i].RulesCores = w[i].Cores - res[i].ScrapeOnly.Cores
		if res[i].Rules, err = s.rules(); err != nil {
			return nil, err
		}
		// iterations_total counts scheduled iterations, the missed ones included.
		it := iterations{Missed: it1[i][iterMissed] - it0[i][iterMissed]}
		it.Done = it1[i][iterScheduled] - it0[i][iterScheduled] - it.Missed
		if g := res[i].Rules.Groups; g > 0 && it.Done > 0 {
			it.Rounds = it.Done / float64(g)
			it.CPUPerRound = res[i].RulesCores * w[i].Seconds / it.Rounds
			it.DemandCores = it.CPUPerRound / o.Interval.Seconds()
		}
		res[i].Iterations = it
	}
	rep.AlertsSame = true
	if len(res) == 2 {
		a, b := res[0].Rules.alerts, res[1].Rules.alerts
		for k := range a {
			if _, ok := b[k]; !ok {
				res[0].MissingPeers++
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok {
				res[1].MissingPeers++
			}
		}
		rep.AlertsSame = res[0].MissingPeers == 0 && res[1].MissingPeers == 0
	}
	rep.Servers = res
	if prof != nil {
		if err := <-prof; err != nil {
			fmt.Fprintln(out, "profile:", err)
		}
	}
	rep.Table = table(rep)
	fmt.Fprint(out, rep.Table)
	return rep, nil
}

const (
	iterScheduled = "prometheus_rule_group_iterations_total"
	iterMissed    = "prometheus_rule_group_iterations_missed_total"
)

func iterationCounts(servers []*server) ([]map[string]float64, error) {
	out := make([]map[string]float64, len(servers))
	for i, s := range servers {
		c, err := s.counters(iterScheduled, iterMissed)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// measure reads every server's CPU time at the start and the end of a window of d.
func measure(servers []*server, d time.Duration) ([]window, error) {
	cpu0 := make([]time.Duration, len(servers))
	for i, s := range servers {
		c, err := harness.CPUTime(s.pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		cpu0[i] = c
	}
	began := time.Now()
	time.Sleep(d)
	el := time.Since(began).Seconds()
	w := make([]window, len(servers))
	for i, s := range servers {
		c, err := harness.CPUTime(s.pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		rss, _, _ := harness.Memory(s.pid)
		cpu := (c - cpu0[i]).Seconds()
		w[i] = window{Seconds: el, CPUSeconds: cpu, Cores: cpu / el, RSSMiB: float64(rss) / (1 << 20)}
	}
	return w, nil
}

func describe(servers []*server, w []window) string {
	var parts []string
	for i, s := range servers {
		parts = append(parts, fmt.Sprintf("%s %.3f cores (%.1f CPU-s in %.0f s)", s.name, w[i].Cores, w[i].CPUSeconds, w[i].Seconds))
	}
	return strings.Join(parts, ", ")
}

func table(rep *report) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nserver      series   scrape-only cores  with-rules cores  rules cores  rounds  missed  rules CPU-s/round  demand cores  eval s (sum of groups)  slowest group s  rules ok/evaluated  firing  pending  RSS MiB\n")
	for _, r := range rep.Servers {
		st, it := r.Rules, r.Iterations
		fmt.Fprintf(&sb, "%-10s  %7.0f  %17.3f  %16.3f  %11.3f  %6.1f  %6.0f  %17.3f  %12.3f  %22.3f  %15.3f  %8d/%-9d  %6d  %7d  %7.0f\n",
			r.Name, r.Series, r.ScrapeOnly.Cores, r.WithRules.Cores, r.RulesCores, it.Rounds, it.Missed, it.CPUPerRound, it.DemandCores,
			st.EvalSeconds, st.MaxGroupSeconds, st.Rules-st.Unhealthy, st.Evaluated, st.Firing, st.Pending, r.WithRules.RSSMiB)
		if st.FirstError != "" {
			fmt.Fprintf(&sb, "  %s: %d rules unhealthy, first: %s\n", r.Name, st.Unhealthy, st.FirstError)
		}
	}
	if len(rep.Servers) == 2 {
		a, b := rep.Servers[0], rep.Servers[1]
		if b.RulesCores > 0 {
			fmt.Fprintf(&sb, "rules cores %s / %s: %.2f\n", a.Name, b.Name, a.RulesCores/b.RulesCores)
		}
		fmt.Fprintf(&sb, "same active alerts in both: %v (%d of %s's not in %s's, %d the other way)\n",
			rep.AlertsSame, a.MissingPeers, a.Name, b.Name, b.MissingPeers)
	}
	fmt.Fprintf(&sb, "load: start %s; after scrape-only %s; after rules %s; commit %s\n", rep.Load[0], rep.Load[1], rep.Load[2], rep.Commit)
	return sb.String()
}

func profilePath(o options, rep *report) string {
	if o.Out == "" {
		return filepath.Join(os.TempDir(), "rules-bench.loupe.cpu.pprof")
	}
	return filepath.Join(o.Out, rep.Start.Format("2006-01-02T15-04-05Z")+".rules-bench.loupe.cpu.pprof")
}

// saveProfile records Loupe's CPU profile over most of the window and writes its top.
func saveProfile(base, path string, d time.Duration) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, max(1, int(d.Seconds())-5)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	top, err := exec.Command("go", "tool", "pprof", "-top", "-cum", path).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof: %w", err)
	}
	return os.WriteFile(strings.TrimSuffix(path, ".pprof")+".top.txt", top, 0o644)
}

func save(o options, rep *report) error {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	base := filepath.Join(o.Out, rep.Start.Format("2006-01-02T15-04-05Z")+".rules-bench")
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".txt", []byte(rep.Table), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s.json and %s.txt\n", base, base)
	return nil
}

func gitCommit() string {
	b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
