package promscrape

import (
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/scrape"
)

// retriever is what Scraper.Targets returns: Prometheus' scrape manager (targets and
// scrape pools) and the running configuration. The Prometheus API finds the last two by
// type assertion (prom.Options).
type retriever struct {
	*scrape.Manager
	s *Scraper
}

// PrometheusConfig returns the running configuration as Prometheus' config package holds
// it, for /api/v1/status/config: its String method is the YAML a prometheus.yml with the
// same meaning would hold, with every secret (passwords, tokens, client keys) written
// "<secret>" as Prometheus shows them.
func (r retriever) PrometheusConfig() promconfig.Config {
	return r.s.PrometheusConfig()
}

// PrometheusConfig returns the running scrape configuration (see retriever).
func (s *Scraper) PrometheusConfig() promconfig.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.cfg
}

// ScrapePools returns the job names of the running configuration (scrape_config_files
// included), for /api/v1/scrape_pools. Prometheus' scrape manager lists a pool only once
// discovery has handed it targets, which left the list empty for seconds after a start
// or a reload.
func (r retriever) ScrapePools() []string {
	cfg := r.s.PrometheusConfig()
	scfgs, err := cfg.GetScrapeConfigs()
	if err != nil { // validated when applied; fall back to the running pools
		return r.Manager.ScrapePools()
	}
	names := make([]string, 0, len(scfgs))
	for _, c := range scfgs {
		names = append(names, c.JobName)
	}
	return names
}
