package main

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The exposition is ~100 series per pod of a service, the shape of a typical instrumented
// HTTP service: request counters, a latency histogram, CPU counters and gauges. Every value
// is a function of the wall clock (counters grow at a fixed rate per series), so two
// servers scraping at different moments see the same rates and the same rules give the
// same results in both.
const seriesPerPod = 99

var (
	methods  = []string{"GET", "POST"}
	statuses = []string{"200", "500"}
	routes   = []string{"/api/items", "/api/orders", "/api/users", "/api/search", "/api/login"}
	cpuModes = []string{"user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"}
	buckets  = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}
	queues   = 10
)

// exposition serves the pods of job j on /metrics/<j>.
type exposition struct {
	pods, jobs int
	start      time.Time
}

func newExposition(series, jobs int) *exposition {
	pods := max(1, series/seriesPerPod)
	return &exposition{pods: pods, jobs: min(jobs, pods), start: time.Now().Add(-time.Hour)}
}

// The per-pod models. A few pods in each family are unhealthy, so that some alerts fire.
func errRatio(p, r int) float64 {
	if (p*7+r)%23 == 0 {
		return 0.2
	}
	return 0.01
}

func reqRate(r, m int) float64 { return float64(1 + r + 2*m) }

func latencyMean(p, r int) float64 {
	if (p*3+r)%29 == 0 {
		return 0.8
	}
	return 0.05
}

func cpuRate(p, mode int) float64 {
	switch cpuModes[mode] {
	case "user":
		if p%31 == 0 {
			return 1.2
		}
		return 0.3
	case "system":
		return 0.1
	case "idle":
		return 1.5
	}
	return 0.01
}

func memory(p int) float64 {
	if p%41 == 0 {
		return 2e9
	}
	return 5e8 + float64(p%10)*1e8
}

func queueDepth(p, q int) float64 {
	if (p+q)%47 == 0 {
		return 1000
	}
	return float64((p*13 + q*7) % 500)
}

func (e *exposition) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/metrics/"))
	if err != nil || j < 0 || j >= e.jobs {
		http.NotFound(w, r)
		return
	}
	t := time.Since(e.start).Seconds()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	b := make([]byte, 0, 1<<16)
	flush := func() {
		if len(b) > 1<<15 {
			_, _ = w.Write(b)
			b = b[:0]
		}
	}
	num := func(v float64) { b = strconv.AppendFloat(b, v, 'f', -1, 64) }
	var pods []int
	for p := j; p < e.pods; p += e.jobs {
		pods = append(pods, p)
	}

	b = append(b, "# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n"...)
	for _, p := range pods {
		for ri, route := range routes {
			for mi, m := range methods {
				for si, s := range statuses {
					rate := reqRate(ri, mi) * errRatio(p, ri)
					if si == 0 {
						rate = reqRate(ri, mi) * (1 - errRatio(p, ri))
					}
					b = fmt.Appendf(b, `http_requests_total{pod="pod-%d",route="%s",method="%s",status="%s"} `, p, route, m, s)
					num(math.Round(rate*t*1000) / 1000)
					b = append(b, '\n')
				}
			}
			flush()
		}
	}

	b = append(b, "# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n"...)
	for _, p := range pods {
		for ri, route := range routes {
			total := (reqRate(ri, 0) + reqRate(ri, 1)) * t
			mean := latencyMean(p, ri)
			for _, le := range buckets {
				b = fmt.Appendf(b, `http_request_duration_seconds_bucket{pod="pod-%d",route="%s",le="%g"} `, p, route, le)
				num(math.Round(total * (1 - math.Exp(-le/mean))))
				b = append(b, '\n')
			}
			b = fmt.Appendf(b, `http_request_duration_seconds_bucket{pod="pod-%d",route="%s",le="+Inf"} `, p, route)
			num(math.Round(total))
			b = fmt.Appendf(b, "\nhttp_request_duration_seconds_sum{pod=\"pod-%d\",route=\"%s\"} ", p, route)
			num(math.Round(total*mean*1000) / 1000)
			b = fmt.Appendf(b, "\nhttp_request_duration_seconds_count{pod=\"pod-%d\",route=\"%s\"} ", p, route)
			num(math.Round(total))
			b = append(b, '\n')
			flush()
		}
	}

	b = append(b, "# HELP cpu_seconds_total CPU time.\n# TYPE cpu_seconds_total counter\n"...)
	for _, p := range pods {
		for mi, mode := range cpuModes {
			b = fmt.Appendf(b, `cpu_seconds_total{pod="pod-%d",mode="%s"} `, p, mode)
			num(math.Round(cpuRate(p, mi)*t*1000) / 1000)
			b = append(b, '\n')
		}
		flush()
	}

	b = append(b, "# HELP process_resident_memory_bytes Resident memory.\n# TYPE process_resident_memory_bytes gauge\n"...)
	for _, p := range pods {
		b = fmt.Appendf(b, "process_resident_memory_bytes{pod=\"pod-%d\"} %g\n", p, memory(p))
		flush()
	}

	b = append(b, "# HELP queue_depth Items waiting.\n# TYPE queue_depth gauge\n"...)
	for _, p := range pods {
		for q := range queues {
			b = fmt.Appendf(b, "queue_depth{pod=\"pod-%d\",queue=\"q%d\"} %g\n", p, q, queueDepth(p, q))
		}
		flush()
	}
	_, _ = w.Write(b)
}

// scrapeConfigs is the scrape_configs list both servers get: one job (svc-<j>) per
// target, at interval.
func (e *exposition) scrapeConfigs(addr string, indent string) string {
	var sb strings.Builder
	for j := range e.jobs {
		fmt.Fprintf(&sb, "%s- job_name: svc-%d\n%s  metrics_path: /metrics/%d\n%s  static_configs: [{targets: [%q]}]\n",
			indent, j, indent, j, indent, addr)
	}
	return sb.String()
}
