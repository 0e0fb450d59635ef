// Package profiles serves Loupe's JSON API for continuous profiles under
// /api/loupe/v1/profiles/ (docs/profiles.md): profile types, labels, merged flame graphs
// with their top functions, diffs, series over time, the spans that ran a function, and
// pprof export for `go tool pprof`. It reads through store.ProfileReader and lays out
// results with internal/profile/flame.
package profiles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/loupe-dev/loupe/internal/querylimit"
	"github.com/loupe-dev/loupe/internal/store"
)

// Prefix is the path every route of this API starts with.
const Prefix = "/api/loupe/v1/profiles/"

// ExprParams are the parameters that hold a label selector, for the server's expression
// limits (querylimit.CheckParams).
var ExprParams = []string{"query", "left_query", "right_query"}

// API is the http.Handler for paths under Prefix. It is safe for concurrent use.
type API struct {
	reader store.ProfileReader
	logger *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
}

// New returns the API over r. A nil logger discards logs.
func New(r store.ProfileReader, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &API{reader: r, logger: logger, now: time.Now, mux: http.NewServeMux()}
	a.handle("types", a.types)
	a.handle("labels", a.labelNames)
	a.handle("labels/{name}/values", a.labelValues)
	a.handle("flamegraph", a.flamegraph)
	a.handle("diff", a.diff)
	a.handle("series", a.series)
	a.handle("spans", a.spans)
	a.mux.HandleFunc(Prefix+"pprof", a.get(a.pprof))
	a.mux.HandleFunc(Prefix, a.get(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{status: http.StatusNotFound, err: fmt.Errorf("no endpoint %s", r.URL.Path)}
	}))
	return a
}

// ServeHTTP routes a request under Prefix.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// jsonFunc handles a JSON route: it returns the data of the success envelope or an error.
type jsonFunc func(r *http.Request) (any, error)

func (a *API) handle(route string, f jsonFunc) {
	a.mux.HandleFunc(Prefix+route, a.get(func(w http.ResponseWriter, r *http.Request) error {
		data, err := f(r)
		if err != nil {
			return err
		}
		a.writeJSON(w, r, http.StatusOK, envelope{Status: "success", Data: data})
		return nil
	}))
}

// get answers GET and HEAD with f, other methods with 405, and turns f's error (or a
// panic) into the native API's error envelope.
func (a *API) get(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			a.writeError(w, r, &httpError{status: http.StatusMethodNotAllowed, typ: "method_not_allowed",
				err: fmt.Errorf("method %s not allowed, use GET", r.Method)})
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.logger.Error("panic in profiles API", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				a.writeError(w, r, errors.New("internal error (logged on the server)"))
			}
		}()
		if err := f(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// envelope is the native API's answer: {"status":"success","data":...} or
// {"status":"error","errorType":"bad_data","error":"..."}.
type envelope struct {
	Status    string `json:"status"`
	Data      any    `json:"data,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error,omitempty"`
}

// httpError is an error with the status the client sees.
type httpError struct {
	status int
	typ    string
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func badRequest(err error) error {
	return &httpError{status: http.StatusBadRequest, typ: "bad_data", err: err}
}

// statusClientClosedRequest is nginx's status for a client that went away.
const statusClientClosedRequest = 499

// writeError maps err to a status: parameter errors are 400, a cancelled request 499, a
// timed-out one 503 (naming query.timeout), anything else a logged 500.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	ctxErr := r.Context().Err()
	switch {
	case errors.As(err, &he):
	case errors.Is(err, context.Canceled) || errors.Is(ctxErr, context.Canceled):
		he = &httpError{status: statusClientClosedRequest, typ: "canceled", err: err}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctxErr, context.DeadlineExceeded):
		he = &httpError{status: http.StatusServiceUnavailable, typ: "timeout", err: querylimit.Timeout(r.Context(), err)}
	default:
		a.logger.Error("profiles API request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
		he = &httpError{status: http.StatusInternalServerError, typ: "internal", err: err}
	}
	if he.typ == "" {
		he.typ = "bad_data"
	}
	a.writeJSON(w, r, he.status, envelope{Status: "error", ErrorType: he.typ, Error: he.err.Error()})
}

func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, status int, body envelope) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		a.logger.Debug("write response", "path", r.URL.Path, "err", err)
	}
}
