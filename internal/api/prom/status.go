package prom

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/notifications"
	v1 "github.com/prometheus/prometheus/web/api/v1"
)

// flags is what /api/v1/status/flags reports: the Prometheus flags whose meaning Loupe
// shares, so that tools reading them (Grafana, promtool) see the effective values.
func flags(o Options) map[string]string {
	return map[string]string{
		"query.lookback-delta":             model.Duration(o.LookbackDelta).String(),
		"query.timeout":                    model.Duration(o.QueryTimeout).String(),
		"query.max-samples":                strconv.Itoa(o.MaxSamples),
		"query.max-concurrency":            strconv.Itoa(o.MaxConcurrentQueries),
		"storage.tsdb.retention.time":      model.Duration(o.Retention).String(),
		"web.enable-remote-write-receiver": strconv.FormatBool(o.RemoteWrite),
		"web.enable-otlp-receiver":         strconv.FormatBool(o.OTLPWrite),
		"web.enable-admin-api":             "false",
		"web.cors.origin":                  o.CORSOrigin,
	}
}

func runtimeInfo(start time.Time, retention time.Duration) v1.RuntimeInfo {
	cwd, _ := os.Getwd()
	host, _ := os.Hostname()
	return v1.RuntimeInfo{
		StartTime:           start,
		CWD:                 cwd,
		Hostname:            host,
		ServerTime:          time.Now().UTC(),
		ReloadConfigSuccess: true,
		LastConfigTime:      start,
		GoroutineCount:      runtime.NumGoroutine(),
		GOMAXPROCS:          runtime.GOMAXPROCS(0),
		GOMEMLIMIT:          debug.SetMemoryLimit(-1),
		GOGC:                os.Getenv("GOGC"),
		GODEBUG:             os.Getenv("GODEBUG"),
		StorageRetention:    model.Duration(retention).String(),
	}
}

// Empty retrievers: Loupe has no scrape targets, rules or Alertmanagers in this package;
// the endpoints still answer with the valid empty lists Grafana expects.

type emptyScrapePools struct{}

func (emptyScrapePools) ScrapePools() []string { return []string{} }

// ConfigSource is an optional capability of what Options.Targets returns: the running
// scrape configuration, shown by /api/v1/status/config as Prometheus shows its own
// (Config.String: YAML with secrets written "<secret>").
type ConfigSource interface {
	PrometheusConfig() config.Config
}

// scrapePools answers /api/v1/scrape_pools: Options.ScrapePools, else the targets'
// retriever when it also lists pools (Prometheus' scrape manager does), else none.
func scrapePools(o Options) func(context.Context) v1.ScrapePoolsRetriever {
	if o.ScrapePools != nil {
		return o.ScrapePools
	}
	return func(ctx context.Context) v1.ScrapePoolsRetriever {
		if o.Targets != nil {
			if p, ok := o.Targets(ctx).(v1.ScrapePoolsRetriever); ok {
				return p
			}
		}
		return emptyScrapePools{}
	}
}

// statusConfig answers /api/v1/status/config: Options.Config, else the targets'
// retriever when it is a ConfigSource, else Prometheus' defaults (no scrape configs).
func statusConfig(o Options) func() config.Config {
	if o.Config != nil {
		return o.Config
	}
	return func() config.Config {
		if o.Targets != nil {
			if c, ok := o.Targets(context.Background()).(ConfigSource); ok {
				return c.PrometheusConfig()
			}
		}
		return config.DefaultConfig
	}
}

// globalURLOptions tell /api/v1/targets how to show targets on localhost in globalUrl:
// with this machine's host name, as Prometheus does with its default external URL. With
// empty options every localhost target got the error of splitting an empty listen
// address (lastError ": missing port in address") though it was healthy.
func globalURLOptions(listen string) v1.GlobalURLOptions {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if _, port, err := net.SplitHostPort(listen); err == nil && port != "" && port != "0" {
		// A target on this very port is Loupe itself, shown under host:port.
		return v1.GlobalURLOptions{ListenAddress: listen, Host: net.JoinHostPort(host, port), Scheme: "http"}
	}
	// Port 0 matches no target: every localhost target is shown as host:its port.
	return v1.GlobalURLOptions{ListenAddress: ":0", Host: host, Scheme: "http"}
}

type emptyTargets struct{}

func (emptyTargets) TargetsActive() map[string][]*scrape.Target { return map[string][]*scrape.Target{} }
func (emptyTargets) TargetsDropped() map[string][]*scrape.Target {
	return map[string][]*scrape.Target{}
}
func (emptyTargets) TargetsDroppedCounts() map[string]int { return map[string]int{} }

func orEmptyTargets(f func(context.Context) v1.TargetRetriever) func(context.Context) v1.TargetRetriever {
	if f != nil {
		return f
	}
	return func(context.Context) v1.TargetRetriever { return emptyTargets{} }
}

type emptyRules struct{}

func (emptyRules) RuleGroups() []*rules.Group           { return nil }
func (emptyRules) AlertingRules() []*rules.AlertingRule { return nil }

func orEmptyRules(f func(context.Context) v1.RulesRetriever) func(context.Context) v1.RulesRetriever {
	if f != nil {
		return f
	}
	return func(context.Context) v1.RulesRetriever { return emptyRules{} }
}

type emptyAlertmanagers struct{}

func (emptyAlertmanagers) Alertmanagers() []*url.URL        { return nil }
func (emptyAlertmanagers) DroppedAlertmanagers() []*url.URL { return nil }

func orEmptyAlertmanagers(f func(context.Context) v1.AlertmanagerRetriever) func(context.Context) v1.AlertmanagerRetriever {
	if f != nil {
		return f
	}
	return func(context.Context) v1.AlertmanagerRetriever { return emptyAlertmanagers{} }
}

func noNotifications() []notifications.Notification { return []notifications.Notification{} }

func noNotificationsSub() (<-chan notifications.Notification, func(), bool) {
	return nil, func() {}, false
}

// noAdminStats stands in for storages without TSDB statistics (/api/v1/status/tsdb).
type noAdminStats struct{}

var errNoAdmin = errors.New("not supported by this metric storage")

func (noAdminStats) CleanTombstones() error { return errNoAdmin }
func (noAdminStats) Delete(context.Context, int64, int64, ...*labels.Matcher) error {
	return errNoAdmin
}
func (noAdminStats) Snapshot(string, bool) error            { return errNoAdmin }
func (noAdminStats) Stats(string, int) (*tsdb.Stats, error) { return nil, errNoAdmin }
func (noAdminStats) WALReplayStatus() (tsdb.WALReplayStatus, error) {
	return tsdb.WALReplayStatus{}, nil
}
