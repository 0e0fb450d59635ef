package prom

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/loupe-dev/loupe/internal/querylimit"
)

// exprParams are the parameters of the Prometheus API that hold PromQL: the expression of
// query, query_range and query_exemplars (and format_query, parse_query), and the series
// selectors of series, labels and label values.
var exprParams = []string{"query", "match[]"}

// checkQueryExpr returns h behind a check of every PromQL parameter with
// querylimit.CheckExpr, before Prometheus' parser sees it: 40,000 nested parentheses took
// the parser 23.6 s and 3.5 GB (issue 18). A parameter over a limit gets Prometheus' own
// error envelope, 400 bad_data, naming the parameter and the limit.
func checkQueryExpr(h http.Handler, l querylimit.ExprLimits) http.Handler {
	if l == (querylimit.ExprLimits{}) {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			h.ServeHTTP(w, r) // Prometheus answers a malformed form itself
			return
		}
		for _, p := range exprParams {
			for _, v := range r.Form[p] {
				if err := querylimit.CheckExpr(v, l); err != nil {
					writeBadData(w, fmt.Errorf("invalid parameter %q: %w", p, err))
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// writeBadData answers as Prometheus' API does for a bad parameter.
func writeBadData(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": err.Error()})
}
