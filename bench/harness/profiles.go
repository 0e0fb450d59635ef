package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// The profiles scenario measures issue 14's targets on Pyroscope's push API (POST
// /ingest, multipart as pyroscope-go sends it):
//
//   - profiles: ProfileServices services each pushing a CPU, a heap (alloc and inuse) and a
//     goroutine profile of 10 s, ProfileRounds times, from ProfileClients clients, into a
//     fresh Loupe: pushes per server CPU-second, and the data directory after a clean
//     shutdown per push against the gzipped pprof it carried (the pprofs come from
//     loadgen.ProfileGen: the real CPU profile resampled, this process's heap and
//     goroutine profiles rescaled, each with a long tail of rare stacks);
//   - profiles-24h: one service's CPU profiles over the past 24 hours (ProfileBackfill
//     pushes 10 s apart, from/until in the past: the push API takes any time, and
//     retention.profiles, 7 days by default, keeps a day) into another fresh Loupe, then
//     the merged flame graph of that day, QueryRuns times after a warm-up.
const (
	scenarioProfiles    = "profiles"
	scenarioProfiles24h = "profiles-24h"
	// profileFlameQuery names the flame graph query in Report.Queries.
	profileFlameQuery = "profiles: flame graph, 24h of one service's CPU"
)

// ProfilesResult is what the profiles scenario adds beside its two ingest results.
type ProfilesResult struct {
	// GzBytes is the size of the gzipped pprof files pushed in each run; DiskToGz the
	// data directory after shutdown divided by it.
	// EmptyDiskBytes is a fresh Loupe's data directory after a clean shutdown with
	// nothing stored (DuckDB's and the TSDB's files); the Net ratios leave it out, as a
	// server that stores other signals has it anyway.
	EmptyDiskBytes int64   `json:"empty_disk_bytes"`
	DiskToGzNet    float64 `json:"disk_to_gz_ratio_net"`
	DiskToGz24hNet float64 `json:"disk_to_gz_ratio_24h_net"`
	GzBytes        int64   `json:"gz_bytes"`
	DiskToGz       float64 `json:"disk_to_gz_ratio"`
	GzBytes24h     int64   `json:"gz_bytes_24h"`
	DiskToGz24h    float64 `json:"disk_to_gz_ratio_24h"`
	// FlameServerCPUms is the server's CPU time (user + system, every thread) per flame
	// graph query, the median over the timed runs: on a shared machine it varies less
	// with the load than the latency does.
	FlameServerCPUms float64 `json:"flame_server_cpu_ms_p50"`
	FlameTotal       int64   `json:"flame_total_ns"`
	FlameFunction    int     `json:"flame_top_functions"`
}

// profileCorpus generates the pushes of the profiles scenario, ending now.
func (h *Harness) profileCorpus(services, rounds int) (*Corpus, int64, error) {
	g, err := loadgen.NewProfileGen(h.opts.Seed + 3000)
	if err != nil {
		return nil, 0, err
	}
	c := &Corpus{Signal: loadgen.Profiles, Protocol: loadgen.PyroscopeIngest}
	now := time.Now().Truncate(10 * time.Second)
	for r := range rounds {
		end := now.Add(-time.Duration(rounds-1-r) * 10 * time.Second)
		for s := range services {
			for _, kind := range loadgen.ProfileKinds {
				b, err := g.Push(fmt.Sprintf("svc%03d", s), kind, end)
				if err != nil {
					return nil, 0, err
				}
				c.add(b)
			}
		}
	}
	return c, g.GzBytes, nil
}

// backfillCorpus generates n CPU pushes of one service, 10 s apart, the last ending now.
func (h *Harness) backfillCorpus(n int, now time.Time) (*Corpus, int64, error) {
	g, err := loadgen.NewProfileGen(h.opts.Seed + 4000)
	if err != nil {
		return nil, 0, err
	}
	c := &Corpus{Signal: loadgen.Profiles, Protocol: loadgen.PyroscopeIngest}
	for i := range n {
		b, err := g.Push("checkout", loadgen.ProfileCPU, now.Add(-time.Duration(n-1-i)*10*time.Second))
		if err != nil {
			return nil, 0, err
		}
		c.add(b)
	}
	return c, g.GzBytes, nil
}

