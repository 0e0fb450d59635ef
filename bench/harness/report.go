package harness

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// TargetCheck is one target of issue 6 and where the run stands against it.
type TargetCheck struct {
	Target string `json:"target"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	// Met is "yes", "no", or "n/a" when the run did not measure it (or at a size other
	// than the target's, for query latency).
	Met string `json:"met"`
}

func (r *Report) ingest(scenario, server string) *IngestResult {
	for i := range r.Ingest {
		if r.Ingest[i].Scenario == scenario && r.Ingest[i].Server == server {
			return &r.Ingest[i]
		}
	}
	return nil
}

func (r *Report) query(name, server string) *QueryResult {
	for i := range r.Queries {
		if r.Queries[i].Name == name && r.Queries[i].Server == server && r.Queries[i].Error == "" {
			return &r.Queries[i]
		}
	}
	return nil
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func checkTargets(r *Report) []TargetCheck {
	var out []TargetCheck
	add := func(target, want, got, met string) {
		out = append(out, TargetCheck{target, want, got, met})
	}
	if x := r.ingest("logs", "loupe"); x != nil {
		add("log ingest, OTLP/HTTP protobuf, batches of 1,000", "≥ 150,000 records/CPU-s",
			fmt.Sprintf("%.0f records/CPU-s", x.ItemsPerCPUSecond), yesNo(x.ItemsPerCPUSecond >= 150_000))
		add("disk, logs", "≤ 0.5× zstd -3 of OTLP protobuf",
			fmt.Sprintf("%.2f× (%.1f B/record vs %.1f)", x.ZstdRatio, x.BytesPerItem, float64(x.ZstdBytes)/float64(max(1, x.Load.Accepted))), yesNo(x.ZstdRatio <= 0.5))
	}
	if x := r.ingest("spans", "loupe"); x != nil {
		add("span ingest, OTLP/gRPC", "≥ 100,000 spans/CPU-s",
			fmt.Sprintf("%.0f spans/CPU-s", x.ItemsPerCPUSecond), yesNo(x.ItemsPerCPUSecond >= 100_000))
		add("disk, spans", "≤ 0.5× zstd -3 of OTLP protobuf",
			fmt.Sprintf("%.2f× (%.1f B/span vs %.1f)", x.ZstdRatio, x.BytesPerItem, float64(x.ZstdBytes)/float64(max(1, x.Load.Accepted))), yesNo(x.ZstdRatio <= 0.5))
	}
	for _, c := range []struct{ scenario, what string }{{scenarioLogClients, "log"}, {scenarioSpanClients, "span"}} {
		if x := r.ingest(c.scenario, "loupe"); x != nil {
			add(fmt.Sprintf("%s ingest, %d clients building requests of %d (%s)", c.what, r.Options.Clients, r.Options.ClientBatch, x.Protocol),
				"≥ 150,000 items/CPU-s", fmt.Sprintf("%.0f items/CPU-s", x.ItemsPerCPUSecond), yesNo(x.ItemsPerCPUSecond >= 150_000))
		}
	}
	if x := r.ingest(scenarioErrors, "loupe"); x != nil {
		add(fmt.Sprintf("error events, Sentry envelopes (Python, 15 frames, 20 breadcrumbs) from %d clients", r.Options.ErrorClients),
			"≥ 10,000 events/CPU-s", fmt.Sprintf("%.0f events/CPU-s", x.ItemsPerCPUSecond), yesNo(x.ItemsPerCPUSecond >= 10_000))
	}
	if a, w := r.ingest(scenarioLogsAlone, "loupe"), r.ingest(scenarioLogsWithErrors, "loupe"); a != nil && w != nil && w.SideErrorCPUSeconds > 0 {
		ratio := w.ItemsPerCPUSecond / a.ItemsPerCPUSecond
		add(fmt.Sprintf("log ingest with %.0f error events/s beside it", r.Options.ErrorRate), "≥ 0.9× log records/CPU-s alone",
			fmt.Sprintf("%.0f vs %.0f records/CPU-s (%.2f×), %.0f vs %.0f records/s, p99 %.0f vs %.0f ms",
				w.ItemsPerCPUSecond, a.ItemsPerCPUSecond, ratio, w.ItemsPerSecond, a.ItemsPerSecond, w.Load.Latency.P99, a.Load.Latency.P99),
			yesNo(ratio >= 0.9))
	}
	if x := r.ingest(scenarioProfiles, "loupe"); x != nil && r.Profiles != nil {
		add(fmt.Sprintf("profile ingest, 10 s pprof pushes (cpu, heap, goroutine) of %d services from %d clients", r.Options.ProfileServices, r.Options.ProfileClients),
			"report pushes/CPU-s", fmt.Sprintf("%.0f pushes/CPU-s", x.ItemsPerCPUSecond), "n/a")
		add(fmt.Sprintf("disk, profiles of %d services", r.Options.ProfileServices), "≤ 0.3× the gzipped pprof",
			fmt.Sprintf("%.2f× (%.0f B/push vs %.0f); %.2f× less an empty data dir (%d B)", r.Profiles.DiskToGz, x.BytesPerItem,
				float64(r.Profiles.GzBytes)/float64(max(1, x.Load.Accepted)), r.Profiles.DiskToGzNet, r.Profiles.EmptyDiskBytes), yesNo(r.Profiles.DiskToGz <= 0.3))
	}
	if x := r.ingest(scenarioProfiles24h, "loupe"); x != nil && r.Profiles != nil {
		add(fmt.Sprintf("disk, %d CPU profiles of one service", x.Load.Accepted), "≤ 0.3× the gzipped pprof",
			fmt.Sprintf("%.2f× (%.0f B/push vs %.0f); %.2f× less an empty data dir", r.Profiles.DiskToGz24h, x.BytesPerItem,
				float64(r.Profiles.GzBytes24h)/float64(max(1, x.Load.Accepted)), r.Profiles.DiskToGz24hNet), yesNo(r.Profiles.DiskToGz24h <= 0.3))
	}
	if q := r.query(profileFlameQuery, "loupe"); q != nil {
		met := yesNo(q.P50ms < 500)
		if r.Options.ProfileBackfill < 8640 {
			met = fmt.Sprintf("n/a (%s at %d profiles; the target is at 8,640)", met, r.Options.ProfileBackfill)
		}
		got := fmt.Sprintf("p50 %.1f ms", q.P50ms)
		if r.Profiles != nil && r.Profiles.FlameServerCPUms > 0 {
			got += fmt.Sprintf(" (server CPU p50 %.1f ms)", r.Profiles.FlameServerCPUms)
		}
		add("query: merged flame graph, 24 h of one service's 10 s CPU profiles", "p50 < 500 ms", got, met)
	}
	if x := r.ingest("samples", "loupe"); x != nil {
		p := r.ingest("samples", "prometheus")
		if p != nil {
			add("sample ingest, remote write", "≥ Prometheus in the same run",
				fmt.Sprintf("%.0f vs %.0f samples/CPU-s (%.2f×)", x.ItemsPerCPUSecond, p.ItemsPerCPUSecond, x.ItemsPerCPUSecond/p.ItemsPerCPUSecond),
				yesNo(x.ItemsPerCPUSecond >= p.ItemsPerCPUSecond))
		}
		add("sample ingest, moonshot", "1,000,000 samples/CPU-s", fmt.Sprintf("%.0f samples/CPU-s", x.ItemsPerCPUSecond), yesNo(x.ItemsPerCPUSecond >= 1_000_000))
		if x.BlockSamples > 0 {
			got := fmt.Sprintf("%.2f B/sample in compacted blocks", x.BlockBytesPerSample)
			if p != nil && p.BlockSamples > 0 {
				got += fmt.Sprintf(" (Prometheus %.2f)", p.BlockBytesPerSample)
			}
			add("disk, samples", "≤ 1.5 B/sample once compacted", got, yesNo(x.BlockBytesPerSample <= 1.5))
		} else {
			add("disk, samples", "≤ 1.5 B/sample once compacted", "no block compacted in this run", "n/a")
		}
	}
	full := r.Dataset != nil && r.Dataset.LogRecords >= 10_000_000 && r.Dataset.Spans >= 10_000_000
	size := ""
	if r.Dataset != nil && !full {
		size = fmt.Sprintf(" at %d logs / %d spans (target is at 10M)", r.Dataset.LogRecords, r.Dataset.Spans)
	}
	qt := []struct {
		name string
		ms   float64
	}{
		{"needle text search", 50}, {"rare token, a user id (q=u-054321)", 50},
		{"frequent word, limit 100 (q=completed)", 50}, {"attribute filter (user.id, rare)", 50},
		{"severity counts over time", 300}, {"trace by id", 20},
		{"trace search (service, min_duration)", 500}, {"PromQL rate + sum by, 1h range", 500},
	}
	for _, q := range qt {
		if x := r.query(q.name, "loupe"); x != nil {
			met := yesNo(x.P50ms < q.ms)
			if !full {
				met = "n/a (" + met + " at this size)"
			}
			add("query: "+q.name, fmt.Sprintf("p50 < %.0f ms", q.ms), fmt.Sprintf("p50 %.1f ms%s", x.P50ms, size), met)
		}
	}
	if x, p := r.query("PromQL rate + sum by, 1h range", "loupe"), r.query("PromQL rate + sum by, 1h range", "prometheus"); x != nil && p != nil {
		add("PromQL side by side (same series, same run)", "Loupe ≤ Prometheus",
			fmt.Sprintf("p50 %.1f vs %.1f ms (%.2f×)", x.P50ms, p.P50ms, x.P50ms/p.P50ms), yesNo(x.P50ms <= p.P50ms))
	}
	if f := r.Foot; f != nil {
		add("footprint: idle RSS", "≤ 100 MiB", fmt.Sprintf("%.1f MiB", mib(f.IdleRSSBytes)), yesNo(mib(f.IdleRSSBytes) <= 100))
		met := yesNo(mib(f.SustainedRSSPeak) <= 1024)
		if f.SustainedAchieved < 0.95*f.SustainedRate {
			met = "n/a (" + met + ", rate not reached)"
		}
		add("footprint: RSS while ingesting 50k logs/s", "≤ 1 GiB",
			fmt.Sprintf("%.1f MiB at %.0f logs/s", mib(f.SustainedRSSPeak), f.SustainedAchieved), met)
		add("footprint: ready on an empty data dir", "< 1 s", fmt.Sprintf("%.0f ms", f.StartupEmptyMs), yesNo(f.StartupEmptyMs < 1000))
	}
	return out
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// WriteTable writes the report as readable tables.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Loupe benchmark, %s, %s, %d CPUs, load average %s before and %s after, took %s\n\n",
		r.Started.Format("2006-01-02 15:04 UTC"), r.Machine.Loupe, r.Machine.CPUs, r.Machine.LoadAvgPre, r.Machine.LoadAvgPost, r.Duration)
	if len(r.Ingest) > 0 {
		fmt.Fprintln(tw, "INGEST\tserver\tprotocol\titems\taccepted\trejected\titems/CPU-s\titems/s\tCPU s (ack/settled)\tp50/p99 ms\tRSS peak/steady MiB\tdisk B/item\tvs zstd-3\tblock B/sample\tloadavg")
		for _, x := range r.Ingest {
			zr, bb := "", ""
			if x.ZstdRatio > 0 {
				zr = fmt.Sprintf("%.2f×", x.ZstdRatio)
			}
			if x.BlockSamples > 0 {
				bb = fmt.Sprintf("%.2f", x.BlockBytesPerSample)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.0f\t%.0f\t%.1f/%.1f\t%.1f/%.1f\t%.0f/%.0f\t%.1f\t%s\t%s\t%s\n",
				x.Scenario, x.Server, x.Protocol, x.Items, x.Load.Accepted, x.Load.Rejected, x.ItemsPerCPUSecond, x.ItemsPerSecond,
				x.CPUSeconds, x.CPUSecondsSettled, x.Load.Latency.P50, x.Load.Latency.P99, mib(x.RSSPeakBytes), mib(x.RSSSteadyBytes),
				x.BytesPerItem, zr, bb, x.LoadAvg)
		}
		fmt.Fprintln(tw)
		for _, x := range r.Ingest {
			writeProfileSummary(tw, x)
		}
	}
	if len(r.Queries) > 0 {
		if d := r.Dataset; d != nil {
			fmt.Fprintf(tw, "QUERIES on %d log records, %d spans, %d series over 1h (%.0f MiB on disk), %d runs each\n",
				d.LogRecords, d.Spans, d.Series, mib(d.DiskBytes), r.Options.QueryRuns)
		}
		fmt.Fprintln(tw, "query\tserver\tp50 ms\tp95 ms\tresults\terror")
		for _, q := range r.Queries {
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%d\t%s\n", q.Name, q.Server, q.P50ms, q.P95ms, q.Results, q.Error)
		}
		fmt.Fprintln(tw)
	}
	if f := r.Foot; f != nil {
		loaded := "not measured (no query scenario)"
		if f.StartupLoadedMs > 0 {
			loaded = fmt.Sprintf("%.0f ms", f.StartupLoadedMs)
		}
		fmt.Fprintf(tw, "FOOTPRINT\tidle RSS %.1f MiB\tready empty %.0f ms\tready loaded %s\t%.0f logs/s sustained: RSS max %.1f MiB, %.2f cores\n\n",
			mib(f.IdleRSSBytes), f.StartupEmptyMs, loaded, f.SustainedAchieved, mib(f.SustainedRSSPeak), f.SustainedCPUPerSec)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(tw, "TARGET\twant\tgot\tmet")
		for _, t := range r.Targets {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Target, t.Want, t.Got, t.Met)
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(tw, "\nERRORS\n%s\n", strings.Join(r.Errors, "\n"))
	}
	return tw.Flush()
}

// writeProfileSummary prints where a scenario's profiles are and the functions with the
// most CPU time, from the saved `go tool pprof -top`.
func writeProfileSummary(w io.Writer, x IngestResult) {
	p := x.Profiles
	if p == nil || (p.CPU == "" && p.Error == "") {
		return
	}
	fmt.Fprintf(w, "PROFILE %s into %s: %s, %s\n", x.Scenario, x.Server, p.CPU, p.Heap)
	if p.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", p.Error)
	}
	if b, err := os.ReadFile(p.CPUTop); err == nil {
		for _, line := range topLines(string(b), 12) {
			fmt.Fprintln(w, "  "+line)
		}
	}
	fmt.Fprintln(w)
}

// topLines returns the header and the first n rows of the first table in pprof -top output.
func topLines(text string, n int) []string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.Contains(l, "flat%") {
			end := min(len(lines), i+1+n)
			return lines[i:end]
		}
	}
	return nil
}
