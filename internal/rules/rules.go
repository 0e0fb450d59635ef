// Package rules evaluates Prometheus recording and alerting rule files over Loupe's metric
// store with Prometheus' own rule manager.
//
// Recording rules and the ALERTS / ALERTS_FOR_STATE series are appended to the store as
// Prometheus appends them, and the pending `for` state of alerts is restored from
// ALERTS_FOR_STATE after a restart. Alerts go to Options.Notify (the embedded and external
// Alertmanagers, internal/alerting); without one they are only counted
// (loupe_rules_alerts_not_sent_total).
package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// Storage is what rules read and write: the PromQL engine's queryable (also read to
// restore the `for` state) and the appendable that receives recording rules and ALERTS.
type Storage interface {
	storage.Queryable
	storage.Appendable
}

// Options configure the Manager. Start from DefaultOptions.
type Options struct {
	// ExternalURL is the URL of this server, for the $externalURL template variable and
	// the generatorURL of alerts.
	ExternalURL *url.URL
	// OutageTolerance, ForGracePeriod and ResendDelay are Prometheus' flags
	// --rules.alert.for-outage-tolerance, --rules.alert.for-grace-period and
	// --rules.alert.resend-delay.
	OutageTolerance time.Duration
	ForGracePeriod  time.Duration
	ResendDelay     time.Duration
	// Notify receives the alerts to send (firing, and resolved for a while after), as
	// Prometheus' notifier does. Nil: they are only counted in
	// loupe_rules_alerts_not_sent_total.
	Notify rules.NotifyFunc
}

// DefaultOptions returns Prometheus' defaults: `for` state restored after an outage of up
// to 1h, with at least 10m of grace; alerts re-sent every minute.
func DefaultOptions() Options {
	return Options{
		ExternalURL:     &url.URL{Scheme: "http", Host: "localhost:7070", Path: "/"},
		OutageTolerance: time.Hour,
		ForGracePeriod:  10 * time.Minute,
		ResendDelay:     time.Minute,
	}
}

// Manager runs rule files. It follows the server's component lifecycle (Start, Shutdown)
// and answers /api/v1/rules and /api/v1/alerts as a v1.RulesRetriever. Its methods are
// safe for concurrent use.
type Manager struct {
	mgr         *rules.Manager
	externalURL string
	logger      *slog.Logger
	cancel      context.CancelFunc
	quality     *quality // annotation warnings and alert state changes (quality.go)

	mu       sync.Mutex // serialises Load, Start and Shutdown
	patterns []string
	interval time.Duration
	started  bool
	stopped  bool
	done     chan struct{} // closed when the manager's Run returns
}

// New returns a manager evaluating rules with engine over st. Nothing runs until Start.
// reg receives Prometheus' prometheus_rule_* metrics and loupe_rules_alerts_not_sent_total;
// it may be nil.
func New(engine promql.QueryEngine, st Storage, opts Options, logger *slog.Logger, reg prometheus.Registerer) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.ExternalURL == nil {
		opts.ExternalURL = DefaultOptions().ExternalURL
	}
	notSent := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "loupe_rules_alerts_not_sent_total",
		Help: "Alerts the rule manager handed over for notification while no Alertmanager is configured (docs/alerting.md).",
	})
	if reg != nil {
		reg.MustRegister(notSent)
	}
	notify := opts.Notify
	if notify == nil {
		notify = func(_ context.Context, _ string, alerts ...*rules.Alert) {
			notSent.Add(float64(len(alerts)))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{externalURL: opts.ExternalURL.String(), logger: logger, cancel: cancel, done: make(chan struct{})}
	m.quality = newQuality(logger, reg)
	m.mgr = rules.NewManager(&rules.ManagerOptions{
		ExternalURL:     opts.ExternalURL,
		QueryFunc:       rules.EngineQueryFunc(engine, st),
		NotifyFunc:      notify,
		Context:         ctx,
		Appendable:      st,
		Queryable:       st,
		Logger:          logger,
		Registerer:      reg,
		OutageTolerance: opts.OutageTolerance,
		ForGracePeriod:  opts.ForGracePeriod,
		ResendDelay:     opts.ResendDelay,
		// Prometheus' defaults: rules of a group evaluated in order, no query offset.
		DefaultRuleQueryOffset: func() time.Duration { return 0 },
	})
	return m
}

// Load checks the rule files matching patterns and, when every one is valid, makes them
// the running rules; groups without an interval get interval. A bad file is refused with
// an error naming each problem's file, position, group and rule, and the running rules
// are kept. Before Start it only records what Start will load.
func (m *Manager) Load(patterns []string, interval time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	files, err := Check(patterns)
	if err != nil {
		return err
	}
	if m.stopped {
		return errors.New("rules manager stopped")
	}
	if !m.started {
		m.patterns, m.interval = slices.Clone(patterns), interval
		return nil
	}
	return m.update(files, interval)
}

func (m *Manager) update(files []string, interval time.Duration) error {
	// Update logs the detailed errors and keeps the running rules; Check has already
	// reported what it can name, so an error here is rare (e.g. a file changed between).
	if err := m.mgr.Update(interval, files, labels.EmptyLabels(), m.externalURL, m.quality.evalIteration); err != nil {
		return fmt.Errorf("load rule files: %w", err)
	}
	groups, rulesN := 0, 0
	for _, g := range m.mgr.RuleGroups() {
		groups++
		rulesN += len(g.Rules())
	}
	m.logger.Info("rules loaded", "files", len(files), "groups", groups, "rules", rulesN, "evaluation_interval", interval.String())
	m.quality.check(m.mgr.RuleGroups())
	return nil
}

// Check expands the globs and parses every file as Prometheus does (rulefmt: YAML,
// groups, expressions, templates), returning the files or every problem found. Each
// problem names the file and, where it has them, the line:column, group and rule.
func Check(patterns []string) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	for _, pat := range patterns {
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("rule files %q: %w", pat, err)
		}
		for _, f := range matches {
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	var errs []error
	for _, f := range files {
		_, fileErrs := rulefmt.ParseFile(f, false)
		errs = append(errs, fileErrs...) // each starts with the file name
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid rule files: %w", errors.Join(errs...))
	}
	return files, nil
}

// Start loads the rule files given to Load and starts evaluating them. A bad file fails
// Start with the error Load would give.
func (m *Manager) Start(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started || m.stopped {
		return errors.New("rules manager already started")
	}
	files, err := Check(m.patterns)
	if err != nil {
		return err
	}
	if err := m.update(files, m.interval); err != nil {
		return err
	}
	m.started = true
	go func() {
		defer close(m.done)
		m.mgr.Run()
	}()
	return nil
}

// Shutdown stops evaluation, waiting for running evaluations to end. Safe without Start
// and safe twice.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return nil
	}
	m.stopped = true
	defer m.cancel()
	if !m.started {
		return nil
	}
	m.mgr.Stop()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop rules manager: %w", ctx.Err())
	}
}

// RuleGroups returns the loaded groups (for /api/v1/rules).
func (m *Manager) RuleGroups() []*rules.Group { return m.mgr.RuleGroups() }

// AlertingRules returns the loaded alerting rules (for /api/v1/alerts).
func (m *Manager) AlertingRules() []*rules.AlertingRule { return m.mgr.AlertingRules() }
