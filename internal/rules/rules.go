// Package rules evaluates Prometheus recording and alerting rule files over Loupe's metric
// store with Prometheus' own rule manager, and Loki's LogQL rule files over the log store
// with a second one (logql.go).
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
	"strings"
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
	// LogQL evaluates the rules of LogQL rule files. Nil: LogQL rule files are refused.
	LogQL LogQLEngine
	// LogQLNotify is Notify for the alerts of LogQL rules (LogQLNotifyFunc links them to
	// the LogQL view). Nil: Notify.
	LogQLNotify rules.NotifyFunc
	// LogQLTimeout bounds each LogQL rule query (the PromQL engine has its own timeout).
	LogQLTimeout time.Duration
}

// DefaultOptions returns Prometheus' defaults: `for` state restored after an outage of up
// to 1h, with at least 10m of grace; alerts re-sent every minute.
func DefaultOptions() Options {
	return Options{
		ExternalURL:     &url.URL{Scheme: "http", Host: "localhost:7070", Path: "/"},
		OutageTolerance: time.Hour,
		ForGracePeriod:  10 * time.Minute,
		ResendDelay:     time.Minute,
		LogQLTimeout:    2 * time.Minute,
	}
}

// Manager runs rule files. It follows the server's component lifecycle (Start, Shutdown)
// and answers /api/v1/rules and /api/v1/alerts as a v1.RulesRetriever. Its methods are
// safe for concurrent use.
type Manager struct {
	mgr         *rules.Manager // PromQL rule files
	logMgr      *rules.Manager // LogQL rule files (logql.go)
	hasLogQL    bool           // an engine for logMgr was given
	externalURL string
	logger      *slog.Logger
	cancel      context.CancelFunc
	quality     *quality // annotation warnings and alert state changes (quality.go)

	mu          sync.Mutex // serialises Load, Start and Shutdown
	patterns    []string
	logPatterns []string
	interval    time.Duration
	started     bool
	stopped     bool
	done        chan struct{} // closed when both managers' Run return
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
	m := &Manager{externalURL: opts.ExternalURL.String(), logger: logger, cancel: cancel, done: make(chan struct{}),
		hasLogQL: opts.LogQL != nil}
	m.quality = newQuality(logger, reg)
	// One set of prometheus_rule_* metrics for both managers: their groups differ by file.
	metrics := rules.NewGroupMetrics(reg)
	mopts := func(query rules.QueryFunc, notify rules.NotifyFunc, logger *slog.Logger) *rules.ManagerOptions {
		return &rules.ManagerOptions{
			ExternalURL:     opts.ExternalURL,
			QueryFunc:       query,
			NotifyFunc:      notify,
			Context:         ctx,
			Appendable:      st,
			Queryable:       st,
			Logger:          logger,
			Metrics:         metrics,
			OutageTolerance: opts.OutageTolerance,
			ForGracePeriod:  opts.ForGracePeriod,
			ResendDelay:     opts.ResendDelay,
			// Prometheus' defaults: rules of a group evaluated in order, no query offset.
			DefaultRuleQueryOffset: func() time.Duration { return 0 },
		}
	}
	m.mgr = rules.NewManager(mopts(rules.EngineQueryFunc(engine, st), notify, logger))
	logNotify := opts.LogQLNotify
	if logNotify == nil {
		logNotify = notify
	}
	logOpts := mopts(func(context.Context, string, time.Time) (promql.Vector, error) {
		return nil, errors.New("no LogQL engine")
	}, logNotify, logger.With("rules", "logql"))
	if opts.LogQL != nil {
		logOpts.QueryFunc = logqlQueryFunc(opts.LogQL, opts.LogQLTimeout)
	}
	logOpts.GroupLoader = logqlLoader{}
	logOpts.RuleDependencyController = noDependencies{}
	m.logMgr = rules.NewManager(logOpts)
	return m
}

// Load checks the PromQL rule files matching patterns and the LogQL ones matching
// logPatterns and, when every one is valid, makes them the running rules; groups without
// an interval get interval. A bad file is refused with an error naming each problem's
// file, position, group and rule, and the running rules are kept. Before Start it only
// records what Start will load.
func (m *Manager) Load(patterns, logPatterns []string, interval time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	files, logFiles, err := m.check(patterns, logPatterns)
	if err != nil {
		return err
	}
	if m.stopped {
		return errors.New("rules manager stopped")
	}
	if !m.started {
		m.patterns, m.logPatterns, m.interval = slices.Clone(patterns), slices.Clone(logPatterns), interval
		return nil
	}
	return m.update(files, logFiles, interval)
}

