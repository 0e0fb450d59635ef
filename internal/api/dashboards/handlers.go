package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/loupe-dev/loupe/internal/api/apijson"
	"github.com/loupe-dev/loupe/internal/dashboards"
)

// maxBody is the largest request body: a dashboard of dashboards.MaxBytes and its envelope.
const maxBody = dashboards.MaxBytes + 64<<10

// listItem is one dashboard of a list.
type listItem struct {
	dashboards.Summary
	Provisioned bool   `json:"provisioned"`
	Source      string `json:"source,omitempty"`
}

func (a *API) list(r *http.Request) (any, error) {
	q := r.URL.Query()
	for k := range q {
		if k != "query" && k != "tag" {
			return nil, badRequest("unknown parameter %q (want query, tag)", k)
		}
	}
	f := dashboards.Filter{Query: q.Get("query"), Tag: q.Get("tag")}
	stored, err := a.store.List(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := []listItem{}
	prov := map[string]bool{}
	for _, p := range a.prov.List() {
		prov[p.Dashboard.UID] = true
		if f.Matches(p.Dashboard.UID, p.Dashboard.Title, p.Dashboard.Tags) {
			out = append(out, listItem{Summary: dashboards.Summary{UID: p.Dashboard.UID, Title: p.Dashboard.Title,
				Tags: p.Dashboard.Tags, Version: p.Dashboard.Version, Updated: p.Updated}, Provisioned: true, Source: p.Source})
		}
	}
	for _, s := range stored {
		if !prov[s.UID] { // a provisioned dashboard hides a stored one of its uid
			out = append(out, listItem{Summary: s})
		}
	}
	slices.SortStableFunc(out, func(x, y listItem) int {
		if c := strings.Compare(strings.ToLower(x.Title), strings.ToLower(y.Title)); c != 0 {
			return c
		}
		return strings.Compare(x.UID, y.UID)
	})
	errs := a.prov.Errors()
	if errs == nil {
		errs = []dashboards.ProvisioningError{}
	}
	return map[string]any{"dashboards": out, "provisioningErrors": errs}, nil
}

func (a *API) get(r *http.Request) (any, error) {
	uid := r.PathValue("uid")
	if p, ok := a.prov.Get(uid); ok {
		return map[string]any{"dashboard": p.Dashboard, "meta": meta{Version: p.Dashboard.Version, Updated: p.Updated,
			Provisioned: true, Source: p.Source, ReadOnly: true}}, nil
	}
	rec, err := a.store.Get(r.Context(), uid)
	if err != nil {
		return nil, notFound(uid, err)
	}
	return map[string]any{"dashboard": rec.Dashboard, "meta": meta{Version: rec.Version, Updated: rec.Updated}}, nil
}

func notFound(uid string, err error) error {
	if errors.Is(err, dashboards.ErrNotFound) {
		return &apijson.Error{Status: http.StatusNotFound, Type: "not_found", Err: fmt.Errorf("no dashboard with uid %q", uid)}
	}
	return err
}

// readBody reads the body, refusing one over maxBody with a 413 that names the limit.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &apijson.Error{Status: http.StatusRequestEntityTooLarge, Type: "too_large",
			Err: fmt.Errorf("request body larger than %d bytes: a dashboard is at most %d bytes (%d MiB)", maxBody, dashboards.MaxBytes, dashboards.MaxBytes>>20)}
	}
	if err != nil {
		return nil, badRequest("read body: %v", err)
	}
	return b, nil
}

// checkSize refuses a dashboard's JSON over dashboards.MaxBytes with a 413.
func checkSize(raw []byte) error {
	if len(raw) <= dashboards.MaxBytes {
		return nil
	}
	return &apijson.Error{Status: http.StatusRequestEntityTooLarge, Type: "too_large",
		Err: fmt.Errorf("dashboard of %d bytes: at most %d bytes (%d MiB)", len(raw), dashboards.MaxBytes, dashboards.MaxBytes>>20)}
}

// writeBody is the body of create and update.
type writeBody struct {
	Dashboard json.RawMessage `json:"dashboard"`
	Version   *int64          `json:"version"`
}

// decodeWrite decodes and validates a create or update body.
func decodeWrite(r *http.Request) (dashboards.Dashboard, *int64, error) {
	var d dashboards.Dashboard
	raw, err := readBody(r)
	if err != nil {
		return d, nil, err
	}
	var body writeBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return d, nil, badRequest("body: malformed JSON or unknown field (want {\"dashboard\": {...}, \"version\": N}): %v", err)
	}
	if len(body.Dashboard) == 0 || string(body.Dashboard) == "null" {
		return d, nil, badRequest("body: no dashboard (want {\"dashboard\": {...}, \"version\": N})")
	}
	if err := checkSize(body.Dashboard); err != nil {
		return d, nil, err
	}
	if dashboards.IsGrafana(body.Dashboard) {
		return d, nil, badRequest("dashboard: this is a Grafana dashboard (it has a schemaVersion): POST it to %s/import", Prefix)
	}
	dec = json.NewDecoder(bytes.NewReader(body.Dashboard))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, nil, badRequest("dashboard: %v", err)
	}
	dashboards.Normalize(&d)
	return d, body.Version, nil
}

