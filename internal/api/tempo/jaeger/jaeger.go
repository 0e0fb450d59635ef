// Package jaeger serves the Jaeger query HTTP APIs over a store.TraceReader: the v1 API
// (services, operations, trace search, trace by id in Jaeger's JSON model, dependencies)
// for Grafana's Jaeger data source and older Jaeger UIs, and api_v3 (OTLP JSON) for the
// current Jaeger UI.
//
// Tempo's API owns /api/traces/<id> at the root of the server, so this API lives under
// Prefix: Grafana's Jaeger data source URL is then http://<host>:7070/jaeger.
package jaeger

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

// Prefix is the path the API is mounted at: mux.Handle(jaeger.Prefix, jaeger.New(...)).
const Prefix = "/jaeger/"

// API serves the Jaeger query API under Prefix. Safe for concurrent use.
type API struct {
	traces store.TraceReader
	logger *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
}

// New returns the API over traces. A nil traces makes every route answer 503; a nil
// logger discards logs.
func New(traces store.TraceReader, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &API{traces: traces, logger: logger, now: time.Now, mux: http.NewServeMux()}
	a.handle("api/services", a.services)
	a.handle("api/services/{service}/operations", a.serviceOperations)
	a.handle("api/operations", a.operations)
	a.handle("api/traces", a.findTraces)
	a.handle("api/traces/{id}", a.getTrace)
	a.handle("api/dependencies", a.dependencies)
	a.handleV3("api/v3/services", a.servicesV3)
	a.handleV3("api/v3/operations", a.operationsV3)
	a.handleV3("api/v3/traces", a.findTracesV3)
	a.handleV3("api/v3/traces/{trace_id}", a.traceV3)
	a.mux.HandleFunc(Prefix, a.serve(func(r *http.Request) result {
		return result{err: &apiError{status: http.StatusNotFound, err: fmt.Errorf("no endpoint %s", r.URL.Path)}}
	}))
	return a
}

func (a *API) handle(route string, f apiFunc) {
	if a.traces == nil {
		f = func(*http.Request) result {
			return result{err: &apiError{status: http.StatusServiceUnavailable, err: errors.New("this server has no trace store")}}
		}
	}
	a.mux.HandleFunc(Prefix+route, a.serve(f))
}

// ServeHTTP routes a request under Prefix.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// response is the envelope of every Jaeger query answer.
type response struct {
	Data   any         `json:"data"`
	Total  int         `json:"total"`
	Limit  int         `json:"limit"`
	Offset int         `json:"offset"`
	Errors []respError `json:"errors"`
}

type respError struct {
	Code    int    `json:"code"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID,omitempty"`
}

type apiError struct {
	status int
	err    error
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, err: fmt.Errorf(format, args...)}
}

// result is what a handler returns: err, or data with the total count of its items.
type result struct {
	data  any
	total int
	limit int
	err   error
}

type apiFunc func(r *http.Request) result

// serve adapts an apiFunc: GET only, a panic becomes a logged 500, the result is written
// in Jaeger's envelope with the status in one place.
func (a *API) serve(f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.logger.Error("panic in Jaeger API handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				a.write(w, r, http.StatusInternalServerError, response{Errors: []respError{{Code: 500, Msg: "internal error (logged on the server)"}}})
			}
		}()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			a.writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, err: fmt.Errorf("method %s not allowed, use GET", r.Method)})
			return
		}
		res := f(r)
		if res.err != nil {
			a.writeError(w, r, res.err)
			return
		}
		a.write(w, r, http.StatusOK, response{Data: res.data, Total: res.total, Limit: res.limit})
	}
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	aerr := a.classify(r, err)
	a.write(w, r, aerr.status, response{Errors: []respError{{Code: aerr.status, Msg: aerr.err.Error()}}})
}

func (a *API) write(w http.ResponseWriter, r *http.Request, status int, body response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		a.logger.Debug("write response", "path", r.URL.Path, "err", err)
	}
}

// classify gives err its HTTP status (and logs the unexpected ones), for both API versions.
func (a *API) classify(r *http.Request, err error) *apiError {
	var aerr *apiError
	ctxErr := r.Context().Err()
	switch {
	case errors.As(err, &aerr):
	case errors.Is(err, store.ErrNotFound):
		aerr = &apiError{status: http.StatusNotFound, err: errors.New("trace not found")}
	case errors.Is(err, store.ErrBadInput):
		aerr = &apiError{status: http.StatusBadRequest, err: err}
	case errors.Is(err, context.Canceled) || errors.Is(ctxErr, context.Canceled):
		aerr = &apiError{status: 499, err: err}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctxErr, context.DeadlineExceeded):
		aerr = &apiError{status: http.StatusServiceUnavailable, err: querylimit.Timeout(r.Context(), err)}
	default:
		aerr = &apiError{status: http.StatusInternalServerError, err: err}
		a.logger.Error("Jaeger API request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
	}
	return aerr
}
