package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/loupe-dev/loupe/bench/harness"
)

// server is one process under test, as the phases see it.
type server struct {
	name string
	pid  int
	base string // HTTP base URL of /api/v1 and /-/reload
	stop func() error
}

func startLoupe(ctx context.Context, bin, dir, scrape, rulesGlob string, interval time.Duration) (*server, error) {
	cfg := filepath.Join(dir, "loupe.yml")
	body := fmt.Sprintf("scrape:\n  scrape_interval: %s\n  scrape_configs:\n%srules:\n  files: [%q]\n  evaluation_interval: %s\n",
		interval, scrape, rulesGlob, interval)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return nil, err
	}
	s, err := harness.StartLoupe(ctx, bin, filepath.Join(dir, "data"), "--config", cfg)
	if err != nil {
		return nil, err
	}
	return &server{name: "loupe", pid: s.Pid, base: s.HTTP, stop: func() error { return s.Stop(30 * time.Second) }}, nil
}

// startPrometheus starts Prometheus with the same scrape jobs and rule glob, a fresh TSDB
// and --web.enable-lifecycle for /-/reload.
func startPrometheus(ctx context.Context, bin, dir, scrape, rulesGlob string, interval time.Duration) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cfg := filepath.Join(dir, "prometheus.yml")
	body := fmt.Sprintf("global:\n  scrape_interval: %s\n  evaluation_interval: %s\nrule_files: [%q]\nscrape_configs:\n%s",
		interval, interval, rulesGlob, scrape)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--web.enable-lifecycle", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start prometheus: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	s := &server{name: "prometheus", pid: cmd.Process.Pid, base: "http://" + addr, stop: func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			return fmt.Errorf("prometheus did not stop within 30s")
		}
	}}
	for deadline := time.Now().Add(time.Minute); ; {
		if resp, err := http.Get(s.base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			return nil, fmt.Errorf("prometheus exited before ready: %v: %s", err, b)
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("prometheus not ready within 1m")
		}
	}
}

func (s *server) reload() error {
	resp, err := http.Post(s.base+"/-/reload", "", nil)
	if err != nil {
		return fmt.Errorf("%s reload: %w", s.name, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s reload: %d %s", s.name, resp.StatusCode, b)
	}
	return nil
}

// apiGet decodes the data of a Prometheus API answer.
func (s *server) apiGet(path string, data any) error {
	resp, err := http.Get(s.base + path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", s.name, path, err)
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s %s: %d: %w", s.name, path, resp.StatusCode, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s %s: %s", s.name, path, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}

// scalarQuery runs an instant query whose answer is one sample (or none: 0).
func (s *server) scalarQuery(q string) (float64, error) {
	var d struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := s.apiGet("/api/v1/query?query="+url.QueryEscape(q), &d); err != nil {
		return 0, err
	}
	if len(d.Result) == 0 {
		return 0, nil
	}
	var v float64
	_, err := fmt.Sscan(fmt.Sprint(d.Result[0].Value[1]), &v)
	return v, err
}

// counters sums each of the named series of the server's own /metrics over their labels.
func (s *server) counters(names ...string) (map[string]float64, error) {
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("%s /metrics: %w", s.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, n := range names {
		out[n] = 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name := line[:strings.IndexAny(line+" ", "{ ")]
		if _, ok := out[name]; !ok {
			continue
		}
		f := strings.Fields(line)
		var v float64
		if _, err := fmt.Sscan(f[len(f)-1], &v); err == nil {
			out[name] += v
		}
	}
	return out, nil
}

// ruleStats is what /api/v1/rules and /api/v1/alerts say about the rules.
type ruleStats struct {
	Groups, Rules, Evaluated, Unhealthy int
	// EvalSeconds is the sum of the groups' last evaluationTime: the wall time one round of
	// every group took; MaxGroupSeconds the slowest group's.
	EvalSeconds, MaxGroupSeconds float64
	FirstError                   string
	Firing, Pending              int
	alerts                       map[string]string // alert identity -> state
}

func (s *server) rules() (ruleStats, error) {
	var st ruleStats
	var d struct {
		Groups []struct {
			EvaluationTime float64 `json:"evaluationTime"`
			Rules          []struct {
				Health         string `json:"health"`
				LastError      string `json:"lastError"`
				LastEvaluation string `json:"lastEvaluation"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := s.apiGet("/api/v1/rules", &d); err != nil {
		return st, err
	}
	for _, g := range d.Groups {
		st.Groups++
		st.EvalSeconds += g.EvaluationTime
		st.MaxGroupSeconds = max(st.MaxGroupSeconds, g.EvaluationTime)
		for _, r := range g.Rules {
			st.Rules++
			if !strings.HasPrefix(r.LastEvaluation, "0001-") && r.LastEvaluation != "" {
				st.Evaluated++
			}
			if r.Health == "err" {
				st.Unhealthy++
				if st.FirstError == "" {
					st.FirstError = r.LastError
				}
			}
		}
	}
	var a struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := s.apiGet("/api/v1/alerts", &a); err != nil {
		return st, err
	}
	st.alerts = map[string]string{}
	for _, al := range a.Alerts {
		switch al.State {
		case "firing":
			st.Firing++
		case "pending":
			st.Pending++
		}
		st.alerts[labelKey(al.Labels)] = al.State
	}
	return st, nil
}

func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s=%q,", k, l[k])
	}
	return sb.String()
}
