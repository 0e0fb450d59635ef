// Package dashboards serves Loupe's dashboards API under /api/loupe/v1/dashboards
// (docs/dashboards.md): list, get, create, update with the version read (a stale version
// is a 409, never a lost update), delete, version history and restore, Grafana import and
// export. Provisioned dashboards (files and the built-in set) are listed and read like
// stored ones and refuse changes.
package dashboards

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/api/apijson"
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
	a.route("GET "+Prefix+"/{uid}/versions", a.versions)
	a.route("GET "+Prefix+"/{uid}/versions/{n}", a.version)
	a.route("POST "+Prefix+"/{uid}/versions/{n}/restore", a.restore)
	a.mux.HandleFunc(Prefix+"/", a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		// The method patterns above take precedence, so that a known path reached here
		// was asked with another method.
		if rest := strings.TrimPrefix(r.URL.Path, Prefix+"/"); rest != "" && !strings.Contains(rest, "/") {
			w.Header().Set("Allow", "GET, PUT, DELETE")
			return &apijson.Error{Status: http.StatusMethodNotAllowed, Type: "method_not_allowed",
				Err: fmt.Errorf("method %s not allowed on a dashboard: GET, PUT or DELETE", r.Method)}
		}
		return &apijson.Error{Status: http.StatusNotFound, Type: "not_found", Err: fmt.Errorf("no route %s %s", r.Method, r.URL.Path)}
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
		apijson.OK(w, data)
		return nil
	}))
}

// wrap turns f's error, or a panic, into the native API's error envelope.
func (a *API) wrap(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return apijson.Handler(a.logger, "dashboards API", classify, f)
}

// classify gives the dashboards' own errors their status: an invalid dashboard is a 400,
// a missing one a 404, a stale version a 409.
func classify(err error) *apijson.Error {
	var ve *dashboards.ValidationError
	switch {
	case errors.As(err, &ve):
		return apijson.BadData(err)
	case errors.Is(err, dashboards.ErrNotFound):
		return &apijson.Error{Status: http.StatusNotFound, Type: "not_found", Err: err}
	case errors.Is(err, dashboards.ErrConflict):
		return &apijson.Error{Status: http.StatusConflict, Type: "conflict", Err: err}
	}
	return nil
}

func badRequest(format string, args ...any) error {
	return apijson.BadData(fmt.Errorf(format, args...))
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
