// Package apijson writes the JSON envelope of Loupe's own APIs, as Prometheus' API does:
// {"status":"success","data":...} or {"status":"error","errorType":"bad_data","error":"..."},
// and turns a handler's error, or its panic, into the error envelope with its status.
package apijson

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/loupe-dev/loupe/internal/querylimit"
	"github.com/loupe-dev/loupe/internal/store"
)

// Envelope is the answer of every route.
type Envelope struct {
	Status    string `json:"status"`
	Data      any    `json:"data,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Error is an error with the status and type the client sees. Type "" means "bad_data".
type Error struct {
	Status int
	Type   string
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// BadData is a 400 bad_data error.
func BadData(err error) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "bad_data", Err: err}
}

// StatusClientClosedRequest is nginx's (and Prometheus') status for a request whose client
// went away; nobody reads it, but it keeps such requests out of the 5xx counts.
const StatusClientClosedRequest = 499

// Classify maps the errors of an API's own domain (a not-found, a conflict) to an *Error;
// it returns nil for errors it does not know.
type Classify func(error) *Error

// Handler adapts f: its error, or a panic, becomes the error envelope. An *Error keeps its
// status; then classify (may be nil) is asked; a cancelled request is a 499, a timeout a
// 503 naming the limit; anything else a 500, logged with name, as is a panic.
func Handler(logger *slog.Logger, name string, classify Classify, f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.Error("panic in "+name, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				WriteError(w, &Error{Status: http.StatusInternalServerError, Type: "internal", Err: errors.New("internal error (logged on the server)")})
			}
		}()
		err := f(w, r)
		if err == nil {
			return
		}
		var e *Error
		ctxErr := r.Context().Err()
		switch {
		case errors.As(err, &e):
		case classify != nil && classify(err) != nil:
			e = classify(err)
		case errors.Is(err, store.ErrBadInput):
			e = &Error{Status: http.StatusBadRequest, Err: err}
		case errors.Is(err, context.Canceled) || errors.Is(ctxErr, context.Canceled):
			e = &Error{Status: StatusClientClosedRequest, Type: "canceled", Err: err}
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctxErr, context.DeadlineExceeded):
			e = &Error{Status: http.StatusServiceUnavailable, Type: "timeout", Err: querylimit.Timeout(r.Context(), err)}
		default:
			logger.Error(name+" request failed", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
			e = &Error{Status: http.StatusInternalServerError, Type: "internal", Err: err}
		}
		WriteError(w, e)
	}
}

// WriteError writes e's envelope with its status.
func WriteError(w http.ResponseWriter, e *Error) {
	typ := e.Type
	if typ == "" {
		typ = "bad_data"
	}
	WriteJSON(w, e.Status, Envelope{Status: "error", ErrorType: typ, Error: e.Err.Error()})
}

// OK writes data in the success envelope.
func OK(w http.ResponseWriter, data any) {
	WriteJSON(w, http.StatusOK, Envelope{Status: "success", Data: data})
}

// WriteJSON writes v as JSON with status. A client gone away is not an error to report.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
