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
	"strings"
	"time"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// DatasetInfo describes the loaded data the queries ran on.
type DatasetInfo struct {
	LogRecords int     `json:"log_records"`
	Spans      int     `json:"spans"`
	Series     int     `json:"series"`
	Samples    int     `json:"samples"`
	LoadSecs   float64 `json:"load_seconds"`
	DiskBytes  int64   `json:"disk_bytes"`
	Rejected   int     `json:"rejected"`
	// RequestID is the request.id of the dataset's first log record whose body names it
	// (16 hex digits), for a text search the body index cannot narrow down: hex ids are
	// made of trigrams every block has.
	RequestID string `json:"request_id"`
}

// QueryResult is the latency of one query repeated on the loaded dataset.
type QueryResult struct {
	Name    string  `json:"name"`
	Server  string  `json:"server"`
	Path    string  `json:"path"`
	Runs    int     `json:"runs"`
	P50ms   float64 `json:"p50_ms"`
	P95ms   float64 `json:"p95_ms"`
	Results int     `json:"results"` // items in the last answer (records, traces, series, groups)
	Error   string  `json:"error,omitempty"`
}

// Footprint is memory and startup time.
type Footprint struct {
	IdleRSSBytes       int64          `json:"idle_rss_bytes"`
	StartupEmptyMs     float64        `json:"startup_empty_ms"`
	StartupLoadedMs    float64        `json:"startup_loaded_ms"`
	SustainedRate      float64        `json:"sustained_target_logs_per_second"`
	SustainedAchieved  float64        `json:"sustained_achieved_logs_per_second"`
	SustainedRSSPeak   int64          `json:"sustained_rss_max_bytes"`
	SustainedCPUPerSec float64        `json:"sustained_server_cpu_cores"`
	SustainedLoad      loadgen.Result `json:"sustained_load"`
}

func (h *Harness) queryAndFootprint(ctx context.Context, rep *Report) error {
	o := h.opts
	if h.wants(ScenarioFootprint) {
		f, err := h.footprint(ctx)
		if err != nil {
			return err
		}
		rep.Foot = f
	}
	if !h.wants(ScenarioQuery) {
		return nil
	}
	dir := filepath.Join(o.WorkDir, "query")
	srv, err := StartLoupe(ctx, o.LoupeBin, dir)
	if err != nil {
		return err
	}
	defer srv.Stop(2 * time.Minute)
	ds, traceIDs, err := h.loadDataset(ctx, srv)
	if err != nil {
		return err
	}
	rep.Dataset = ds
	end := time.Now().Add(time.Minute)
	rep.Queries = append(rep.Queries, h.runQueries(ctx, srv, loupeQueries(traceIDs, ds.RequestID, end))...)
	if err := srv.Stop(2 * time.Minute); err != nil {
		return err
	}
	if ds.DiskBytes, err = DirSize(dir); err != nil {
		return err
	}
	// Startup on the loaded data directory.
	again, err := StartLoupe(ctx, o.LoupeBin, dir)
	if err != nil {
		return err
	}
	if rep.Foot != nil {
		rep.Foot.StartupLoadedMs = ms(again.Startup)
	}
	if err := again.Stop(2 * time.Minute); err != nil {
		return err
	}
	// The same PromQL against Prometheus holding the same series.
	if h.wants(ScenarioPeer) && o.PrometheusBin != "" {
		prom, err := StartPrometheus(ctx, o.PrometheusBin, filepath.Join(o.WorkDir, "prometheus-query"))
		if err != nil {
			return err
		}
		defer prom.Stop(time.Minute)
		if err := h.loadMetrics(ctx, prom.HTTP); err != nil {
			return err
		}
		rep.Queries = append(rep.Queries, h.runQueries(ctx, prom, promQueries(end))...)
	}
	return nil
}

