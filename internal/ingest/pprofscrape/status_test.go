package pprofscrape

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"strings"
	"testing"
	"time"
)

// TestTargets: the status of each loop, a target that answers (up) and one that fails
// (down, with the error), listed by job, URL and type; a loop removed by ApplyConfig
// leaves the list.
func TestTargets(t *testing.T) {
	good := http.NewServeMux()
	good.Handle("/debug/pprof/goroutine", pprof.Handler("goroutine"))
	up := httptest.NewServer(good)
	defer up.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no profiles here", http.StatusInternalServerError)
	}))
	defer down.Close()
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	cfg := parse(t, fmt.Sprintf(`
scrape_interval: 1s
scrape_timeout: 1s
scrape_configs:
  - job_name: api
    profile_types: [goroutine]
    static_configs: [{targets: [%q, %q]}]
`, host(up), host(down)))
	opts := DefaultOptions()
	opts.DiscoveryUpdateInterval = 50 * time.Millisecond
	s, err := New(cfg, &recorder{}, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Targets(); len(got) != 0 {
		t.Fatalf("targets before Start: %+v", got)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := s.Targets()
		if len(got) == 2 && got[0].Health != "unknown" && got[1].Health != "unknown" {
			byURL := map[string]Target{got[0].URL: got[0], got[1].URL: got[1]}
			ok := byURL[up.URL+"/debug/pprof/goroutine"]
			bad := byURL[down.URL+"/debug/pprof/goroutine"]
			if ok.Health != "up" || ok.LastError != "" || ok.LastScrape == nil || ok.Job != "api" || ok.Type != "goroutine" ||
				ok.Labels["instance"] != host(up) || ok.Labels["service_name"] != "api" {
				t.Errorf("up target: %+v", ok)
			}
			if bad.Health != "down" || !strings.Contains(bad.LastError, "no profiles here") || bad.LastScrape == nil {
				t.Errorf("down target: %+v", bad)
			}
			if got[0].URL > got[1].URL {
				t.Errorf("not in URL order: %s, %s", got[0].URL, got[1].URL)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets after 30 s: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.ApplyConfig(parse(t, "scrape_configs: []")); err != nil {
		t.Fatal(err)
	}
	if got := s.Targets(); len(got) != 0 {
		t.Errorf("targets after the job was removed: %+v", got)
	}
}
