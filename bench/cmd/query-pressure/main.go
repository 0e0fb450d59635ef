// Command query-pressure measures what concurrent heavy queries cost a Loupe server that
// is ingesting logs (issue 18 item 4): the server's peak memory, and its ingest rate with
// and without the queries, in one run so that both phases share the machine's load.
//
//	go run ./bench/cmd/query-pressure -loupe bin/loupe
//
// It starts Loupe on a temporary data directory, loads -preload log lines through Loki
// push, then runs two phases of -phase each: ingest alone (one client pushing batches of
// 1,000 lines, one request in flight), then the same ingest while -queries clients each
// run heavy LogQL and Loupe API queries over the preloaded lines, back to back.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loupe-dev/loupe/bench/harness"
)

func main() {
	var (
		bin     = flag.String("loupe", "bin/loupe", "the loupe binary")
		preload = flag.Int("preload", 1_000_000, "log lines loaded before the phases")
		phase   = flag.Duration("phase", 30*time.Second, "length of each phase")
		queries = flag.Int("queries", 20, "concurrent query clients in the second phase")
		config  = flag.String("config", "", "a Loupe configuration file (loupe serve --config)")
		profile = flag.String("profile", "", "save the server's CPU profile and goroutines of the second phase as PREFIX.cpu.pb.gz and PREFIX.goroutines.txt")
	)
	flag.Parse()
	var extra []string
	if *config != "" {
		extra = []string{"--config", *config}
	}
	if err := run(*bin, *preload, *phase, *queries, extra, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "query-pressure:", err)
		os.Exit(1)
	}
}

func run(bin string, preload int, phase time.Duration, queries int, extra []string, profile string) error {
	dir, err := os.MkdirTemp("", "query-pressure")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := harness.StartLoupe(context.Background(), bin, dir, extra...)
	if err != nil {
		return err
	}
	defer srv.Stop(30 * time.Second)

	start := time.Now().Add(-10 * time.Minute)
	for i := 0; i < preload; i += 1000 {
		ts := start.Add(time.Duration(i) * 500 * time.Microsecond)
		if err := push(srv.HTTP, "load", ts, 1000, i); err != nil {
			return fmt.Errorf("preload: %w", err)
		}
	}
	fmt.Printf("preloaded %d lines; load %s\n", preload, harness.LoadAvg())

	base, err := measure(srv, phase, 0, start)
	if err != nil {
		return err
	}
	fmt.Printf("ingest alone:        %s\n", base)
	if profile != "" {
		go saveProfiles(srv.HTTP, profile, phase)
	}
	loaded, err := measure(srv, phase, queries, start)
	if err != nil {
		return err
	}
	fmt.Printf("with %d query clients: %s\n", queries, loaded)
	fmt.Printf("ingest lines/s with queries / alone: %.2f; lines per server CPU-s: %.2f; load %s\n",
		loaded.linesPerSec()/base.linesPerSec(), loaded.linesPerCPU()/base.linesPerCPU(), harness.LoadAvg())
	return nil
}

// result is one phase's figures.
type result struct {
	lines      int64
	pushErrors int64
	elapsed    time.Duration
	cpu        time.Duration
	maxRSS     int64
	statuses   map[int]int64
}

func (r result) linesPerSec() float64 { return float64(r.lines) / r.elapsed.Seconds() }
func (r result) linesPerCPU() float64 { return float64(r.lines) / r.cpu.Seconds() }

func (r result) String() string {
	var codes []string
	for c, n := range r.statuses {
		codes = append(codes, fmt.Sprintf("%d×%d", n, c))
	}
	sort.Strings(codes)
	return fmt.Sprintf("%d lines in %.1f s (%.0f lines/s, %.0f per server CPU-s, CPU %.1f s), %d push errors, max RSS %.0f MiB, query answers %s",
		r.lines, r.elapsed.Seconds(), r.linesPerSec(), r.linesPerCPU(), r.cpu.Seconds(), r.pushErrors, float64(r.maxRSS)/(1<<20), strings.Join(codes, " "))
}

