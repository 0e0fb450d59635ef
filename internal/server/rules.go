package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/loupe-dev/loupe/internal/alerting"
	lokiapi "github.com/loupe-dev/loupe/internal/api/loki"
	"github.com/loupe-dev/loupe/internal/query/logql"
	"github.com/loupe-dev/loupe/internal/query/logql/plan"
	"github.com/loupe-dev/loupe/internal/rules"
)

// newRules builds the rule manager over the metric store with the Prometheus API's engine,
// so that rule queries share its limits and metrics, and checks the rule files: a bad one
// stops the server from starting. With alerting.alertmanager_config it builds the embedded
// Alertmanager that receives the alerts (a bad configuration stops the server too), and
// with alerting.alertmanagers the sender to external ones. It is started with the other
// parts (Start) and reloaded by Reload.
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
	var senders []alerting.Sender
	if file := s.cfg.AlertmanagerConfigFile(); file != "" {
		amOpts := alerting.DefaultOptions()
		amOpts.ConfigFile, amOpts.ExternalURL = file, opts.ExternalURL
		amOpts.DataDir = filepath.Join(s.cfg.DataDir, "alertmanager")
		am, err := alerting.New(amOpts, s.logger.With("component", "alertmanager"), s.reg)
		if err != nil {
			return nil, err
		}
		s.add(am) // started by Start before the rules; Shutdown is safe without Start
		s.am = am
		senders = append(senders, am)
	}
	if urls := s.cfg.Alerting.Alertmanagers; len(urls) > 0 {
		ext, err := alerting.NewExternal(urls, s.logger.With("component", "notifier"), s.reg)
		if err != nil {
			return nil, err
		}
		s.add(ext) // started with the embedded one, before the rules
		s.ext = ext
		senders = append(senders, ext)
	}
	if len(senders) > 0 {
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
