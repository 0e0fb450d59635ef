// Package native serves Loupe's own JSON API for logs, traces and runs under /api/loupe/v1/,
// used by the web UI and the CLI.
package native

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/runs"
	"github.com/loupe-dev/loupe/internal/store"
)

// Prefix is the path every route of this API starts with.
const Prefix = "/api/loupe/v1/"

// API answers queries about logs and traces by calling the store readers. It is an
// http.Handler for paths under Prefix and is safe for concurrent use.
type API struct {
	logs   store.LogReader
	traces store.TraceReader
	runs   runs.Reader    // set by WithRuns (runs.go)
	issues errtrack.Store // set by WithIssues (issues.go)
	logger *slog.Logger
	now    func() time.Time // the clock that resolves "now-1h" and the default range
	mux    *http.ServeMux

	listeners func() Listeners // the bound addresses; set by WithListeners (status.go)
}

// New returns the API over the given readers. A nil reader makes its routes answer 503
// (for a server started without that signal); a nil logger discards logs. Mount the
// result at Prefix: mux.Handle(native.Prefix, native.New(...)).
func New(logs store.LogReader, traces store.TraceReader, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &API{logs: logs, traces: traces, logger: logger, now: time.Now, mux: http.NewServeMux()}
	// Patterns carry no method: serve answers other methods itself, with a JSON 405.
	a.handle("logs", a.needLogs(a.queryLogs))
	a.handle("logs/counts", a.needLogs(a.countLogs))
	a.handle("traces", a.needTraces(a.findTraces))
	a.handle("traces/{trace_id}", a.needTraces(a.getTrace))
	a.handle("services", a.needTraces(a.services))
	a.handle("services/{service}/span_names", a.needTraces(a.spanNames))
	a.registerRED() // services/red, in red.go
	a.registerRuns()
	a.registerIssues()
	a.handle("status", a.status) // status.go
	a.mux.HandleFunc(Prefix, a.serve(func(r *http.Request) result {
		return result{err: &apiError{typ: errNotFound, err: fmt.Errorf("no endpoint %s", r.URL.Path)}}
	}))
	return a
}

func (a *API) handle(route string, f apiFunc) {
	a.mux.HandleFunc(Prefix+route, a.serve(f))
}

// ServeHTTP routes a request under Prefix to its handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

var (
	errNoLogs   = errors.New("this server has no log store")
	errNoTraces = errors.New("this server has no trace store")
)

func (a *API) needLogs(f apiFunc) apiFunc {
	if a.logs != nil {
		return f
	}
	return func(*http.Request) result { return result{err: &apiError{typ: errUnavailable, err: errNoLogs}} }
}

func (a *API) needTraces(f apiFunc) apiFunc {
	if a.traces != nil {
		return f
	}
	return func(*http.Request) result { return result{err: &apiError{typ: errUnavailable, err: errNoTraces}} }
}
