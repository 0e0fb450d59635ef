// Package alerting runs an embedded Alertmanager built from Alertmanager's own packages
// (routing, grouping, inhibition, silences, the notification log and its receivers) and
// hands it the alerts of the rule manager.
package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	apiv2 "github.com/prometheus/alertmanager/api/v2"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// Prefix is where the Alertmanager API is served on the HTTP port: amtool and Grafana
// take http://HOST/alertmanager as the Alertmanager's URL.
const Prefix = "/alertmanager"

// Options configure an Alertmanager. Start from DefaultOptions.
type Options struct {
	// ConfigFile is the Alertmanager configuration file, in Alertmanager's format.
	ConfigFile string
	// DataDir holds the silences and notification log snapshots ("silences", "nflog").
	DataDir string
	// ExternalURL is .ExternalURL in notification templates.
	ExternalURL *url.URL
	// Retention is how long expired silences and notification log entries are kept
	// (Alertmanager's --data.retention).
	Retention time.Duration
	// MaintenanceInterval is how often silences and the notification log are garbage
	// collected and snapshotted (Alertmanager's --data.maintenance-interval); they are
	// also snapshotted on Shutdown.
	MaintenanceInterval time.Duration
}

// DefaultOptions returns Alertmanager's defaults: 120h retention, maintenance every 15m.
func DefaultOptions() Options {
	return Options{
		ExternalURL:         &url.URL{Scheme: "http", Host: "localhost:7070", Path: "/"},
		Retention:           120 * time.Hour,
		MaintenanceInterval: 15 * time.Minute,
	}
}

// Alertmanager is an embedded Alertmanager. It follows the server's component lifecycle
// (Start, Shutdown); Send, Reload and Handler are safe for concurrent use.
type Alertmanager struct {
	opts   Options
	logger *slog.Logger

	marker   *types.MemMarker
	alerts   *mem.Alerts
	silences *silence.Silences
	nflog    *nflog.Log
	api      *apiv2.API
	pipeline *notify.PipelineBuilder
	dispM    *dispatch.DispatcherMetrics

	mu        sync.Mutex // guards the fields below and serialises Reload, Start, Shutdown
	conf      *amconfig.Config
	disp      *dispatch.Dispatcher
	inhibitor *inhibit.Inhibitor
	started   bool
	stopped   bool
	stopc     chan struct{}
	wg        sync.WaitGroup
}

// New checks the configuration file, then loads the silences and notification log
// snapshots from opts.DataDir (created if missing). A configuration that does not parse
// is an error naming the file. Nothing is routed until Start; Shutdown releases what New
// opened. reg receives Alertmanager's alertmanager_* metrics; it may be nil.
func New(opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Alertmanager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	def := DefaultOptions()
	if opts.ExternalURL == nil {
		opts.ExternalURL = def.ExternalURL
	}
	if opts.Retention <= 0 {
		opts.Retention = def.Retention
	}
	if opts.MaintenanceInterval <= 0 {
		opts.MaintenanceInterval = def.MaintenanceInterval
	}
	conf, err := LoadConfig(opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("alertmanager data dir: %w", err)
	}
	am := &Alertmanager{opts: opts, logger: logger, conf: conf, stopc: make(chan struct{})}
	am.marker = types.NewMarker(reg)
	am.silences, err = silence.New(silence.Options{
		SnapshotFile: filepath.Join(opts.DataDir, "silences"),
		Retention:    opts.Retention,
		Logger:       logger.With("component", "silences"),
		Metrics:      reg,
	})
	if err != nil {
		return nil, fmt.Errorf("load silences: %w", err)
	}
	am.nflog, err = nflog.New(nflog.Options{
		SnapshotFile: filepath.Join(opts.DataDir, "nflog"),
		Retention:    opts.Retention,
		Logger:       logger.With("component", "nflog"),
		Metrics:      reg,
	})
	if err != nil {
		return nil, fmt.Errorf("load notification log: %w", err)
	}
	// Resolved alerts are dropped from memory 30m after they end, as in Alertmanager.
	am.alerts, err = mem.NewAlerts(context.Background(), am.marker, 30*time.Minute, nil, logger, reg)
	if err != nil {
		return nil, fmt.Errorf("alert store: %w", err)
	}
	am.api, err = apiv2.NewAPI(am.alerts, am.groups, am.marker.Status, am.marker.Muted, am.silences, nil,
		logger.With("component", "alertmanager-api"), reg)
	if err != nil {
		am.alerts.Close()
		return nil, fmt.Errorf("alertmanager api: %w", err)
	}
	am.pipeline = notify.NewPipelineBuilder(reg, featurecontrol.NoopFlags{})
	am.dispM = dispatch.NewDispatcherMetrics(false, reg)
	return am, nil
}

