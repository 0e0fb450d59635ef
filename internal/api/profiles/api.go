// Package profiles serves Loupe's JSON API for continuous profiles under
// /api/loupe/v1/profiles/ (docs/profiles.md): profile types, labels, merged flame graphs
// with their top functions, diffs, series over time, the spans that ran a function, and
// pprof export for `go tool pprof`. It reads through store.ProfileReader and lays out
// results with internal/profile/flame.
package profiles

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/loupe-dev/loupe/internal/api/apijson"
	"github.com/loupe-dev/loupe/internal/ingest/pprofscrape"
	"github.com/loupe-dev/loupe/internal/store"
)

// Prefix is the path every route of this API starts with.
const Prefix = "/api/loupe/v1/profiles/"

// ExprParams are the parameters that hold a label selector, for the server's expression
// limits (querylimit.CheckParams).
var ExprParams = []string{"query", "left_query", "right_query"}

// API is the http.Handler for paths under Prefix. It is safe for concurrent use.
type API struct {
	reader  store.ProfileReader
	targets func() []pprofscrape.Target // nil: no pull mode
	logger  *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
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
	a.handle("targets", a.targetList)
	a.mux.HandleFunc(Prefix+"pprof", a.get(a.pprof))
	a.mux.HandleFunc(Prefix, a.get(func(w http.ResponseWriter, r *http.Request) error {
		return &apijson.Error{Status: http.StatusNotFound, Err: fmt.Errorf("no endpoint %s", r.URL.Path)}
	}))
	return a
}

// WithTargets makes GET targets list the pull mode's scrape loops, as f returns them
// (pprofscrape.Scraper.Targets); without it the list is empty. Call before serving.
func (a *API) WithTargets(f func() []pprofscrape.Target) *API {
	a.targets = f
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
		apijson.OK(w, data)
		return nil
	}))
}

// get answers GET and HEAD with f, other methods with 405, and turns f's error (or a
// panic) into the native API's error envelope.
func (a *API) get(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return apijson.Handler(a.logger, "profiles API", nil, func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			return &apijson.Error{Status: http.StatusMethodNotAllowed, Type: "method_not_allowed",
				Err: fmt.Errorf("method %s not allowed, use GET", r.Method)}
		}
		return f(w, r)
	})
}

func badRequest(err error) error { return apijson.BadData(err) }
