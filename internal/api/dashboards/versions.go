package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/loupe-dev/loupe/internal/api/apijson"
	"github.com/loupe-dev/loupe/internal/dashboards"
)

// noHistory answers the history routes of a provisioned dashboard: its history is its
// file's (or the binary's), not the store's.
func (a *API) noHistory(uid string) error {
	if _, ok := a.prov.Get(uid); ok {
		return &apijson.Error{Status: http.StatusNotFound, Type: "not_found",
			Err: fmt.Errorf("dashboard %q is provisioned: it has no stored versions (its history is its file's)", uid)}
	}
	return nil
}

func (a *API) versions(r *http.Request) (any, error) {
	uid := r.PathValue("uid")
	if err := a.noHistory(uid); err != nil {
		return nil, err
	}
	vs, err := a.store.Versions(r.Context(), uid)
	if err != nil {
		return nil, notFound(uid, err)
	}
	return map[string]any{"uid": uid, "versions": vs}, nil
}

// pathVersion reads the {n} of a history route.
func pathVersion(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
	if err != nil || n < 1 {
		return 0, badRequest("version %q: want a positive integer", r.PathValue("n"))
	}
	return n, nil
}

// getVersion reads version n of uid, with a 404 naming what is missing.
func (a *API) getVersion(r *http.Request, uid string, n int64) (dashboards.Record, error) {
	if err := a.noHistory(uid); err != nil {
		return dashboards.Record{}, err
	}
	rec, err := a.store.GetVersion(r.Context(), uid, n)
	if err == nil {
		return rec, nil
	}
	if _, gerr := a.store.Get(r.Context(), uid); gerr != nil {
		return rec, notFound(uid, gerr)
	}
	return rec, &apijson.Error{Status: http.StatusNotFound, Type: "not_found",
		Err: fmt.Errorf("dashboard %q has no version %d (the history keeps the latest %d: GET %s/%s/versions lists them)", uid, n, dashboards.MaxVersions, Prefix, uid)}
}

func (a *API) version(r *http.Request) (any, error) {
	uid := r.PathValue("uid")
	n, err := pathVersion(r)
	if err != nil {
		return nil, err
	}
	rec, err := a.getVersion(r, uid, n)
	if err != nil {
		return nil, err
	}
	return map[string]any{"dashboard": rec.Dashboard, "meta": meta{Version: rec.Version, Updated: rec.Updated}}, nil
}

// restore saves version n of a dashboard again, as a new version. The body names the
// version the dashboard was read at, as an update does, so that restoring over someone
// else's newer save is a conflict rather than a lost update.
func (a *API) restore(r *http.Request) (any, error) {
	uid := r.PathValue("uid")
	if err := a.readOnly(uid); err != nil {
		return nil, err
	}
	n, err := pathVersion(r)
	if err != nil {
		return nil, err
	}
	raw, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Version int64 `json:"version"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Version < 1 {
		return nil, badRequest("body: want {\"version\": N}, the current version the dashboard was read at, so that a concurrent change is refused rather than lost")
	}
	rec, err := a.getVersion(r, uid, n)
	if err != nil {
		return nil, err
	}
	d := rec.Dashboard
	d.UID, d.Version = uid, 0
	out, err := a.save(r, d, body.Version)
	if err != nil {
		return nil, notFound(uid, err)
	}
	res := out.(map[string]any)
	res["restoredFrom"] = n
	return res, nil
}
