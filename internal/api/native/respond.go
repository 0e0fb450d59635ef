package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"

	"github.com/loupe-dev/loupe/internal/querylimit"
	"github.com/loupe-dev/loupe/internal/store"
)

// errorType classifies an error for the client; each maps to one HTTP status.
type errorType string

const (
	errBadData          errorType = "bad_data"
	errNotFound         errorType = "not_found"
	errMethodNotAllowed errorType = "method_not_allowed"
	errCanceled         errorType = "canceled"
	errTimeout          errorType = "timeout"
	errUnavailable      errorType = "unavailable"
	errInternal         errorType = "internal"
)

// statusClientClosedRequest is nginx's (and Prometheus') status for a request whose client
// went away; nobody reads it, but it keeps such requests out of the 5xx counts.
const statusClientClosedRequest = 499

func (t errorType) status() int {
	switch t {
	case errBadData:
		return http.StatusBadRequest
	case errNotFound:
		return http.StatusNotFound
	case errMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case errCanceled:
		return statusClientClosedRequest
	case errTimeout, errUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// apiError is an error with the class the client sees.
type apiError struct {
	typ errorType
	err error
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %v", e.typ, e.err) }
func (e *apiError) Unwrap() error { return e.err }

func badData(err error) *apiError { return &apiError{typ: errBadData, err: err} }

// badParam reports an invalid query parameter; the message names it, err names the value.
func badParam(name string, err error) *apiError {
	return badData(fmt.Errorf("parameter %q: %w", name, err))
}

// result is what a handler returns; serve writes it. Exactly one of err, data and raw is
// used: err wins, then raw (bytes written verbatim as application/json, for OTLP JSON),
// then data (wrapped in the success envelope).
type result struct {
	data any
	raw  []byte
	err  error
}

// apiFunc handles one route. It reads the request and returns a result without writing
// anything, so it can be tested without a ResponseWriter.
type apiFunc func(r *http.Request) result

type envelope struct {
	Status    string    `json:"status"`
	Data      any       `json:"data,omitempty"`
	ErrorType errorType `json:"errorType,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// serve adapts an apiFunc to an http.HandlerFunc: it enforces GET and answers with
// respond.
func (a *API) serve(f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			a.writeError(w, r, &apiError{typ: errMethodNotAllowed,
				err: fmt.Errorf("method %s not allowed, use GET", r.Method)})
			return
		}
		a.respond(w, r, f)
	}
}

// serveWrite is serve for the routes that change something (issues.go): their mux
// patterns name the method, so it is not checked again.
func (a *API) serveWrite(f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { a.respond(w, r, f) }
}

// respond runs f and writes its result; a panic becomes a logged 500 whose details stay
// in the log.
func (a *API) respond(w http.ResponseWriter, r *http.Request, f apiFunc) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to abort a response; not ours to swallow
			}
			a.logger.Error("panic in API handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			a.writeJSON(w, r, http.StatusInternalServerError, envelope{
				Status: "error", ErrorType: errInternal, Error: "internal error (logged on the server)",
			})
		}
	}()
	res := f(r)
	switch {
	case res.err != nil:
		a.writeError(w, r, res.err)
	case res.raw != nil:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write(res.raw); err != nil {
			a.logger.Debug("write response", "path", r.URL.Path, "err", err)
		}
	default:
		a.writeJSON(w, r, http.StatusOK, envelope{Status: "success", Data: res.data})
	}
}

// writeError maps err to a status in one place. Errors that are not *apiError are
// classified here: store.ErrNotFound is a 404, a cancelled or timed-out request is the
// client's doing, anything else is a store failure, logged and reported as 500.
//
// The request's context is checked as well as the error chain, because a driver may
// report an interrupted query with its own error rather than wrapping ctx.Err().
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var aerr *apiError
	ctxErr := r.Context().Err()
	switch {
	case errors.As(err, &aerr):
	case errors.Is(err, store.ErrNotFound):
		aerr = &apiError{typ: errNotFound, err: err}
	case errors.Is(err, store.ErrBadInput):
		aerr = &apiError{typ: errBadData, err: err}
	case errors.Is(err, context.Canceled) || errors.Is(ctxErr, context.Canceled):
		aerr = &apiError{typ: errCanceled, err: err}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctxErr, context.DeadlineExceeded):
		aerr = &apiError{typ: errTimeout, err: querylimit.Timeout(r.Context(), err)}
	default:
		aerr = &apiError{typ: errInternal, err: err}
	}
	switch aerr.typ {
	case errInternal:
		a.logger.Error("API request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", aerr.err)
	case errCanceled, errTimeout:
		a.logger.Debug("API request stopped", "path", r.URL.Path, "err", aerr.err)
	}
	a.writeJSON(w, r, aerr.typ.status(), envelope{Status: "error", ErrorType: aerr.typ, Error: aerr.err.Error()})
}

func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, status int, body envelope) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// Results are bounded by the limits, so they are encoded straight to the client
	// without a second copy in a buffer. An error here is the client going away.
	if err := json.NewEncoder(w).Encode(body); err != nil {
		a.logger.Debug("write response", "path", r.URL.Path, "err", err)
	}
}

// jsonSafeMap returns m ready for encoding/json: nil becomes an empty map, so clients
// always see an object, and every non-finite float becomes its string form ("NaN", "+Inf",
// "-Inf"). encoding/json refuses NaN and Inf, and one such attribute value must not turn a
// whole page of logs into an error. m is copied only when it holds such a value; it is
// never modified.
func jsonSafeMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	if !hasNonFinite(m) {
		return m
	}
	return replaceNonFinite(m).(map[string]any)
}

func hasNonFinite(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x) || math.IsInf(x, 0)
	case float32:
		return hasNonFinite(float64(x))
	case map[string]any:
		for _, e := range x {
			if hasNonFinite(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNonFinite(e) {
				return true
			}
		}
	}
	return false
}

// replaceNonFinite returns a copy of v with non-finite floats replaced by strings.
func replaceNonFinite(v any) any {
	switch x := v.(type) {
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "+Inf"
		case math.IsInf(x, -1):
			return "-Inf"
		}
	case float32:
		if hasNonFinite(x) {
			return replaceNonFinite(float64(x))
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = replaceNonFinite(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = replaceNonFinite(e)
		}
		return out
	}
	return v
}