// LoadConfig parses an Alertmanager configuration file as Alertmanager does (relative
// template and secret files are relative to the file's directory).
func LoadConfig(file string) (*amconfig.Config, error) {
	if file == "" {
		return nil, errors.New("no alertmanager configuration file")
	}
	conf, err := amconfig.LoadFile(file)
	if err != nil {
		return nil, fmt.Errorf("alertmanager configuration %s: %w", file, err)
	}
	return conf, nil
}

// Start applies the configuration and starts routing alerts and the periodic snapshots.
func (am *Alertmanager) Start(context.Context) error {
	am.mu.Lock()
	defer am.mu.Unlock()
	if am.started || am.stopped {
		return errors.New("alertmanager already started")
	}
	if err := am.apply(am.conf); err != nil {
		return err
	}
	am.started = true
	am.wg.Add(2)
	go func() {
		defer am.wg.Done()
		am.silences.Maintenance(am.opts.MaintenanceInterval, filepath.Join(am.opts.DataDir, "silences"), am.stopc, nil)
	}()
	go func() {
		defer am.wg.Done()
		am.nflog.Maintenance(am.opts.MaintenanceInterval, filepath.Join(am.opts.DataDir, "nflog"), am.stopc, nil)
	}()
	return nil
}

// Reload reads the configuration file again and applies it. A file that does not parse,
// or whose receivers or templates cannot be built, is refused with the reason and the
// running configuration is kept. Before Start it only checks the file.
func (am *Alertmanager) Reload(file string) error {
	conf, err := LoadConfig(file)
	if err != nil {
		return err
	}
	am.mu.Lock()
	defer am.mu.Unlock()
	if am.stopped {
		return errors.New("alertmanager stopped")
	}
	if !am.started {
		if _, err := am.build(conf); err != nil {
			return err
		}
		am.conf, am.opts.ConfigFile = conf, file
		return nil
	}
	if err := am.apply(conf); err != nil {
		return err
	}
	am.opts.ConfigFile = file
	return nil
}

// Shutdown stops routing and writes the silences and notification log snapshots. Safe
// without Start and safe twice.
func (am *Alertmanager) Shutdown(ctx context.Context) error {
	am.mu.Lock()
	if am.stopped {
		am.mu.Unlock()
		return nil
	}
	am.stopped = true
	am.inhibitor.Stop()
	am.disp.Stop()
	close(am.stopc) // the maintenance loops snapshot once more and return
	am.mu.Unlock()
	done := make(chan struct{})
	go func() {
		am.wg.Wait()
		close(done)
	}()
	defer am.alerts.Close()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop alertmanager: %w", ctx.Err())
	}
}

// Handler serves Alertmanager's API v2 under Prefix (Prefix+"/api/v2/...").
func (am *Alertmanager) Handler() http.Handler {
	return http.StripPrefix(Prefix, am.api.Handler)
}

// Put hands alerts to the dispatcher, as a POST to /api/v2/alerts does.
func (am *Alertmanager) Put(alerts ...*types.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	return am.alerts.Put(alerts...)
}

// groups answers the API's alert groups from the running dispatcher.
func (am *Alertmanager) groups(routeFilter func(*dispatch.Route) bool, alertFilter func(*types.Alert, time.Time) bool) (dispatch.AlertGroups, map[model.Fingerprint][]string) {
	am.mu.Lock()
	disp := am.disp
	am.mu.Unlock()
	if disp == nil {
		return nil, map[model.Fingerprint][]string{}
	}
	return disp.Groups(routeFilter, alertFilter)
}