// firstRequestID returns the request.id of a record of the first batch generated with lo
// whose body contains it, from a twin generator (the dataset's own is not disturbed).
func firstRequestID(lo loadgen.LogOptions) (string, error) {
	twin, err := loadgen.NewLogGen(lo)
	if err != nil {
		return "", err
	}
	// The twin must make the same calls as the dataset's generator to draw the same
	// records: one batch.
	rls := twin.Logs(lo.BatchSize).ResourceLogs()
	for i := range rls.Len() {
		lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
		for j := range lrs.Len() {
			v, _ := lrs.At(j).Attributes().Get("request.id")
			if id := v.Str(); id != loadgen.Needle && strings.Contains(lrs.At(j).Body().Str(), id) {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("no request id in the bodies of the first batch")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadDataset sends the query dataset (generated on the fly, not timed for CPU).
func (h *Harness) loadDataset(ctx context.Context, srv *Server) (*DatasetInfo, []string, error) {
	o := h.opts
	began := time.Now()
	ds := &DatasetInfo{}
	run := loadgen.RunOptions{Concurrency: o.Concurrency, MaxRetries: 100}
	h.logf("loading query dataset: %d logs, %d spans, %d series over 1h", o.QueryLogs, o.QuerySpans, o.QuerySeries)

	lo := loadgen.DefaultLogOptions()
	lo.Seed, lo.BatchSize, lo.Start = o.Seed, o.LogBatch, time.Now().Add(-time.Hour)
	lo.Interval = max(time.Nanosecond, time.Hour/time.Duration(max(1, o.QueryLogs)))
	lo.NeedleEvery = max(1, min(o.QueryLogs, 1_000_000))
	lg, err := loadgen.NewLogGen(lo)
	if err != nil {
		return nil, nil, err
	}
	if ds.RequestID, err = firstRequestID(lo); err != nil {
		return nil, nil, err
	}
	ls, err := loadgen.NewSender(loadgen.OTLPHTTP, loadgen.Logs, srv.OTLPHTTP, o.Concurrency)
	if err != nil {
		return nil, nil, err
	}
	defer ls.Close()
	r, err := loadgen.Run(ctx, ls, loadgen.LogSource(lg, o.QueryLogs), run)
	if err != nil {
		return nil, nil, fmt.Errorf("load logs: %w", err)
	}
	ds.LogRecords, ds.Rejected = r.Accepted, r.Rejected

	to := loadgen.DefaultTraceOptions()
	to.Seed, to.BatchSpans, to.Start = o.Seed, o.SpanBatch, time.Now().Add(-time.Hour)
	to.Interval = max(time.Microsecond, time.Hour/time.Duration(max(1, o.QuerySpans/17)))
	tg, err := loadgen.NewTraceGen(to)
	if err != nil {
		return nil, nil, err
	}
	ts, err := loadgen.NewSender(loadgen.OTLPGRPC, loadgen.Traces, srv.OTLPGRPC, o.Concurrency)
	if err != nil {
		return nil, nil, err
	}
	defer ts.Close()
	r, err = loadgen.Run(ctx, ts, loadgen.TraceSource(tg, o.QuerySpans), run)
	if err != nil {
		return nil, nil, fmt.Errorf("load spans: %w", err)
	}
	ds.Spans, ds.Rejected = r.Accepted, ds.Rejected+r.Rejected
	var ids []string
	for _, id := range tg.TraceIDs() {
		ids = append(ids, id.String())
	}

	if err := h.loadMetrics(ctx, srv.HTTP); err != nil {
		return nil, nil, err
	}
	ds.Series = o.QuerySeries
	ds.Samples = o.QuerySeries * 240
	ds.LoadSecs = time.Since(began).Seconds()
	h.logf("  loaded in %.0fs", ds.LoadSecs)
	return ds, ids, nil
}

// loadMetrics sends QuerySeries series over the last hour by remote write.
func (h *Harness) loadMetrics(ctx context.Context, base string) error {
	o := h.opts
	mo := loadgen.DefaultMetricOptions()
	mo.Seed, mo.Series, mo.Start, mo.Steps, mo.Shards = o.Seed, o.QuerySeries, time.Now().Add(-time.Hour), 240, o.Concurrency
	mg, err := loadgen.NewMetricGen(mo)
	if err != nil {
		return err
	}
	ms, err := loadgen.NewSender(loadgen.RemoteWrite, loadgen.Metrics, base, o.Concurrency)
	if err != nil {
		return err
	}
	defer ms.Close()
	r, err := loadgen.Run(ctx, ms, loadgen.SourceFunc(mg.NextRemoteWrite), loadgen.RunOptions{Concurrency: o.Concurrency, MaxRetries: 100})
	if err != nil {
		return fmt.Errorf("load samples: %w", err)
	}
	if r.Rejected > 0 {
		return fmt.Errorf("load samples: %d rejected: %v", r.Rejected, r.Errors)
	}
	return nil
}

type query struct {
	name string
	path func(run int) string
}

const promQL = `sum by (job) (rate(http_server_requests_total[5m]))`

func promRange(end time.Time) string {
	v := url.Values{"query": {promQL}, "start": {strconv.FormatInt(end.Add(-time.Hour).Unix(), 10)},
		"end": {strconv.FormatInt(end.Unix(), 10)}, "step": {"15"}}
	return "/api/v1/query_range?" + v.Encode()
}

func loupeQueries(traceIDs []string, requestID string, end time.Time) []query {
	rng := "&start=" + strconv.FormatInt(end.Add(-2*time.Hour).Unix(), 10) + "&end=" + strconv.FormatInt(end.Unix(), 10)
	fixed := func(p string) func(int) string { return func(int) string { return p } }
	qs := []query{
		{"needle text search", fixed("/api/loupe/v1/logs?q=" + loadgen.Needle + "&limit=100" + rng)},
		{"text search, a hex request id", fixed("/api/loupe/v1/logs?q=" + url.QueryEscape(requestID) + "&limit=100" + rng)},
		{"rare token, a user id (q=u-054321)", fixed("/api/loupe/v1/logs?q=u-054321&limit=100" + rng)},
		{"frequent word, limit 100 (q=completed)", fixed("/api/loupe/v1/logs?q=completed&limit=100" + rng)},
		{"attribute filter (user.id, rare)", fixed("/api/loupe/v1/logs?attr=user.id%3Du-054321&limit=100" + rng)},
		{"Loki API: | user_id=\"u-054321\"", fixed("/loki/api/v1/query_range?" + url.Values{
			"query": {`{service_name=~".+"} | user_id="u-054321"`}, "limit": {"100"},
			"start": {strconv.FormatInt(end.Add(-2*time.Hour).UnixNano(), 10)}, "end": {strconv.FormatInt(end.UnixNano(), 10)},
		}.Encode())},
		{"attribute filter (http.status_code=503)", fixed("/api/loupe/v1/logs?attr=http.status_code%3D503&limit=100" + rng)},
		{"severity counts over time", fixed("/api/loupe/v1/logs/counts?step=60s" + rng)},
		{"trace search (service, min_duration)", fixed("/api/loupe/v1/traces?service=checkout&min_duration=100ms&limit=20" + rng)},
		{"PromQL rate + sum by, 1h range", fixed(promRange(end))},
		{"RED overview", fixed("/api/loupe/v1/services/red?step=60s" + rng)},
	}
	if len(traceIDs) > 0 {
		qs = append(qs[:8], append([]query{{"trace by id", func(run int) string {
			return "/api/loupe/v1/traces/" + traceIDs[run%len(traceIDs)]
		}}}, qs[8:]...)...)
	}
	return qs
}

func promQueries(end time.Time) []query {
	return []query{{"PromQL rate + sum by, 1h range", func(int) string { return promRange(end) }}}
}

// runQueries runs each query QueryRuns times (after one warm-up) and records p50/p95.
func (h *Harness) runQueries(ctx context.Context, srv *Server, qs []query) []QueryResult {
	client := &http.Client{Timeout: time.Minute}
	var out []QueryResult
	for _, q := range qs {
		res := QueryResult{Name: q.name, Server: srv.Name, Path: q.path(0), Runs: h.opts.QueryRuns}
		var lat []time.Duration
		for run := -1; run < h.opts.QueryRuns; run++ {
			t0 := time.Now()
			n, err := get(ctx, client, srv.HTTP+q.path(max(run, 0)))
			d := time.Since(t0)
			if err != nil {
				res.Error = err.Error()
				break
			}
			res.Results = n
			if run >= 0 {
				lat = append(lat, d)
			}
		}
		p := loadgen.PercentilesOf(lat)
		res.P50ms, res.P95ms = p.P50, p.P95
		h.logf("query %-42s %-10s p50 %8.1f ms  p95 %8.1f ms  (%d results) %s", q.name, srv.Name, res.P50ms, res.P95ms, res.Results, res.Error)
		out = append(out, res)
	}
	return out
}

// get fetches url, requires 200 and a success envelope, and counts the answer's items.
func get(ctx context.Context, c *http.Client, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d: %.300s", resp.StatusCode, body)
	}
	var env struct {
		Status string `json:"status"`
		Data   struct {
			Records []json.RawMessage `json:"records"`
			Traces  []json.RawMessage `json:"traces"`
			Groups  []json.RawMessage `json:"groups"`
			Buckets []json.RawMessage `json:"buckets"`
			Spans   []json.RawMessage `json:"spans"`
			Result  []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return 0, fmt.Errorf("decode answer: %w", err)
	}
	if env.Status != "success" {
		return 0, fmt.Errorf("status %q: %.300s", env.Status, body)
	}
	d := env.Data
	return len(d.Records) + len(d.Traces) + len(d.Groups) + len(d.Buckets) + len(d.Spans) + len(d.Result), nil
}

// footprint measures startup and idle RSS on an empty data dir, then RSS while logs
// arrive at SustainedRate.
func (h *Harness) footprint(ctx context.Context) (*Footprint, error) {
	o := h.opts
	srv, err := StartLoupe(ctx, o.LoupeBin, filepath.Join(o.WorkDir, "footprint"))
	if err != nil {
		return nil, err
	}
	defer srv.Stop(time.Minute)
	f := &Footprint{StartupEmptyMs: ms(srv.Startup), SustainedRate: o.SustainedRate}
	if _, err := settle(srv.Pid, 10*time.Second); err != nil {
		return nil, err
	}
	if f.IdleRSSBytes, _, err = Memory(srv.Pid); err != nil {
		return nil, err
	}
	h.logf("footprint: ready in %.0f ms, idle RSS %.1f MiB", f.StartupEmptyMs, float64(f.IdleRSSBytes)/(1<<20))

	n := int(o.SustainedRate * o.SustainedFor.Seconds())
	c, err := h.logCorpus(n, time.Now().Add(-time.Minute), time.Minute)
	if err != nil {
		return nil, err
	}
	sender, err := loadgen.NewSender(loadgen.OTLPHTTP, loadgen.Logs, srv.OTLPHTTP, o.Concurrency)
	if err != nil {
		return nil, err
	}
	defer sender.Close()
	stop := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var top int64
		for {
			if rss, _, err := Memory(srv.Pid); err == nil {
				top = max(top, rss)
			}
			select {
			case <-stop:
				peak <- top
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	// Acknowledgements wait for the commit, so reaching the rate takes more requests in
	// flight than the ingest scenarios use.
	cpu0, _ := CPUTime(srv.Pid)
	r, err := loadgen.Run(ctx, sender, loadgen.SliceSource(c.Batches), loadgen.RunOptions{Concurrency: 4 * o.Concurrency, Rate: o.SustainedRate, MaxRetries: 50})
	cpu1, _ := CPUTime(srv.Pid)
	close(stop)
	f.SustainedRSSPeak = <-peak
	if err != nil {
		return nil, fmt.Errorf("sustained logs: %w", err)
	}
	f.SustainedLoad = r
	f.SustainedAchieved = r.ItemsPerS
	f.SustainedCPUPerSec = (cpu1 - cpu0).Seconds() / r.Elapsed.Seconds()
	h.logf("footprint: %.0f logs/s sustained (target %.0f), RSS max %.1f MiB, %.2f cores",
		f.SustainedAchieved, o.SustainedRate, float64(f.SustainedRSSPeak)/(1<<20), f.SustainedCPUPerSec)
	return f, nil
}