// measure pushes for d while n clients query the preloaded lines (from start).
func measure(srv *harness.Server, d time.Duration, n int, start time.Time) (result, error) {
	res := result{statuses: map[int]int64{}}
	cpu0, err := harness.CPUTime(srv.Pid)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		lines    atomic.Int64
		errs     atomic.Int64
		maxRSS   atomic.Int64
		began    = time.Now()
		pushSeq  = 0
		queryURL = queryURLs(srv.HTTP, start)
	)
	wg.Add(1)
	go func() { // the ingest client
		defer wg.Done()
		for ctx.Err() == nil {
			if err := push(srv.HTTP, "during", time.Now(), 1000, pushSeq); err != nil {
				errs.Add(1)
				continue
			}
			pushSeq += 1000
			lines.Add(1000)
		}
	}()
	wg.Add(1)
	go func() { // peak resident memory of this phase
		defer wg.Done()
		for ctx.Err() == nil {
			if rss, _, err := harness.Memory(srv.Pid); err == nil && rss > maxRSS.Load() {
				maxRSS.Store(rss)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; ctx.Err() == nil; i++ {
				code := get(ctx, queryURL[i%len(queryURL)])
				if code == 0 {
					continue // cut by the end of the phase
				}
				mu.Lock()
				res.statuses[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(began)
	cpu1, err := harness.CPUTime(srv.Pid)
	if err != nil {
		return res, err
	}
	res.cpu, res.lines, res.pushErrors, res.maxRSS = cpu1-cpu0, lines.Load(), errs.Load(), maxRSS.Load()
	return res, nil
}

// queryURLs are the heavy queries: a LogQL metric query with a regular expression and a
// parser over every preloaded line, a LogQL log query returning 5,000 lines, and a Loupe
// API full-text search.
func queryURLs(base string, start time.Time) []string {
	rng := func(v url.Values) url.Values {
		v.Set("start", fmt.Sprint(start.UnixNano()))
		v.Set("end", fmt.Sprint(time.Now().UnixNano()))
		return v
	}
	return []string{
		base + "/loki/api/v1/query_range?" + rng(url.Values{
			"query": {`sum by (user) (count_over_time({service_name="load"} |~ "(u1|u2|u3).*(1|3|5|7)+.*bytes" | logfmt [1m]))`},
			"step":  {"15"},
		}).Encode(),
		base + "/loki/api/v1/query_range?" + rng(url.Values{"query": {`{service_name="load"} |= "served" | logfmt | bytes > 1000`}, "limit": {"5000"}}).Encode(),
		base + "/api/loupe/v1/logs?" + url.Values{"q": {"request served"}, "limit": {"1000"}, "start": {start.Format(time.RFC3339)}}.Encode(),
	}
}

// saveProfiles saves a CPU profile of most of the phase, then the goroutines' stacks.
func saveProfiles(base, prefix string, phase time.Duration) {
	save := func(u, path string) {
		resp, err := http.Get(u)
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}
	sec := max(1, int(phase.Seconds())-5)
	save(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, sec), prefix+".cpu.pb.gz")
	save(base+"/debug/pprof/goroutine?debug=1", prefix+".goroutines.txt")
}

func get(ctx context.Context, u string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// push sends n logfmt lines of one stream at ts (1 µs apart) as one Loki JSON push.
func push(base, service string, ts time.Time, n, seq int) error {
	values := make([][2]string, n)
	for i := range values {
		j := seq + i
		values[i] = [2]string{fmt.Sprint(ts.UnixNano() + int64(i)*1000),
			fmt.Sprintf(`level=info user=u%d path=/api/items/%d msg="request served" bytes=%d`, j%97, j, j%5000)}
	}
	body, err := json.Marshal(map[string]any{"streams": []any{map[string]any{
		"stream": map[string]string{"service_name": service, "job": "pressure"}, "values": values}}})
	if err != nil {
		return err
	}
	resp, err := http.Post(base+"/loki/api/v1/push", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("push: %d %s", resp.StatusCode, b)
	}
	return nil
}