// add appends one push to c.
func (c *Corpus) add(b loadgen.Batch) {
	c.Batches = append(c.Batches, b)
	c.Items++
	c.Bytes += int64(len(b.Body))
}

// runProfileScenarios runs both parts of the profiles scenario, each on a fresh Loupe.
func (h *Harness) runProfileScenarios(ctx context.Context, rep *Report, fail func(string, error)) {
	o := h.opts
	pr := &ProfilesResult{}
	rep.Profiles = pr
	if empty, err := h.emptyDisk(ctx); err != nil {
		fail("empty loupe", err)
	} else {
		pr.EmptyDiskBytes = empty
	}
	h.logf("generating %d services x %d profile kinds x %d rounds of 10 s pprof pushes", o.ProfileServices, len(loadgen.ProfileKinds), o.ProfileRounds)
	c, gz, err := h.profileCorpus(o.ProfileServices, o.ProfileRounds)
	if err != nil {
		fail("profile pushes", err)
		return
	}
	run := loadgen.RunOptions{Concurrency: o.ProfileClients, MaxRetries: 50}
	if r, err := h.ingestProfiles(ctx, scenarioProfiles, c, run, nil); err != nil {
		fail("ingest "+scenarioProfiles, err)
	} else {
		pr.GzBytes, pr.DiskToGz = gz, float64(r.DiskBytes)/float64(max(1, gz))
		pr.DiskToGzNet = float64(r.DiskBytes-pr.EmptyDiskBytes) / float64(max(1, gz))
		h.logf("  %.2fx the gzipped pprofs (%.0f B on disk per push vs %.0f), %.2fx without an empty server's files", pr.DiskToGz, r.BytesPerItem, float64(gz)/float64(max(1, c.Items)), pr.DiskToGzNet)
		rep.Ingest = append(rep.Ingest, r)
	}
	c = nil

	h.logf("generating %d CPU pushes of one service over the past %s", o.ProfileBackfill, time.Duration(o.ProfileBackfill)*10*time.Second)
	end := time.Now().Truncate(10 * time.Second)
	c, gz, err = h.backfillCorpus(o.ProfileBackfill, end)
	if err != nil {
		fail("backfill pushes", err)
		return
	}
	start := end.Add(-time.Duration(o.ProfileBackfill) * 10 * time.Second)
	flame := func(srv *Server) {
		q, err := h.flameGraph(ctx, srv, start, end, pr)
		if err != nil {
			fail(profileFlameQuery, err)
		}
		rep.Queries = append(rep.Queries, q)
	}
	if r, err := h.ingestProfiles(ctx, scenarioProfiles24h, c, run, flame); err != nil {
		fail("ingest "+scenarioProfiles24h, err)
	} else {
		pr.GzBytes24h, pr.DiskToGz24h = gz, float64(r.DiskBytes)/float64(max(1, gz))
		pr.DiskToGz24hNet = float64(r.DiskBytes-pr.EmptyDiskBytes) / float64(max(1, gz))
		h.logf("  %.2fx the gzipped pprofs (%.0f B on disk per push vs %.0f), %.2fx without an empty server's files", pr.DiskToGz24h, r.BytesPerItem, float64(gz)/float64(max(1, c.Items)), pr.DiskToGz24hNet)
		rep.Ingest = append(rep.Ingest, r)
	}
}

// emptyDisk starts a fresh Loupe, stops it and returns the size of its data directory.
func (h *Harness) emptyDisk(ctx context.Context) (int64, error) {
	dir := filepath.Join(h.opts.WorkDir, "profiles-empty")
	srv, err := StartLoupe(ctx, h.opts.LoupeBin, dir)
	if err != nil {
		return 0, err
	}
	if err := srv.Stop(2 * time.Minute); err != nil {
		return 0, err
	}
	return DirSize(dir)
}

