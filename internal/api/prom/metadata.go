package prom

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"

	"github.com/grafana/regexp"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/util/httputil"
	v1 "github.com/prometheus/prometheus/web/api/v1"
)

// metadataHandler serves /api/v1/metadata from a MetadataSource, with Prometheus'
// parameters (metric, limit, limit_per_metric) and envelope. Prometheus answers it from
// scrape targets, which never see OTLP metrics.
type metadataHandler struct {
	source MetadataSource // may be nil: no metadata
	cors   *regexp.Regexp
	logger *slog.Logger
}

func (h *metadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httputil.SetCORS(w, h.cors, r)
	data, err := h.metadata(r)
	if err != nil {
		writeJSON(w, h.logger, http.StatusBadRequest, v1.Response{Status: "error", ErrorType: "bad_data", Error: err.Error()})
		return
	}
	writeJSON(w, h.logger, http.StatusOK, v1.Response{Status: "success", Data: data})
}

func (h *metadataHandler) metadata(r *http.Request) (map[string][]metadata.Metadata, error) {
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil {
			return nil, errors.New("limit must be a number")
		}
	}
	if s := r.FormValue("limit_per_metric"); s != "" {
		// Each family has a single entry here, so the limit only needs to be valid.
		if _, err := strconv.Atoi(s); err != nil {
			return nil, errors.New("limit_per_metric must be a number")
		}
	}
	res := map[string][]metadata.Metadata{}
	if h.source == nil {
		return res, nil
	}
	all := h.source.Metadata()
	if metric := r.FormValue("metric"); metric != "" {
		if m, ok := all[metric]; ok && limit != 0 {
			res[metric] = []metadata.Metadata{m}
		}
		return res, nil
	}
	// Sorted, so that a limit always keeps the same families.
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if limit >= 0 && len(res) >= limit {
			break
		}
		res[name] = []metadata.Metadata{all[name]}
	}
	return res, nil
}

func writeJSON(w http.ResponseWriter, logger *slog.Logger, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if _, err := w.Write(b); err != nil {
		logger.Debug("write response", "err", err)
	}
}
