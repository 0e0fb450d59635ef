package server

import (
	"fmt"
	"net/http"

	"github.com/loupe-dev/loupe/internal/ingest/sentry"
	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// withSentry serves the Sentry ingest paths (/api/<project>/envelope/ and /store/) in front
// of next: transactions go through the pipeline as spans, check-ins become runs, and
// events go to rec.
func (s *Server) withSentry(next http.Handler, events *duck.Store, pipe *pipeline.Pipeline, rec sentry.EventRecorder) (http.Handler, error) {
	projects, err := sentry.NewProjects(s.cfg.Sentry, s.cfg.Sentry.KeysPath(s.cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("sentry projects: %w", err)
	}
	opts := sentry.DefaultOptions()
	opts.MaxRequestBytes = int64(s.cfg.Limits.MaxRequestBytes)
	sinks := sentry.Sinks{Events: rec, Spans: pipe, Runs: events}
	h := sentry.NewHandler(projects, sinks, opts, s.logger.With("component", "sentry"), s.reg)
	return sentry.Mount(next, h), nil
}
