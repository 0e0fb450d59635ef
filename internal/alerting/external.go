package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/notifier"
)

// External sends alerts to external Alertmanagers with Prometheus' own notifier (queue,
// batches, API v2, prometheus_notifications_* metrics), each named by its base URL as a
// static target of Prometheus' alerting.alertmanagers. It follows the component lifecycle;
// Send and SetURLs are safe for concurrent use.
type External struct {
	mgr   *notifier.Manager
	tsets chan map[string][]*targetgroup.Group
	done  chan struct{}

	mu      sync.Mutex
	started bool
	stopped bool
}

// NewExternal returns a sender to the Alertmanagers at urls (absolute http or https base
// URLs, e.g. http://am:9093 or https://host/prefix). Alerts are queued until Start.
func NewExternal(urls []string, logger *slog.Logger, reg prometheus.Registerer) (*External, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &External{
		// Prometheus' defaults: --alertmanager.notification-queue-capacity 10000, drained
		// on shutdown.
		mgr:   notifier.NewManager(&notifier.Options{QueueCapacity: 10000, DrainOnShutdown: true, Registerer: reg}, logger),
		tsets: make(chan map[string][]*targetgroup.Group, 1),
		done:  make(chan struct{}),
	}
	if err := e.SetURLs(urls); err != nil {
		return nil, err
	}
	return e, nil
}

// SetURLs replaces the Alertmanagers alerts go to. Bad URLs are refused, keeping the
// current ones.
func (e *External) SetURLs(urls []string) error {
	conf, tgs, err := externalConfig(urls)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.mgr.ApplyConfig(conf); err != nil {
		return fmt.Errorf("alerting.alertmanagers: %w", err)
	}
	select { // keep only the latest targets if the manager has not read the previous ones
	case <-e.tsets:
	default:
	}
	e.tsets <- tgs
	return nil
}

// externalConfig turns base URLs into Prometheus' alerting configuration, one
// AlertmanagerConfig (scheme, path_prefix) per URL with its host as the static target.
func externalConfig(urls []string) (*promconfig.Config, map[string][]*targetgroup.Group, error) {
	conf := &promconfig.Config{}
	tgs := map[string][]*targetgroup.Group{}
	for i, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, fmt.Errorf("alerting.alertmanagers[%d]: %q: must be an absolute http or https URL", i, raw)
		}
		amc := promconfig.DefaultAlertmanagerConfig
		amc.Scheme = u.Scheme
		amc.PathPrefix = strings.TrimSuffix(u.Path, "/")
		if u.User != nil {
			return nil, nil, fmt.Errorf("alerting.alertmanagers[%d]: credentials in the URL are not supported", i)
		}
		conf.AlertingConfig.AlertmanagerConfigs = append(conf.AlertingConfig.AlertmanagerConfigs, &amc)
		key := fmt.Sprintf("config-%d", i) // the keys of AlertmanagerConfigs.ToMap
		tgs[key] = []*targetgroup.Group{{
			Targets: []model.LabelSet{{model.AddressLabel: model.LabelValue(u.Host)}},
			Source:  raw,
		}}
	}
	return conf, tgs, nil
}

// Send queues alerts for every external Alertmanager.
func (e *External) Send(alerts ...*notifier.Alert) { e.mgr.Send(alerts...) }

// Alertmanagers returns the URLs alerts are posted to (for /api/v1/alertmanagers); none
// on a nil External.
func (e *External) Alertmanagers() []*url.URL {
	if e == nil {
		return nil
	}
	return e.mgr.Alertmanagers()
}

// DroppedAlertmanagers is always empty: static targets are not relabelled.
func (e *External) DroppedAlertmanagers() []*url.URL { return nil }

// Start runs the notifier.
func (e *External) Start(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started || e.stopped {
		return errors.New("external alertmanagers sender already started")
	}
	e.started = true
	go func() {
		defer close(e.done)
		e.mgr.Run(e.tsets)
	}()
	return nil
}

// Shutdown stops the notifier after it has tried to send what is queued. Safe without
// Start and safe twice.
func (e *External) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	e.stopped = true
	e.mgr.Stop()
	if !e.started {
		return nil
	}
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop external alertmanagers sender: %w", ctx.Err())
	case <-time.After(time.Minute): // the drain's sends time out after 10s each
		return errors.New("stop external alertmanagers sender: still draining after 1m")
	}
}
