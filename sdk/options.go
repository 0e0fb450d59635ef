package sdk

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Protocols an exporter can speak, named as OTEL_EXPORTER_OTLP_PROTOCOL names them.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// DefaultEndpoint is where telemetry goes when neither Options.Endpoint nor the environment
// says otherwise: a Loupe server started with `make run` or `loupe serve` on this machine.
const DefaultEndpoint = "http://localhost:4318"

// Options configure Start. The zero value is usable: every field has a default, and the
// standard OpenTelemetry environment variables are honoured where a field is left empty.
type Options struct {
	// ServiceName is the resource attribute service.name (the `job` label in PromQL).
	// OTEL_SERVICE_NAME, or service.name in OTEL_RESOURCE_ATTRIBUTES, take precedence so an
	// operator can rename a deployment without rebuilding it. Default: the program's base
	// name (os.Args[0]).
	ServiceName string

	// ServiceVersion is the resource attribute service.version. Default: the main module's
	// version from the build information, when it has one.
	ServiceVersion string

	// Endpoint is the base URL of the OTLP receiver, e.g. "http://localhost:4318" for
	// OTLP/HTTP or "http://localhost:4317" for gRPC; the exporters add /v1/traces,
	// /v1/metrics and /v1/logs. Default, first that is set: OTEL_EXPORTER_OTLP_ENDPOINT and
	// the per-signal OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT (read by the
	// exporters themselves), LOUPE_SERVER, DefaultEndpoint.
	Endpoint string

	// Protocol is ProtocolHTTP or ProtocolGRPC. Default: OTEL_EXPORTER_OTLP_PROTOCOL, else
	// ProtocolHTTP.
	Protocol string

	// Attributes are extra resource attributes, e.g. deployment.environment. Attributes from
	// OTEL_RESOURCE_ATTRIBUTES are added too (and win on a clash).
	Attributes []attribute.KeyValue

	// MetricInterval is the time between metric exports. Default: OTEL_METRIC_EXPORT_INTERVAL
	// (milliseconds), else 10s (not OpenTelemetry's 60s). Shutdown always exports once more.
	MetricInterval time.Duration

	// LogLevel is the lowest level Logger sends. Default: slog.LevelInfo.
	LogLevel slog.Leveler

	// Console, when set, also receives every record Logger sends, as slog text lines (e.g.
	// os.Stderr), so that the program still prints its logs while they are exported.
	Console io.Writer

	// ErrorLog receives the SDK's own errors (an export that failed after its retries, a
	// resource detector that failed) when the SDK is installed as global, at most one line
	// per 30 seconds (the next line counts the errors held back). Default: a text logger on
	// os.Stderr. Never point it at Logger: a failing export would log into itself.
	ErrorLog *slog.Logger

	// NoRuntimeMetrics turns off the Go runtime metrics (go.memory.used,
	// go.goroutine.count, ...).
	NoRuntimeMetrics bool

	// NoGlobal leaves the OpenTelemetry global tracer, meter and logger providers, the
	// propagator and the error handler alone. By default Start installs its own, so that
	// instrumentation libraries and sdk/bench.Time find them without being told.
	NoGlobal bool

	// Profile turns on continuous profiling: a CPU profile every ProfileInterval, a heap
	// and a goroutine profile at the end of each, sent as pprof to Loupe's POST /ingest;
	// local root spans label the samples taken while they run with span_id and span_name.
	// LOUPE_PROFILE=1 (set by `loupe run --profile`) turns it on too.
	Profile bool

	// ProfileServer is the base URL of Loupe's HTTP port, where /ingest is. Default:
	// LOUPE_PROFILE_SERVER, else the OTLP endpoint's host on port 7070 when the endpoint
	// is on port 4318 or 4317. When none says it, profiling stays off with a warning.
	ProfileServer string

	// ProfileInterval is the length of one CPU profile. Default: DefaultProfileInterval.
	ProfileInterval time.Duration

	// ProfileLabels are added to every profile's series labels. The SDK adds
	// loupe_run_id (from LOUPE_RUN_ID, set by `loupe run`) and service_version.
	ProfileLabels map[string]string
}

// withDefaults returns o with every empty field filled from getenv or the built-in default.
func (o Options) withDefaults(getenv func(string) string) (Options, error) {
	if o.ServiceName == "" {
		o.ServiceName = filepath.Base(os.Args[0])
	}
	if o.ServiceVersion == "" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			o.ServiceVersion = bi.Main.Version
		}
	}
	if o.Protocol == "" {
		o.Protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if o.Protocol == "" {
		o.Protocol = ProtocolHTTP
	}
	if o.Protocol != ProtocolHTTP && o.Protocol != ProtocolGRPC {
		return o, fmt.Errorf("protocol %q: want %q or %q", o.Protocol, ProtocolHTTP, ProtocolGRPC)
	}
	if o.Endpoint == "" && !envEndpointSet(getenv) {
		o.Endpoint = getenv("LOUPE_SERVER")
		if o.Endpoint == "" {
			o.Endpoint = DefaultEndpoint
			if o.Protocol == ProtocolGRPC {
				o.Endpoint = "http://localhost:4317"
			}
		}
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("endpoint %q: want a URL such as %s", o.Endpoint, DefaultEndpoint)
		}
		o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	}
	if o.MetricInterval < 0 {
		return o, fmt.Errorf("metric interval %s: must not be negative", o.MetricInterval)
	}
	if o.MetricInterval == 0 && getenv("OTEL_METRIC_EXPORT_INTERVAL") == "" {
		// The OpenTelemetry default is 60s: too slow to watch a dashboard react.
		o.MetricInterval = 10 * time.Second
	}
	if o.ProfileInterval < 0 {
		return o, fmt.Errorf("profile interval %s: must not be negative", o.ProfileInterval)
	}
	if o.ProfileInterval == 0 {
		o.ProfileInterval = DefaultProfileInterval
	}
	if o.LogLevel == nil {
		o.LogLevel = slog.LevelInfo
	}
	if o.ErrorLog == nil {
		o.ErrorLog = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return o, nil
}

// envEndpointSet reports whether the environment names an OTLP endpoint the exporters will
// read themselves.
func envEndpointSet(getenv func(string) string) bool {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"} {
		if getenv(k) != "" {
			return true
		}
	}
	return false
}
