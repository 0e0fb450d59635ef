package config

import (
	"bytes"
	"testing"
)

// FuzzLoad feeds arbitrary YAML to Load and Validate: each answers with a configuration or
// an error, never a panic, and a configuration that validates can be loaded again.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("listen:\n  http: 127.0.0.1:0\nretention:\n  logs: 2d\n"))
	f.Add([]byte("limits: {max_request_bytes: -1}\nquery: {timeout: 1s}\n"))
	f.Add([]byte("scrape:\n  scrape_configs:\n    - job_name: x\n      static_configs: [{targets: [a:1]}]\n"))
	f.Add([]byte("statsd: {udp_addr: '', labels: {a: b}}\nlisten: {allowed_hosts: ['*']}\n"))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, yaml []byte) {
		cfg, err := Load(bytes.NewReader(yaml))
		if err != nil {
			return
		}
		_ = cfg.Validate()
	})
}
