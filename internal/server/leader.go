package server

import (
	"context"
)

// Work that must happen once per store (storage.clickhouse.leader, docs/scale-out.md): the
// periodic parts that write. Several nodes sharing one ClickHouse database each ingest and
// answer queries, but only the leader runs these, so that rules are not evaluated (and
// their alerts sent) once per node, partitions not dropped by every node, a missed Sentry
// check-in not recorded by each, and a scrape target not scraped N times.
const (
	onceScrape    = "scrape"    // Prometheus scrape jobs (scrape section)
	onceProfiling = "profiling" // pprof scrape jobs (profiling section)
	onceRules     = "rules"     // rule evaluation and alert sending
	onceRetention = "retention" // the retention loop's partition drops (TTL applies anyway)
	onceCrons     = "crons"     // Sentry Crons' missed and timed-out check-ins
)

// startOnce starts c, work that must happen once per store, on the leader. On another node
// c is only registered, so that Shutdown (safe without Start for each of them) releases it,
// and whatever it serves besides its loop (the rules API, check-ins passed to the runs
// store) goes on working.
func (s *Server) startOnce(ctx context.Context, what string, c component) error {
	if !s.cfg.Storage.RunsOnceWork() {
		s.add(c)
		s.onceSkipped = append(s.onceSkipped, what)
		return nil
	}
	if err := s.start(ctx, c); err != nil {
		return err
	}
	s.onceStarted = append(s.onceStarted, what)
	return nil
}

// logLeadership says at start which once-only work this node runs or leaves to the leader.
func (s *Server) logLeadership() {
	if len(s.onceSkipped) > 0 {
		s.logger.Info("not the leader (storage.clickhouse.leader: false): the leader runs this work", "skipped", s.onceSkipped)
	}
}