func (a *API) readOnly(uid string) error {
	if p, ok := a.prov.Get(uid); ok {
		if p.Source == dashboards.SourceBuiltin {
			return &apijson.Error{Status: http.StatusForbidden, Type: "read_only",
				Err: fmt.Errorf("dashboard %q is built into Loupe and read-only: save a copy under another uid", uid)}
		}
		return &apijson.Error{Status: http.StatusForbidden, Type: "read_only",
			Err: fmt.Errorf("dashboard %q is provisioned from %s and read-only: change its file, or save a copy under another uid", uid, p.Source)}
	}
	return nil
}

func (a *API) create(r *http.Request) (any, error) {
	d, version, err := decodeWrite(r)
	if err != nil {
		return nil, err
	}
	if version != nil && *version != 0 {
		return nil, badRequest("version %d: a new dashboard has none (to update one, PUT %s/{uid}; to copy one, leave its version out)", *version, Prefix)
	}
	if d.UID == "" {
		d.UID = newUID()
	}
	return a.save(r, d, 0)
}

func (a *API) save(r *http.Request, d dashboards.Dashboard, version int64) (any, error) {
	if err := a.readOnly(d.UID); err != nil {
		return nil, err
	}
	if err := dashboards.Validate(&d); err != nil {
		return nil, err
	}
	v, err := a.store.Put(r.Context(), d, version)
	if err != nil {
		return nil, err
	}
	return map[string]any{"uid": d.UID, "version": v, "url": "/dashboards/" + d.UID}, nil
}

func (a *API) update(r *http.Request) (any, error) {
	uid := r.PathValue("uid")
	if err := a.readOnly(uid); err != nil {
		return nil, err
	}
	d, version, err := decodeWrite(r)
	if err != nil {
		return nil, err
	}
	if version == nil && d.Version > 0 {
		// The dashboard as read (GET sets its version), written back: as in Grafana's
		// API, its own version is the one expected.
		version = &d.Version
	}
	if version == nil || *version < 1 {
		return nil, badRequest("version: required, the version the dashboard was read at (GET %s/%s), so that a concurrent change is refused rather than lost", Prefix, uid)
	}
	if d.UID == "" {
		d.UID = uid
	}
	if d.UID != uid {
		return nil, badRequest("dashboard uid %q differs from the path's %q", d.UID, uid)
	}
	out, err := a.save(r, d, *version)
	if errors.Is(err, dashboards.ErrNotFound) {
		return nil, notFound(uid, err)
	}
	return out, err
}

func (a *API) delete(r *http.Request) (any, error) {
	uid := r.PathValue("uid")
	if err := a.readOnly(uid); err != nil {
		return nil, err
	}
	vs := r.URL.Query().Get("version")
	if vs == "" {
		return nil, badRequest("version: required, the version the dashboard was read at")
	}
	v, err := strconv.ParseInt(vs, 10, 64)
	if err != nil || v < 1 {
		return nil, badRequest("version %q: want a positive integer", vs)
	}
	if err := a.store.Delete(r.Context(), uid, v); err != nil {
		return nil, notFound(uid, err)
	}
	return map[string]any{"uid": uid, "deleted": true}, nil
}

func (a *API) importGrafana(r *http.Request) (any, error) {
	q := r.URL.Query()
	save := false
	switch s := q.Get("save"); s {
	case "", "false", "0":
	case "true", "1":
		save = true
	default:
		return nil, badRequest("save %q: want true or false", s)
	}
	raw, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := checkSize(raw); err != nil {
		return nil, err
	}
	d, rep, err := dashboards.ImportGrafana(raw)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if uid := q.Get("uid"); uid != "" {
		d.UID = uid
	}
	out := map[string]any{"dashboard": d, "report": rep}
	if !save {
		if err := dashboards.Validate(&d); err != nil {
			return nil, err
		}
		return out, nil
	}
	res, err := a.save(r, d, 0) // validates
	if err != nil {
		return nil, err
	}
	out["saved"] = res
	return out, nil
}

func (a *API) export(w http.ResponseWriter, r *http.Request) error {
	uid := r.PathValue("uid")
	var d dashboards.Dashboard
	if p, ok := a.prov.Get(uid); ok {
		d = p.Dashboard
	} else {
		rec, err := a.store.Get(r.Context(), uid)
		if err != nil {
			return notFound(uid, err)
		}
		d = rec.Dashboard
	}
	out, err := dashboards.ExportGrafana(d)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", uid+".json"))
	_, err = w.Write(append(out, '\n'))
	return err
}
