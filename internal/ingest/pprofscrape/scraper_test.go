package pprofscrape

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loupe-dev/loupe/internal/store"
)

type recorder struct {
	mu sync.Mutex
	ps []store.Profile
}

func (r *recorder) WriteProfiles(_ context.Context, ps []store.Profile) error {
	r.mu.Lock()
	r.ps = append(r.ps, ps...)
	r.mu.Unlock()
	return nil
}

func (r *recorder) byType() map[string][]store.Profile {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string][]store.Profile{}
	for _, p := range r.ps {
		m[p.Type.ID()] = append(m[p.Type.ID()], p)
	}
	return m
}

func parse(t *testing.T, text string) Config {
	t.Helper()
	c := Default()
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

//go:noinline
func spin(stop <-chan struct{}) {
	x := 1
	for {
		select {
		case <-stop:
			return
		default:
		}
		for i := 0; i < 100000; i++ {
			x = x*31 + i
		}
	}
}

// TestScrapeGoEndpoints scrapes net/http/pprof's real handlers: CPU, goroutine, and the
// heap, whose alloc types appear from the second scrape on (as differences).
func TestScrapeGoEndpoints(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.Handle("/debug/pprof/heap", pprof.Handler("heap"))
	mux.Handle("/debug/pprof/goroutine", pprof.Handler("goroutine"))
	target := httptest.NewServer(mux)
	defer target.Close()
	stop := make(chan struct{})
	defer close(stop)
	go spin(stop)

	cfg := parse(t, fmt.Sprintf(`
scrape_interval: 1s
scrape_timeout: 1s
scrape_configs:
  - job_name: api
    profile_types: [cpu, allocs, goroutine]
    static_configs: [{targets: [%q]}]
    relabel_configs:
      - {target_label: env, replacement: test}
`, strings.TrimPrefix(target.URL, "http://")))
	rec := &recorder{}
	opts := DefaultOptions()
	opts.DiscoveryUpdateInterval = 50 * time.Millisecond
	s, err := New(cfg, rec, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	want := []string{"process_cpu:cpu:nanoseconds:cpu:nanoseconds", "goroutines:goroutine:count:goroutine:count",
		"memory:inuse_space:bytes:space:bytes", "memory:alloc_space:bytes:space:bytes"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := rec.byType()
		missing := ""
		for _, w := range want {
			if len(got[w]) == 0 {
				missing = w
			}
		}
		if missing == "" {
			p := got[want[0]][0]
			if p.Labels["service_name"] != "api" || p.Labels["job"] != "api" || p.Labels["env"] != "test" || p.Labels["instance"] == "" {
				t.Errorf("labels %v", p.Labels)
			}
			found := false
			for _, s := range p.Samples {
				for _, f := range s.Stack {
					found = found || strings.HasSuffix(f.Function, ".spin")
				}
			}
			if !found {
				t.Error("the CPU profile does not name spin")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s profile after 30 s; got %d types", missing, len(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConfigErrors(t *testing.T) {
	f := func(text, want string) {
		t.Helper()
		err := parse(t, text).Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", text, err, want)
		}
	}
	f("scrape_configs: [{job_name: a, profile_types: [cpu, wat], static_configs: [{targets: [x:1]}]}]", "scrape_configs[0].profile_types")
	f("profile_types: []\n", "profile_types")
	f("scrape_interval: 5s\nscrape_timeout: 10s\n", "scrape_timeout")
	f("scrape_configs: [{static_configs: [{targets: [x:1]}]}]", "job_name")
	f("scrape_configs: [{job_name: a, bogus_key: 1}]", "bogus_key")
	f("scrape_configs: {job_name: a}", "list")
	if err := Default().Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
	jobs, err := parse(t, "scrape_configs: [{job_name: a, scrape_interval: 30s, scrape_timeout: 20s}]").jobs()
	if err != nil || len(jobs) != 1 || jobs[0].cpuSeconds != 19 || len(jobs[0].kinds) != 5 {
		t.Errorf("jobs %+v, %v", jobs, err)
	}
}

// TestApplyConfig: a job added by ApplyConfig starts, an unchanged one keeps its loops, a
// removed one stops, and an invalid configuration is refused with the jobs kept.
func TestApplyConfig(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/debug/pprof/goroutine", pprof.Handler("goroutine"))
	target := httptest.NewServer(mux)
	defer target.Close()
	addr := strings.TrimPrefix(target.URL, "http://")
	job := func(name string) string {
		return fmt.Sprintf("  - {job_name: %s, profile_types: [goroutine], static_configs: [{targets: [%q]}]}\n", name, addr)
	}
	rec := &recorder{}
	opts := DefaultOptions()
	opts.DiscoveryUpdateInterval = 50 * time.Millisecond
	s, err := New(parse(t, "scrape_interval: 1s\nscrape_timeout: 1s\nscrape_configs:\n"+job("a")), rec, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	services := func() map[string]bool {
		m := map[string]bool{}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, p := range rec.ps {
			m[p.Labels["service_name"]] = true
		}
		return m
	}
	loops := func() []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		var ks []string
		for k := range s.loops {
			ks = append(ks, strings.SplitN(k, "\xff", 2)[0])
		}
		return ks
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20 s (services %v, loops %v)", what, services(), loops())
			}
		}
	}
	waitFor("job a scraped", func() bool { return services()["a"] })
	if err := s.ApplyConfig(parse(t, "scrape_interval: 1s\nscrape_timeout: 1s\nscrape_configs:\n"+job("a")+job("b"))); err != nil {
		t.Fatal(err)
	}
	waitFor("job b scraped", func() bool { return services()["b"] })
	if err := s.ApplyConfig(parse(t, "scrape_configs: [{job_name: b, profile_types: [nope]}]")); err == nil {
		t.Fatal("invalid profile type accepted")
	}
	if err := s.ApplyConfig(parse(t, "scrape_interval: 1s\nscrape_timeout: 1s\nscrape_configs:\n"+job("b"))); err != nil {
		t.Fatal(err)
	}
	waitFor("job a stopped", func() bool { l := loops(); return len(l) == 1 && l[0] == "b" })
}
