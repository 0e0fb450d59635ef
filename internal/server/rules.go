package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/loupe-dev/loupe/internal/alerting"
	lokiapi "github.com/loupe-dev/loupe/internal/api/loki"
	"github.com/loupe-dev/loupe/internal/query/logql"
	"github.com/loupe-dev/loupe/internal/query/logql/plan"
	"github.com/loupe-dev/loupe/internal/rules"
)

// newAlerting builds, with alerting.alertmanager_config, the embedded Alertmanager that
// receives the alerts of the rules (a bad configuration stops the server), and with
// alerting.alertmanagers the sender to external ones. They are built before the stores
// and the tenants, whose rules send to them too, and started with the rules (Start).
func (s *Server) newAlerting() error {
	if file := s.cfg.AlertmanagerConfigFile(); file != "" {
		amOpts := alerting.DefaultOptions()
		amOpts.ConfigFile, amOpts.ExternalURL = file, s.cfg.AlertingURL()
		amOpts.DataDir = filepath.Join(s.cfg.DataDir, "alertmanager")
		am, err := alerting.New(amOpts, s.logger.With("component", "alertmanager"), s.reg)
		if err != nil {
			return err
		}
		s.add(am) // started by Start before the rules; Shutdown is safe without Start
		s.am = am
	}
	if urls := s.cfg.Alerting.Alertmanagers; len(urls) > 0 {
		ext, err := alerting.NewExternal(urls, s.logger.With("component", "notifier"), s.reg)
		if err != nil {
			return err
		}
		s.add(ext) // started with the embedded one, before the rules
		s.ext = ext
	}
	return nil
}

// alertSenders are where the alerts of this server's rules go: its Alertmanagers, or for
// a tenant's server its parent's, with the label tenant="ID" added (tenants.rules_dir).
func (s *Server) alertSenders() []alerting.Sender {
	if s.parent != nil {
		var out []alerting.Sender
		for _, x := range s.parent.alertSenders() {
			out = append(out, tenantSender{next: x, tenant: s.cfg.Tenants.Default})
		}
		return out
	}
	var out []alerting.Sender
	if s.am != nil {
		out = append(out, s.am)
	}
	if s.ext != nil {
		out = append(out, s.ext)
	}
	return out
}

// tenantSender labels each alert with its tenant before handing it on, so that the
// Alertmanager can route a tenant's alerts (and two tenants' alerts never merge).
type tenantSender struct {
	next   alerting.Sender
	tenant string
}

func (t tenantSender) Send(alerts ...*notifier.Alert) {
	out := make([]*notifier.Alert, len(alerts))
	for i, a := range alerts {
		cp := *a
		b := labels.NewBuilder(a.Labels)
		b.Set("tenant", t.tenant)
		cp.Labels = b.Labels()
		out[i] = &cp
	}
	t.next.Send(out...)
}

// newRules builds the rule manager over the metric store with the Prometheus API's engine,
// so that rule queries share its limits and metrics, and checks the rule files: a bad one
// stops the server from starting. The alerts go to alertSenders. It is started with the
// other parts (Start) and reloaded by Reload.
func (s *Server) newRules(engine promql.QueryEngine, metrics rules.Storage, logs plan.Store) (*rules.Manager, error) {
	opts := rules.DefaultOptions()
	// LogQL rules (rules.logql_files) run in an engine of their own over the log store,
	// with the limits of the Loki query API.
	lokiOpts := lokiapi.DefaultOptions()
	lokiOptions(&lokiOpts, s.cfg.Query)
	opts.LogQL = logql.NewEngine(logs, lokiOpts.Engine, s.logger.With("component", "rules-logql"))
	opts.LogQLTimeout = lokiOpts.QueryTimeout
	opts.ExternalURL = s.cfg.AlertingURL()
	opts.ForGracePeriod = time.Duration(s.cfg.Rules.ForGracePeriod)
	opts.OutageTolerance = time.Duration(s.cfg.Rules.ForOutageTolerance)
	opts.ResendDelay = time.Duration(s.cfg.Rules.ResendDelay)
	if senders := s.alertSenders(); len(senders) > 0 {
		opts.Notify = alerting.NotifyFunc(opts.ExternalURL.String(), senders...)
		opts.LogQLNotify = rules.LogQLNotifyFunc(sendAll(senders), opts.ExternalURL.String())
	}
	m := rules.New(engine, metrics, opts, s.logger.With("component", "rules"), s.reg)
	if err := m.Load(s.cfg.RuleFiles(), s.cfg.LogQLRuleFiles(), time.Duration(s.cfg.Rules.EvaluationInterval)); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return m, nil
}

// rulesRetriever answers /api/v1/rules and /api/v1/alerts from the rule manager, which
// routes sets before the HTTP port opens.
func (s *Server) rulesRetriever(context.Context) v1.RulesRetriever { return s.rules }

// alertmanagers answers /api/v1/alertmanagers: the external Alertmanagers (none when
// s.ext is nil, which External allows).
func (s *Server) alertmanagers(context.Context) v1.AlertmanagerRetriever { return s.ext }

// sendAll sends to every sender, for rules.LogQLNotifyFunc.
type sendAll []alerting.Sender

func (s sendAll) Send(alerts ...*notifier.Alert) {
	for _, x := range s {
		x.Send(alerts...)
	}
}
