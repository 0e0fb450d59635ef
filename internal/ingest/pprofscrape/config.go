// Package pprofscrape pulls profiles from Go programs' /debug/pprof endpoints on an
// interval, with Prometheus' scrape configs, service discovery and relabelling choosing
// the targets, and writes them to the profile store.
package pprofscrape

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"gopkg.in/yaml.v3"

	"github.com/loupe-dev/loupe/internal/ingest/promscrape"
	"github.com/loupe-dev/loupe/internal/profile/pprofconv"
)

// Config is the profiling section of Loupe's configuration. Each entry of ScrapeConfigs is
// a Prometheus scrape config (job_name, static_configs or any *_sd_configs Loupe has,
// relabel_configs, scheme, TLS and auth, scrape_interval, scrape_timeout) plus the key
// profile_types; metrics_path is not used: the paths are Go's /debug/pprof ones.
//
//	profiling:
//	  scrape_interval: 15s
//	  scrape_configs:
//	    - job_name: api
//	      profile_types: [cpu, heap, goroutine]
//	      static_configs: [{targets: ["127.0.0.1:6060"]}]
type Config struct {
	// ScrapeInterval and ScrapeTimeout are the defaults of every scrape config. The CPU
	// profile of a scrape lasts min(interval, timeout) - 1s (at least 1s), so the default
	// timeout equal to the interval profiles 14 s of every 15.
	ScrapeInterval model.Duration `yaml:"scrape_interval"`
	ScrapeTimeout  model.Duration `yaml:"scrape_timeout"`
	// ProfileTypes are the default profile_types of every scrape config: cpu, heap
	// (allocs is the same profile), goroutine, mutex, block.
	ProfileTypes []string `yaml:"profile_types"`
	// ScrapeConfigs are the jobs, kept as raw YAML: profile_types is taken out of each and
	// the rest parsed by Prometheus' config package.
	ScrapeConfigs yaml.Node `yaml:"scrape_configs"`
	// Dir resolves relative paths (file_sd files, TLS files); the loader sets it to the
	// configuration file's directory.
	Dir string `yaml:"-"`
}

// Default returns a 15 s interval and timeout, the five Go profile types, no jobs.
func Default() Config {
	return Config{
		ScrapeInterval: model.Duration(15 * time.Second),
		ScrapeTimeout:  model.Duration(15 * time.Second),
		ProfileTypes:   []string{"cpu", "heap", "goroutine", "mutex", "block"},
	}
}

// Empty reports whether there is nothing to scrape.
func (c Config) Empty() bool {
	return c.ScrapeConfigs.Kind == 0 || len(c.ScrapeConfigs.Content) == 0
}

// Validate reports the first problem, naming the field.
func (c Config) Validate() error {
	_, err := c.jobs()
	return err
}

// job is one scrape config, parsed.
type job struct {
	scrape     *promconfig.ScrapeConfig
	kinds      []pprofconv.Kind
	cpuSeconds int
}

// jobs splits profile_types off each scrape config and has Prometheus parse and validate
// the rest, with the section's interval and timeout as its globals.
func (c Config) jobs() ([]job, error) {
	switch {
	case c.ScrapeInterval <= 0:
		return nil, fmt.Errorf("scrape_interval must be positive, got %s", c.ScrapeInterval)
	case c.ScrapeTimeout <= 0:
		return nil, fmt.Errorf("scrape_timeout must be positive, got %s", c.ScrapeTimeout)
	case c.ScrapeTimeout > c.ScrapeInterval:
		return nil, fmt.Errorf("scrape_timeout %s is greater than scrape_interval %s", c.ScrapeTimeout, c.ScrapeInterval)
	}
	defKinds, err := parseKinds(c.ProfileTypes)
	if err != nil {
		return nil, fmt.Errorf("profile_types: %w", err)
	}
	if c.Empty() || (c.ScrapeConfigs.Kind == yaml.ScalarNode && c.ScrapeConfigs.Tag == "!!null") {
		return nil, nil
	}
	if c.ScrapeConfigs.Kind != yaml.SequenceNode {
		return nil, errors.New("scrape_configs must be a list of scrape configs")
	}
	items := make([]*yaml.Node, 0, len(c.ScrapeConfigs.Content))
	kinds := make([][]pprofconv.Kind, 0, len(c.ScrapeConfigs.Content))
	for i, item := range c.ScrapeConfigs.Content {
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("scrape_configs[%d]: must be a mapping", i)
		}
		rest := &yaml.Node{Kind: yaml.MappingNode, Tag: item.Tag}
		k := defKinds
		for j := 0; j+1 < len(item.Content); j += 2 {
			key, val := item.Content[j], item.Content[j+1]
			if key.Value != "profile_types" {
				rest.Content = append(rest.Content, key, val)
				continue
			}
			var names []string
			if err := val.Decode(&names); err != nil {
				return nil, fmt.Errorf("scrape_configs[%d].profile_types: %w", i, err)
			}
			if k, err = parseKinds(names); err != nil {
				return nil, fmt.Errorf("scrape_configs[%d].profile_types: %w", i, err)
			}
		}
		items = append(items, rest)
		kinds = append(kinds, k)
	}
	// The rest is a Prometheus scrape section: promscrape parses it, with this section's
	// interval and timeout as the globals (and no label limits: profiles have their own).
	pc, err := promscrape.Config{
		ScrapeInterval: c.ScrapeInterval, ScrapeTimeout: c.ScrapeTimeout, Dir: c.Dir,
		ScrapeConfigs: yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items},
	}.Prometheus()
	if err != nil {
		return nil, err
	}
	scs, err := pc.GetScrapeConfigs()
	if err != nil {
		return nil, fmt.Errorf("scrape_configs: %w", err)
	}
	if len(scs) != len(kinds) {
		return nil, fmt.Errorf("scrape_configs: %d parsed from %d entries", len(scs), len(kinds))
	}
	jobs := make([]job, len(scs))
	for i, sc := range scs {
		secs := int((min(time.Duration(sc.ScrapeInterval), time.Duration(sc.ScrapeTimeout)) - time.Second) / time.Second)
		jobs[i] = job{scrape: sc, kinds: kinds[i], cpuSeconds: max(secs, 1)}
	}
	return jobs, nil
}

// parseKinds reads profile_types; allocs is the heap profile, and repeats count once.
func parseKinds(names []string) ([]pprofconv.Kind, error) {
	if len(names) == 0 {
		return nil, errors.New("empty; want some of cpu, heap, allocs, goroutine, mutex, block")
	}
	seen := map[pprofconv.Kind]bool{}
	var out []pprofconv.Kind
	for _, n := range names {
		k, err := pprofconv.ParseKind(n)
		if err != nil || k == pprofconv.KindWall || k == pprofconv.KindUnknown {
			return nil, fmt.Errorf("%q: want cpu, heap, allocs, goroutine, mutex or block", n)
		}
		if k == pprofconv.KindAllocs {
			k = pprofconv.KindHeap
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// endpoint is the /debug/pprof path of a kind.
func endpoint(k pprofconv.Kind) string {
	if k == pprofconv.KindCPU {
		return "/debug/pprof/profile"
	}
	return "/debug/pprof/" + string(k)
}
