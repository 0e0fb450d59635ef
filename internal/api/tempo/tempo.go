// Package tempo serves the Grafana Tempo query API (trace by id, search with tags or a
// TraceQL subset, tag names and values) over a store.TraceReader, for Grafana's Tempo
// data source.
package tempo

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/version"
)

// TagReader is an optional capability of a TraceReader (checked by type assertion) that
// lists span attribute keys and values for the tag endpoints. Without it the tag APIs
// answer only the intrinsics and service.name, from TraceReader.Services and SpanNames.
//
// Both methods look at spans that started in [start, end) (a zero time does not bound
// that side), return sorted distinct strings, at most limit, and are safe for concurrent
// use. scope is "span", "resource", or "" for either. store/duck.Store implements it.
type TagReader interface {
	SpanAttributeKeys(ctx context.Context, start, end time.Time, limit int) (span, resource []string, err error)
	SpanAttributeValues(ctx context.Context, scope, key string, start, end time.Time, limit int) ([]string, error)
}

// API serves the Tempo HTTP API. It is an http.Handler for the paths listed by Paths and
// is safe for concurrent use.
type API struct {
	traces store.TraceReader
	tags   TagReader // nil when traces does not implement it
	logger *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
}

// Paths lists the mux patterns to mount the API on, all at the root of the server:
//
//	for _, p := range tempo.Paths() { mux.Handle(p, api) }
//
// They are exact patterns, not subtrees, so that they cannot overlap other APIs under
// /api/ (such as Sentry's /api/<project>/store/). Jaeger's query API also has
// /api/traces/<id>, so it is served under /jaeger/ instead.
func Paths() []string {
	return []string{
		"/api/traces/{id}", "/api/v2/traces/{id}",
		"/api/search", "/api/search/tags", "/api/v2/search/tags",
		"/api/search/tag/{tag}/values", "/api/v2/search/tag/{tag}/values",
		"/api/echo", "/api/status/buildinfo",
	}
}

// New returns the API over traces. A nil traces makes every data route answer 503; a nil
// logger discards logs.
func New(traces store.TraceReader, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &API{traces: traces, logger: logger, now: time.Now, mux: http.NewServeMux()}
	if tr, ok := traces.(TagReader); ok {
		a.tags = tr
	}
	routes := map[string]apiFunc{
		"/api/traces/{id}":                a.needTraces(a.traceByID(false)),
		"/api/v2/traces/{id}":             a.needTraces(a.traceByID(true)),
		"/api/search":                     a.needTraces(a.search),
		"/api/search/tags":                a.needTraces(a.tagNamesV1),
		"/api/v2/search/tags":             a.needTraces(a.tagNamesV2),
		"/api/search/tag/{tag}/values":    a.needTraces(a.tagValuesV1),
		"/api/v2/search/tag/{tag}/values": a.needTraces(a.tagValuesV2),
		"/api/echo": func(*http.Request) result {
			return result{raw: []byte("echo"), contentType: "text/plain; charset=utf-8"}
		},
		"/api/status/buildinfo": a.buildInfo,
	}
	for _, p := range Paths() {
		a.mux.HandleFunc(p, a.serve(routes[p]))
	}
	return a
}

// ServeHTTP routes a request to its handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

var errNoTraces = errors.New("this server has no trace store")

func (a *API) needTraces(f apiFunc) apiFunc {
	if a.traces != nil {
		return f
	}
	return func(*http.Request) result {
		return result{err: &apiError{status: http.StatusServiceUnavailable, err: errNoTraces}}
	}
}

// tempoVersion is the Tempo release whose API this package follows. Grafana reads the
// version from buildinfo to decide which features to use, so it must parse as a Tempo
// semver; Loupe's own version travels as build metadata, which semver ignores.
const tempoVersion = "2.7.0"

type buildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

func (a *API) buildInfo(*http.Request) result {
	v := version.Get()
	return result{data: buildInfo{
		Version:   tempoVersion + "+loupe." + semverSafe(v.Version),
		Revision:  v.Revision,
		GoVersion: v.GoVersion,
	}}
}

// semverSafe keeps the characters semver allows in build metadata.
func semverSafe(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '.' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "dev"
	}
	return string(b)
}
