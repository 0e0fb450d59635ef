package main

import (
	"fmt"
	"strings"
)

// ruleFile returns a Prometheus rule file of n alerting rules over the exposition's jobs,
// in groups of perGroup. Most rules select one service (job) and one route or queue, as
// per-service alerts do; one in clusterEvery (0: none) is cluster-wide (every job's series),
// the expensive kind that mixins have. The mix: error ratios from rate() of counters, histogram_quantile
// of the latency histogram, CPU from rate() summed over modes, gauges with max by, absent()
// and traffic drops, with `for:` of 0 to 5 minutes and templated annotations.
func ruleFile(n, perGroup, jobs, clusterEvery int) string {
	var sb strings.Builder
	sb.WriteString("groups:\n")
	for k := range n {
		if k%perGroup == 0 {
			fmt.Fprintf(&sb, "  - name: bench-%03d\n    rules:\n", k/perGroup)
		}
		alert, expr, forDur := rule(k, jobs, clusterEvery)
		fmt.Fprintf(&sb, "      - alert: %s\n        expr: %s\n        for: %s\n", alert, quote(expr), forDur)
		sb.WriteString("        labels: {severity: warning, team: bench}\n")
		sb.WriteString("        annotations:\n")
		fmt.Fprintf(&sb, "          summary: %s\n", quote("{{ $labels.job }} {{ $labels.pod }}: value {{ $value | humanize }}"))
	}
	return sb.String()
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// rule is the k-th rule: its name, expression and `for`.
func rule(k, jobs, clusterEvery int) (alert, expr, forDur string) {
	v := k / 50 // variant: thresholds, routes and queues change with it
	job := fmt.Sprintf("svc-%d", k%jobs)
	route := routes[(k/jobs)%len(routes)]
	if clusterEvery > 0 && k%clusterEvery == clusterEvery-1 { // cluster-wide
		if v%2 == 0 {
			return fmt.Sprintf("ClusterErrorRatio%d", k),
				fmt.Sprintf(`sum by (job) (rate(http_requests_total{status="500"}[5m])) / sum by (job) (rate(http_requests_total[5m])) > %g`, 0.05+0.01*float64(v%5)),
				"5m"
		}
		return fmt.Sprintf("ClusterLatency%d", k),
			fmt.Sprintf(`histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket[5m]))) > %g`, 1.5+0.5*float64(v%3)),
			"10m"
	}
	switch (k - k/50) % 7 {
	case 0:
		return fmt.Sprintf("HighErrorRatio%d", k),
			fmt.Sprintf(`sum by (job, pod) (rate(http_requests_total{job=%q,route=%q,status="500"}[5m])) / sum by (job, pod) (rate(http_requests_total{job=%q,route=%q}[5m])) > %g`,
				job, route, job, route, 0.05+0.025*float64(v%4)),
			"1m"
	case 1:
		q := []float64{0.9, 0.99}[v%2]
		return fmt.Sprintf("HighLatency%d", k),
			fmt.Sprintf(`histogram_quantile(%g, sum by (job, pod, le) (rate(http_request_duration_seconds_bucket{job=%q,route=%q}[5m]))) > %g`,
				q, job, route, 0.5+0.25*float64(v%3)),
			"2m"
	case 2:
		return fmt.Sprintf("HighCPU%d", k),
			fmt.Sprintf(`sum by (job, pod) (rate(cpu_seconds_total{job=%q,mode!="idle"}[5m])) > %g`, job, 0.8+0.1*float64(v%3)),
			"5m"
	case 3:
		return fmt.Sprintf("HighMemory%d", k),
			fmt.Sprintf(`max by (job, pod) (process_resident_memory_bytes{job=%q}) > %g`, job, 1.5e9+1e8*float64(v%4)),
			"1m"
	case 4:
		return fmt.Sprintf("QueueBacklog%d", k),
			fmt.Sprintf(`max by (job, pod, queue) (queue_depth{job=%q,queue="q%d"}) > %d`, job, v%queues, 600+100*(v%3)),
			"30s"
	case 5:
		if v%2 == 0 { // a route that was removed: fires
			return fmt.Sprintf("RouteMissing%d", k),
				fmt.Sprintf(`absent(http_requests_total{job=%q,route="/api/legacy-%d"})`, job, v), "0s"
		}
		return fmt.Sprintf("TargetMissing%d", k), fmt.Sprintf(`absent(up{job=%q})`, job), "1m"
	default:
		return fmt.Sprintf("TrafficDrop%d", k),
			fmt.Sprintf(`sum by (job, route) (rate(http_requests_total{job=%q}[5m])) < %d`, job, 1+v%3),
			"5m"
	}
}
