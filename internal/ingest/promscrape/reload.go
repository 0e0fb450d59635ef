package promscrape

import (
	"context"
	"fmt"
	"net/http"
)

// ReloadPath is where Prometheus serves its configuration reload endpoint.
const ReloadPath = "/-/reload"

// ReloadHandler serves POST and PUT /-/reload as Prometheus does: it calls reload (which
// reads the configuration file again and applies it, e.g. with Scraper.ApplyConfig) and
// answers 200, or 500 with "failed to reload config: <error>". Other methods get 405.
// reload must be safe for concurrent use.
func ReloadHandler(reload func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "This endpoint requires a POST or PUT request.", http.StatusMethodNotAllowed)
			return
		}
		if err := reload(r.Context()); err != nil {
			http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
		}
	})
}