// check runs Check and CheckLogQL; a file may not be both.
func (m *Manager) check(patterns, logPatterns []string) (files, logFiles []string, err error) {
	// Said first: such a file fails one of the two checks, for a reason less plain.
	if files, err = expand(patterns); err != nil {
		return nil, nil, err
	}
	if logFiles, err = expand(logPatterns); err != nil {
		return nil, nil, err
	}
	for _, f := range logFiles {
		if slices.Contains(files, f) {
			return nil, nil, fmt.Errorf("rule file %s is named both in rules.files (PromQL) and in rules.logql_files", f)
		}
	}
	files, err = Check(patterns)
	if err != nil {
		return nil, nil, err
	}
	logFiles, err = CheckLogQL(logPatterns)
	if err != nil {
		return nil, nil, err
	}
	if len(logFiles) > 0 && !m.hasLogQL {
		return nil, nil, errors.New("LogQL rule files given but no log store to evaluate them")
	}
	return files, logFiles, nil
}

func (m *Manager) update(files, logFiles []string, interval time.Duration) error {
	// Update logs the detailed errors and keeps the running rules; Check has already
	// reported what it can name, so an error here is rare (e.g. a file changed between).
	if err := m.mgr.Update(interval, files, labels.EmptyLabels(), m.externalURL, m.quality.evalIteration); err != nil {
		return fmt.Errorf("load rule files: %w", err)
	}
	if err := m.logMgr.Update(interval, logFiles, labels.EmptyLabels(), m.externalURL, m.quality.evalIteration); err != nil {
		return fmt.Errorf("load LogQL rule files: %w", err)
	}
	count := func(mgr *rules.Manager) (groups, rulesN int) {
		for _, g := range mgr.RuleGroups() {
			groups++
			rulesN += len(g.Rules())
		}
		return groups, rulesN
	}
	groups, rulesN := count(m.mgr)
	logGroups, logRules := count(m.logMgr)
	m.logger.Info("rules loaded", "files", len(files), "groups", groups, "rules", rulesN,
		"logql_files", len(logFiles), "logql_groups", logGroups, "logql_rules", logRules, "evaluation_interval", interval.String())
	m.quality.check(append(m.mgr.RuleGroups(), m.logMgr.RuleGroups()...))
	return nil
}

// Check expands the globs and parses every file as Prometheus does (rulefmt: YAML,
// groups, expressions, templates), returning the files or every problem found. Each
// problem names the file and, where it has them, the line:column, group and rule.
func Check(patterns []string) ([]string, error) {
	return checkFiles(patterns, rulefmt.ParseFile)
}

// CheckLogQL is Check for LogQL rule files (Loki's ruler format): the expressions are
// checked as LogQL metric queries.
func CheckLogQL(patterns []string) ([]string, error) {
	return checkFiles(patterns, func(f string, _ bool) (*rulefmt.RuleGroups, []error) { return parseLogQLFile(f) })
}

func checkFiles(patterns []string, parse func(string, bool) (*rulefmt.RuleGroups, []error)) ([]string, error) {
	files, err := expand(patterns)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, f := range files {
		_, fileErrs := parse(f, false)
		errs = append(errs, fileErrs...) // each starts with the file name
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid rule files: %w", errors.Join(errs...))
	}
	return files, nil
}

// expand returns the files matching the globs, each once.
func expand(patterns []string) ([]string, error) {
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
	files, logFiles, err := m.check(m.patterns, m.logPatterns)
	if err != nil {
		return err
	}
	if err := m.update(files, logFiles, m.interval); err != nil {
		return err
	}
	m.started = true
	var wg sync.WaitGroup
	for _, mgr := range []*rules.Manager{m.mgr, m.logMgr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mgr.Run()
		}()
	}
	go func() {
		wg.Wait()
		close(m.done)
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
	m.logMgr.Stop()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop rules manager: %w", ctx.Err())
	}
}

// RuleGroups returns the loaded groups, PromQL and LogQL, sorted by file and name (for
// /api/v1/rules, which lists every rule of Loupe; LogQL() has the LogQL ones alone).
func (m *Manager) RuleGroups() []*rules.Group {
	groups := append(m.mgr.RuleGroups(), m.logMgr.RuleGroups()...)
	slices.SortStableFunc(groups, func(a, b *rules.Group) int {
		if c := strings.Compare(a.File(), b.File()); c != 0 {
			return c
		}
		return strings.Compare(a.Name(), b.Name())
	})
	return groups
}

// AlertingRules returns the loaded alerting rules, PromQL and LogQL (for /api/v1/alerts).
func (m *Manager) AlertingRules() []*rules.AlertingRule {
	return append(m.mgr.AlertingRules(), m.logMgr.AlertingRules()...)
}

// LogQL returns the LogQL groups and alerting rules, for Loki's rules API. Their queries
// (Rule.Query().String()) are LogQL.
func (m *Manager) LogQL() LogQLRules { return LogQLRules{m.logMgr} }

// LogQLRules answers RuleGroups and AlertingRules with the LogQL rules, as Manager does
// with the PromQL ones.
type LogQLRules struct{ mgr *rules.Manager }

// RuleGroups returns the loaded LogQL groups, sorted by file and name.
func (l LogQLRules) RuleGroups() []*rules.Group { return l.mgr.RuleGroups() }

// AlertingRules returns the loaded LogQL alerting rules.
func (l LogQLRules) AlertingRules() []*rules.AlertingRule { return l.mgr.AlertingRules() }
