package promscrape

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"gopkg.in/yaml.v3"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
)

// Config is the scrape section of Loupe's configuration. Its scrape_configs list has
// exactly the format and semantics of Prometheus' own scrape_configs (it is parsed by
// Prometheus' config package), so a working prometheus.yml section can be pasted in.
//
// Example (Loupe YAML):
//
//	scrape:
//	  scrape_interval: 15s
//	  external_labels: {site: lab}
//	  scrape_configs:
//	    - job_name: node
//	      static_configs: [{targets: ["127.0.0.1:9100"]}]
type Config struct {
	// ScrapeInterval and ScrapeTimeout are the defaults of every scrape config, as
	// Prometheus' global.scrape_interval and global.scrape_timeout. A zero ScrapeTimeout
	// (unset) is min(10s, ScrapeInterval), and a job without its own timeout gets
	// min(global timeout, its interval), as in Prometheus.
	ScrapeInterval model.Duration `yaml:"scrape_interval"`
	ScrapeTimeout  model.Duration `yaml:"scrape_timeout"`
	// LabelLimit, LabelNameLengthLimit and LabelValueLengthLimit are the defaults of
	// every scrape config, as Prometheus' global keys of the same names: a scrape with a
	// series over one of them fails whole (up is 0, the target shows the error). Prometheus
	// has no limit by default; Loupe's defaults are the pipeline's attribute limits
	// (labellimit.Default: 128 labels, 256-byte names, 16 KiB values), so that scraping
	// takes no series OTLP would refuse. 0 disables a limit.
	LabelLimit            uint `yaml:"label_limit"`
	LabelNameLengthLimit  uint `yaml:"label_name_length_limit"`
	LabelValueLengthLimit uint `yaml:"label_value_length_limit"`
	// ExternalLabels are added by Prometheus only to data leaving it; Loupe keeps them for
	// compatibility (they seed the scrape offset) and does not add them to stored series.
	ExternalLabels map[string]string `yaml:"external_labels"`
	// ScrapeConfigs is Prometheus' scrape_configs list, kept as raw YAML and parsed by
	// Prometheus' config package.
	ScrapeConfigs yaml.Node `yaml:"scrape_configs"`
	// ScrapeConfigFiles are globs of files holding more scrape configs, as Prometheus'
	// scrape_config_files. They are re-read on every ApplyConfig.
	ScrapeConfigFiles []string `yaml:"scrape_config_files"`
	// Dir resolves relative paths (file_sd files, TLS and password files, config files);
	// the loader sets it to the directory of the configuration file. Empty means the
	// working directory.
	Dir string `yaml:"-"`
}

// Default returns Prometheus' global defaults (scrape_interval 1m, scrape_timeout unset:
// min(10s, scrape_interval)) and no scrape configs.
func Default() Config {
	l := labellimit.Default()
	return Config{
		ScrapeInterval:        model.Duration(time.Minute),
		LabelLimit:            uint(l.Labels),
		LabelNameLengthLimit:  uint(l.NameBytes),
		LabelValueLengthLimit: uint(l.ValueBytes),
	}
}

// ParseConfig reads a Config from YAML text (the body of the scrape section), starting
// from Default.
func ParseConfig(text []byte) (Config, error) {
	c := Default()
	if err := yaml.Unmarshal(text, &c); err != nil {
		return Config{}, fmt.Errorf("parse scrape config: %w", err)
	}
	return c, nil
}

// Validate parses the configuration with Prometheus' config package and reports the
// first problem, naming the field.
func (c Config) Validate() error {
	_, err := c.Prometheus()
	return err
}

// Empty reports whether there is nothing to scrape.
func (c Config) Empty() bool {
	return len(c.ScrapeConfigFiles) == 0 && (c.ScrapeConfigs.Kind == 0 || len(c.ScrapeConfigs.Content) == 0)
}

// Prometheus builds the equivalent Prometheus configuration, with Prometheus' defaults
// and validation applied (config.Load on a synthesized document).
func (c Config) Prometheus() (*promconfig.Config, error) {
	switch {
	case c.ScrapeInterval <= 0:
		return nil, fmt.Errorf("scrape_interval must be positive, got %s", c.ScrapeInterval)
	case c.ScrapeTimeout < 0:
		return nil, fmt.Errorf("scrape_timeout must be positive, got %s", c.ScrapeTimeout)
	case c.ScrapeTimeout > c.ScrapeInterval:
		return nil, fmt.Errorf("scrape_timeout %s is greater than scrape_interval %s", c.ScrapeTimeout, c.ScrapeInterval)
	}
	if c.ScrapeConfigs.Kind != 0 && c.ScrapeConfigs.Kind != yaml.SequenceNode &&
		!(c.ScrapeConfigs.Kind == yaml.ScalarNode && c.ScrapeConfigs.Tag == "!!null") {
		return nil, errors.New("scrape_configs must be a list of scrape configs")
	}
	global := map[string]any{
		"scrape_interval": c.ScrapeInterval.String(),
		"external_labels": c.ExternalLabels,

		"label_limit":              c.LabelLimit,
		"label_name_length_limit":  c.LabelNameLengthLimit,
		"label_value_length_limit": c.LabelValueLengthLimit,
	}
	if c.ScrapeTimeout != 0 { // else Prometheus' default applies: min(10s, scrape_interval)
		global["scrape_timeout"] = c.ScrapeTimeout.String()
	}
	doc := map[string]any{"global": global}
	if c.ScrapeConfigs.Kind == yaml.SequenceNode {
		doc["scrape_configs"] = &c.ScrapeConfigs
	}
	if len(c.ScrapeConfigFiles) > 0 {
		doc["scrape_config_files"] = c.ScrapeConfigFiles
	}
	text, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode scrape config: %w", err)
	}
	pc, err := promconfig.Load(string(text), slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("scrape config: %w", err)
	}
	if c.Dir != "" {
		pc.SetDirectory(c.Dir)
	}
	// Resolve scrape_config_files now, so that a bad file fails validation rather than the
	// reload that follows it.
	if _, err := pc.GetScrapeConfigs(); err != nil {
		return nil, fmt.Errorf("scrape config: %w", err)
	}
	return pc, nil
}
