package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/loupe-dev/loupe/internal/crons"
	"github.com/loupe-dev/loupe/internal/ingest/sentry"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/runs"
)

// withSentry serves the Sentry ingest paths (/api/<project>/envelope/ and /store/) in front
// of next: transactions go through the pipeline as spans, check-ins become runs (and the
// watcher of their monitors records missed and timed-out ones) written through runWriter,
// which also writes the run series rules alert on (internal/derived), and events go to rec.
func (s *Server) withSentry(next http.Handler, runReader runs.Reader, runWriter runs.Writer, pipe *pipeline.Pipeline, rec sentry.EventRecorder) (http.Handler, error) {
	projects, err := sentry.NewProjects(s.cfg.Sentry, s.cfg.Sentry.KeysPath(s.cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("sentry projects: %w", err)
	}
	s.sentryProjects = projects // a tenant's DSN keys choose the tenant (tenants.go)
	opts := sentry.DefaultOptions()
	opts.MaxRequestBytes = int64(s.cfg.Limits.MaxRequestBytes)
	// Check-ins go to the runs store through the Crons monitor watcher, which records the
	// missed and timed-out ones. Started here, it stops after the HTTP server, before the
	// stores close.
	watcher := crons.New(runWriter, runReader, crons.Options{Tick: time.Duration(s.cfg.Sentry.CronsCheckInterval)},
		s.logger.With("component", "crons"))
	if err := s.startOnce(context.Background(), onceCrons, watcher); err != nil {
		return nil, fmt.Errorf("start crons watcher: %w", err)
	}
	sinks := sentry.Sinks{Events: rec, Spans: pipe, Runs: watcher}
	h := sentry.NewHandler(projects, sinks, opts, s.logger.With("component", "sentry"), s.reg)
	return sentry.Mount(next, h), nil
}
