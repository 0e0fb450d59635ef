package statsd

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/storage"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
)

// Config configures the StatsD/DogStatsD receiver.
type Config struct {
	// UDPAddr and TCPAddr are the listen addresses (host:port); empty disables that
	// listener. TCP takes newline-delimited lines.
	UDPAddr string `yaml:"udp_addr"`
	TCPAddr string `yaml:"tcp_addr"`
	// FlushInterval is how often aggregated values are written to the metric store, and
	// the interval over which sets count distinct values.
	FlushInterval model.Duration `yaml:"flush_interval"`
	// Buckets are the upper bounds of the histograms that timers (in seconds),
	// histograms and distributions become. Strictly increasing, finite.
	Buckets []float64 `yaml:"buckets"`
	// SeriesTTL forgets a series not updated for this long (it gets a staleness marker);
	// 0 keeps every series for the life of the process, as statsd_exporter does.
	SeriesTTL model.Duration `yaml:"series_ttl"`
	// Labels are added to every series. A tag with the same name becomes exported_<name>.
	Labels map[string]string `yaml:"labels"`
	// LogQueue is how many events and service checks may wait to be written to the log
	// store; beyond it they are dropped and counted.
	LogQueue int `yaml:"log_queue"`
	// TCPIdleTimeout closes a TCP connection that sends nothing for this long, so idle
	// or abandoned connections cannot hold file descriptors forever.
	TCPIdleTimeout model.Duration `yaml:"tcp_idle_timeout"`
	// TCPMaxConnections bounds the TCP connections open at once; beyond it new ones are
	// closed at once and counted in loupe_statsd_tcp_refused_total.
	TCPMaxConnections int `yaml:"tcp_max_connections"`
	// TCPTLS serves TLS on TCPAddr with listen.tls's certificate, and asks for client
	// certificates per listen.tls.statsd_client_auth: StatsD has no credentials of its own,
	// so a client certificate is how a StatsD client over TCP authenticates
	// (docs/security.md). UDP stays plain.
	TCPTLS bool `yaml:"tcp_tls"`
	// TLS is the TCP listener's TLS configuration when TCPTLS is set; the server makes it
	// from listen.tls (internal/tlsconfig, which re-reads rotated files).
	TLS *tls.Config `yaml:"-"`
	// LabelLimits bound the labels a metric line's tags make (the pipeline's attribute
	// limits; the server sets them from the limits section). The zero value means
	// labellimit.Default().
	LabelLimits labellimit.Limits `yaml:"-"`
	// Admission, when set, gives each flush its room in the metric ingest budget shared
	// with OTLP metrics and remote write (limits.queue_items): a flush waits for room up
	// to FlushInterval, then drops the samples it has no room for (counted in
	// loupe_statsd_samples_rejected_total and loupe_ingest_throttled_total{path="statsd"}).
	Admission Admission `yaml:"-"`
}

// Default returns the standard StatsD port on loopback for UDP and TCP, a 10s flush,
// Prometheus' default histogram buckets, and job="statsd".
func Default() Config {
	return Config{
		UDPAddr:       "127.0.0.1:8125",
		TCPAddr:       "127.0.0.1:8125",
		FlushInterval: model.Duration(10 * time.Second),
		Buckets:       []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		Labels:        map[string]string{"job": "statsd"},
		LogQueue:      1000,

		TCPIdleTimeout:    model.Duration(5 * time.Minute),
		TCPMaxConnections: 1024,
	}
}

// Validate reports the first problem with the configuration, naming the field.
func (c Config) Validate() error {
	for _, a := range []struct{ field, addr string }{{"udp_addr", c.UDPAddr}, {"tcp_addr", c.TCPAddr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("statsd %s %q: %w", a.field, a.addr, err)
		}
	}
	if c.FlushInterval <= 0 {
		return fmt.Errorf("statsd flush_interval must be positive, got %s", c.FlushInterval)
	}
	if len(c.Buckets) == 0 {
		return fmt.Errorf("statsd buckets must not be empty")
	}
	for i, b := range c.Buckets {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("statsd buckets[%d] must be finite, got %v", i, b)
		}
		if i > 0 && b <= c.Buckets[i-1] {
			return fmt.Errorf("statsd buckets must be strictly increasing, got %v after %v", b, c.Buckets[i-1])
		}
	}
	if c.SeriesTTL < 0 {
		return fmt.Errorf("statsd series_ttl must not be negative, got %s", c.SeriesTTL)
	}
	for k, v := range c.Labels {
		if !model.LegacyValidation.IsValidLabelName(k) || len(k) >= 2 && k[:2] == "__" {
			return fmt.Errorf("statsd labels: %q is not a valid label name", k)
		}
		if v == "" {
			return fmt.Errorf("statsd labels: label %q has an empty value", k)
		}
	}
	if c.TCPIdleTimeout <= 0 {
		return fmt.Errorf("statsd tcp_idle_timeout must be positive, got %s", c.TCPIdleTimeout)
	}
	if c.TCPMaxConnections <= 0 {
		return fmt.Errorf("statsd tcp_max_connections must be positive, got %d", c.TCPMaxConnections)
	}
	if c.LogQueue <= 0 {
		return fmt.Errorf("statsd log_queue must be positive, got %d", c.LogQueue)
	}
	return nil
}

func (c Config) buckets() []float64 { return slices.Clone(c.Buckets) }

// Admission wraps the metric store so that appends take room from the metric ingest
// budget, waiting at most maxWait (pipeline.Pipeline.AdmittedAppendable).
type Admission interface {
	AdmittedAppendable(app storage.Appendable, path string, maxWait time.Duration) storage.Appendable
}
