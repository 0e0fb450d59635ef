package server

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/prometheus/prometheus/promql"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/loupe-dev/loupe/internal/rules"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// newRules builds the rule manager over the metric store with the Prometheus API's engine,
// so that rule queries share its limits and metrics, and checks the rule files: a bad one
// stops the server from starting. It is started with the other parts (Start) and reloaded
// by Reload.
func (s *Server) newRules(engine promql.QueryEngine, metrics *tsdb.Store) (*rules.Manager, error) {
	opts := rules.DefaultOptions()
	opts.ExternalURL = &url.URL{Scheme: "http", Host: s.cfg.Listen.HTTP, Path: "/"}
	m := rules.New(engine, metrics, opts, s.logger.With("component", "rules"), s.reg)
	if err := m.Load(s.cfg.RuleFiles(), time.Duration(s.cfg.Rules.EvaluationInterval)); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return m, nil
}

// rulesRetriever answers /api/v1/rules and /api/v1/alerts from the rule manager, which
// routes sets before the HTTP port opens.
func (s *Server) rulesRetriever(context.Context) v1.RulesRetriever { return s.rules }
