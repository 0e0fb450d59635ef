package tempo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/loupe-dev/loupe/internal/querylimit"
	"github.com/loupe-dev/loupe/internal/store"
)

// statusClientClosedRequest is nginx's status for a request whose client went away.
const statusClientClosedRequest = 499

// apiError is an error with the HTTP status the client sees. Tempo answers errors as a
// plain-text body, and Grafana shows that text, so the message must say what to fix.
type apiError struct {
	status int
	err    error
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, err: fmt.Errorf(format, args...)}
}

// result is what a handler returns; serve writes it. err wins, then raw (written verbatim
// with contentType), then data (encoded as JSON).
type result struct {
	data        any
	raw         []byte
	contentType string
	err         error
}

// apiFunc handles one route without writing anything, so it can be tested directly.
type apiFunc func(r *http.Request) result

// serve adapts an apiFunc to an http.HandlerFunc: GET only, a panic becomes a logged 500,
// and the result is written in one place.
func (a *API) serve(f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.logger.Error("panic in Tempo API handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				http.Error(w, "internal error (logged on the server)", http.StatusInternalServerError)
			}
		}()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			a.writeError(w, r, &apiError{status: http.StatusMethodNotAllowed,
				err: fmt.Errorf("method %s not allowed, use GET", r.Method)})
			return
		}
		res := f(r)
		switch {
		case res.err != nil:
			a.writeError(w, r, res.err)
		case res.raw != nil:
			w.Header().Set("Content-Type", res.contentType)
			w.WriteHeader(http.StatusOK)
			if _, err := w.Write(res.raw); err != nil {
				a.logger.Debug("write response", "path", r.URL.Path, "err", err)
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			if err := json.NewEncoder(w).Encode(res.data); err != nil {
				a.logger.Debug("write response", "path", r.URL.Path, "err", err)
			}
		}
	}
}

// writeError maps err to a status: *apiError carries its own, store.ErrNotFound is 404, a
// cancelled or timed-out request is the client's doing, anything else is a logged 500.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var aerr *apiError
	ctxErr := r.Context().Err()
	switch {
	case errors.As(err, &aerr):
	case errors.Is(err, store.ErrNotFound):
		aerr = &apiError{status: http.StatusNotFound, err: err}
	case errors.Is(err, store.ErrBadInput):
		aerr = &apiError{status: http.StatusBadRequest, err: err}
	case errors.Is(err, context.Canceled) || errors.Is(ctxErr, context.Canceled):
		aerr = &apiError{status: statusClientClosedRequest, err: err}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctxErr, context.DeadlineExceeded):
		aerr = &apiError{status: http.StatusServiceUnavailable, err: querylimit.Timeout(r.Context(), err)}
	default:
		aerr = &apiError{status: http.StatusInternalServerError, err: err}
		a.logger.Error("Tempo API request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
	}
	http.Error(w, aerr.err.Error(), aerr.status)
}
