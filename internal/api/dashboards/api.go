// Package dashboards serves Loupe's dashboards API under /api/loupe/v1/dashboards
// (docs/dashboards.md): list, get, create, update with the version read (a stale version
// is a 409, never a lost update), delete, Grafana import and export. Provisioned
// dashboards (files and the built-in set) are listed and read like stored ones and refuse
// changes.
package dashboards

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/dashboards"
)

// Prefix is the path of the API; every route is Prefix or under Prefix + "/".
const Prefix = "/api/loupe/v1/dashboards"

// Provisioned is the read-only source of dashboards (dashboards.Provisioner).
type Provisioned interface {
	List() []dashboards.Provisioned
	Get(uid string) (dashboards.Provisioned, bool)
	Errors() []dashboards.ProvisioningError
}

// API is the http.Handler of Prefix. It is safe for concurrent use.
type API struct {
	store  dashboards.Store
	prov   Provisioned
	logger *slog.Logger
	mux    *http.ServeMux
}

// New returns the API over store and prov (nil: nothing provisioned). A nil logger
// discards logs.
func New(store dashboards.Store, prov Provisioned, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if prov == nil {
		prov = noProvisioned{}
	}
	a := &API{store: store, prov: prov, logger: logger, mux: http.NewServeMux()}
	a.route("GET "+Prefix, a.list)
	a.route("POST "+Prefix, a.create)
	a.route("POST "+Prefix+"/import", a.importGrafana)
	a.route("GET "+Prefix+"/{uid}", a.get)
	a.route("PUT "+Prefix+"/{uid}", a.update)
	a.route("DELETE "+Prefix+"/{uid}", a.delete)
	a.mux.HandleFunc("GET "+Prefix+"/{uid}/export", a.wrap(a.export))
	a.mux.HandleFunc(Prefix+"/", a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		// The method patterns above take precedence, so that a known path reached here
		// was asked with another method.
		if rest := strings.TrimPrefix(r.URL.Path, Prefix+"/"); rest != "" && !strings.Contains(rest, "/") {
			w.Header().Set("Allow", "GET, PUT, DELETE")
			return &httpError{status: http.StatusMethodNotAllowed, typ: "method_not_allowed",
				err: fmt.Errorf("method %s not allowed on a dashboard: GET, PUT or DELETE", r.Method)}
		}
		return &httpError{status: http.StatusNotFound, typ: "not_found", err: fmt.Errorf("no route %s %s", r.Method, r.URL.Path)}
	}))
	return a
}

// ServeHTTP routes a request of the API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

type noProvisioned struct{}

func (noProvisioned) List() []dashboards.Provisioned { return nil }
func (noProvisioned) Get(string) (dashboards.Provisioned, bool) {
	return dashboards.Provisioned{}, false
}
func (noProvisioned) Errors() []dashboards.ProvisioningError { return nil }

// jsonFunc handles a route: the data of the success envelope, or an error.
type jsonFunc func(r *http.Request) (any, error)

func (a *API) route(pattern string, f jsonFunc) {
	a.mux.HandleFunc(pattern, a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		data, err := f(r)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, envelope{Status: "success", Data: data})
		return nil
	}))
}

// wrap turns f's error, or a panic, into the native API's error envelope.
func (a *API) wrap(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.logger.Error("panic in dashboards API", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
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

func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, typ: "bad_data", err: fmt.Errorf(format, args...)}
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var ve *dashboards.ValidationError
	switch {
	case errors.As(err, &he):
	case errors.As(err, &ve):
		he = &httpError{status: http.StatusBadRequest, typ: "bad_data", err: err}
	case errors.Is(err, dashboards.ErrNotFound):
		he = &httpError{status: http.StatusNotFound, typ: "not_found", err: err}
	case errors.Is(err, dashboards.ErrConflict):
		he = &httpError{status: http.StatusConflict, typ: "conflict", err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		he = &httpError{status: http.StatusServiceUnavailable, typ: "timeout", err: err}
	default:
		a.logger.Error("dashboards API", "method", r.Method, "path", r.URL.Path, "err", err)
		he = &httpError{status: http.StatusInternalServerError, typ: "internal", err: err}
	}
	if he.typ == "" {
		he.typ = "bad_data"
	}
	writeJSON(w, he.status, envelope{Status: "error", ErrorType: he.typ, Error: he.err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newUID is a random uid of 12 characters, as Grafana's are short random strings.
func newUID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// meta is what a reader needs besides the dashboard.
type meta struct {
	Version     int64     `json:"version"`
	Updated     time.Time `json:"updated,omitzero"`
	Provisioned bool      `json:"provisioned"`
	Source      string    `json:"source,omitempty"` // "builtin" or the provisioning file
	ReadOnly    bool      `json:"readOnly"`
}