// ingestProfiles is ingestLoupe for profile pushes; before, when not nil, runs on the
// server after it was measured and before it stops.
func (h *Harness) ingestProfiles(ctx context.Context, scenario string, c *Corpus, run loadgen.RunOptions, before func(*Server)) (IngestResult, error) {
	dir := filepath.Join(h.opts.WorkDir, "ingest-"+scenario)
	srv, err := StartLoupe(ctx, h.opts.LoupeBin, dir)
	if err != nil {
		return IngestResult{}, err
	}
	defer srv.Stop(time.Minute)
	sender, err := loadgen.NewSender(c.Protocol, c.Signal, srv.HTTP, run.Concurrency)
	if err != nil {
		return IngestResult{}, err
	}
	defer sender.Close()
	t := IngestTarget{Server: srv, Sender: sender, DiskDir: dir, Stop: func() error {
		if before != nil {
			before(srv)
		}
		return srv.Stop(2 * time.Minute)
	}}
	if t.Profile, err = h.startProfiles(scenario, srv.HTTP); err != nil {
		return IngestResult{}, err
	}
	h.logf("ingest %s into loupe (pid %d): %d pprof pushes from %d clients", scenario, srv.Pid, c.Items, run.Concurrency)
	res, err := runIngest(ctx, scenario, t, c, run)
	res.StartupMs = ms(srv.Startup)
	if err == nil {
		h.logf("  %.1f pushes/CPU-s, %.1f pushes/s, %.0f B/push on disk", res.ItemsPerCPUSecond, res.ItemsPerSecond, res.BytesPerItem)
	}
	return res, err
}

// flameGraph times the merged flame graph of the backfilled service over [start, end].
func (h *Harness) flameGraph(ctx context.Context, srv *Server, start, end time.Time, pr *ProfilesResult) (QueryResult, error) {
	path := "/api/loupe/v1/profiles/flamegraph?" + url.Values{
		"type":  {"process_cpu:cpu:nanoseconds:cpu:nanoseconds"},
		"query": {`{service_name="checkout"}`},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
	}.Encode()
	res := QueryResult{Name: profileFlameQuery, Server: srv.Name, Path: path, Runs: h.opts.QueryRuns}
	client := &http.Client{Timeout: 2 * time.Minute}
	var lat, cpu []time.Duration
	for run := -1; run < h.opts.QueryRuns; run++ {
		cpu0, cpuErr := CPUTime(srv.Pid)
		t0 := time.Now()
		total, top, err := getFlame(ctx, client, srv.HTTP+path)
		d := time.Since(t0)
		if cpu1, err := CPUTime(srv.Pid); err == nil && cpuErr == nil && run >= 0 {
			cpu = append(cpu, cpu1-cpu0)
		}
		if err != nil {
			res.Error = err.Error()
			return res, err
		}
		if total <= 0 {
			res.Error = "empty flame graph"
			return res, fmt.Errorf("flame graph of %s: total %d", path, total)
		}
		pr.FlameTotal, pr.FlameFunction, res.Results = total, top, top
		if run >= 0 {
			lat = append(lat, d)
		}
	}
	p := loadgen.PercentilesOf(lat)
	res.P50ms, res.P95ms = p.P50, p.P95
	if len(cpu) > 0 {
		pr.FlameServerCPUms = loadgen.PercentilesOf(cpu).P50
	}
	h.logf("query %-42s %-10s p50 %8.1f ms  p95 %8.1f ms  server CPU p50 %.1f ms  (%d top functions, total %.1f CPU-s)", res.Name, srv.Name, res.P50ms, res.P95ms, pr.FlameServerCPUms, pr.FlameFunction, float64(pr.FlameTotal)/1e9)
	return res, nil
}

// getFlame fetches a flame graph and returns its total and how many top functions it has.
func getFlame(ctx context.Context, c *http.Client, u string) (int64, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("status %d: %.300s", resp.StatusCode, body)
	}
	var env struct {
		Status string `json:"status"`
		Data   struct {
			Total int64             `json:"total"`
			Top   []json.RawMessage `json:"top"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return 0, 0, fmt.Errorf("decode flame graph: %w", err)
	}
	if env.Status != "success" {
		return 0, 0, fmt.Errorf("status %q: %.300s", env.Status, body)
	}
	return env.Data.Total, len(env.Data.Top), nil
}
