package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/prometheus/promql"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/loupe-dev/loupe/internal/alerting"
	"github.com/loupe-dev/loupe/internal/rules"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// newRules builds the rule manager over the metric store with the Prometheus API's engine,
// so that rule queries share its limits and metrics, and checks the rule files: a bad one
// stops the server from starting. With alerting.alertmanager_config it builds the embedded
// Alertmanager that receives the alerts (a bad configuration stops the server too). It is started with the other parts (Start) and reloaded
// by Reload.
func (s *Server) newRules(engine promql.QueryEngine, metrics *tsdb.Store) (*rules.Manager, error) {
	opts := rules.DefaultOptions()
	opts.ExternalURL = s.cfg.AlertingURL()
	if file := s.cfg.AlertmanagerConfigFile(); file != "" {
		amOpts := alerting.DefaultOptions()
		amOpts.ConfigFile, amOpts.ExternalURL = file, opts.ExternalURL
		amOpts.DataDir = filepath.Join(s.cfg.DataDir, "alertmanager")
		am, err := alerting.New(amOpts, s.logger.With("component", "alertmanager"), s.reg)
		if err != nil {
			return nil, err
		}
		s.add(am) // Started by Start before the rules; Shutdown is safe without Start
		s.am = am
		opts.Notify = alerting.NotifyFunc(opts.ExternalURL.String(), am)
	}
	m := rules.New(engine, metrics, opts, s.logger.With("component", "rules"), s.reg)
	if err := m.Load(s.cfg.RuleFiles(), time.Duration(s.cfg.Rules.EvaluationInterval)); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return m, nil
}

// rulesRetriever answers /api/v1/rules and /api/v1/alerts from the rule manager, which
// routes sets before the HTTP port opens.
func (s *Server) rulesRetriever(context.Context) v1.RulesRetriever { return s.rules }
