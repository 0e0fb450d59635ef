package dashboards

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/dashboards"
)

func TestVersionHistoryAndRestore(t *testing.T) {
	srv := testServer(t)
	code, a := call(t, srv, "POST", Prefix, `{"dashboard": `+dashJSON("h", "First", 1)+`}`)
	require.Equal(t, 200, code, a.Error)
	code, a = call(t, srv, "PUT", Prefix+"/h", `{"version": 1, "dashboard": `+dashJSON("h", "Second", 2)+`}`)
	require.Equal(t, 200, code, a.Error)
	code, a = call(t, srv, "PUT", Prefix+"/h", `{"version": 2, "dashboard": `+dashJSON("h", "Third", 3)+`}`)
	require.Equal(t, 200, code, a.Error)

	code, a = call(t, srv, "GET", Prefix+"/h/versions", "")
	require.Equal(t, 200, code, a.Error)
	var hist struct {
		UID      string
		Versions []dashboards.VersionInfo
	}
	require.NoError(t, json.Unmarshal(a.Data, &hist))
	require.Equal(t, "h", hist.UID)
	require.Len(t, hist.Versions, 3)
	for i, v := range hist.Versions {
		require.EqualValues(t, 3-i, v.Version)
		require.Equal(t, []string{"Third", "Second", "First"}[i], v.Title)
	}

	var got struct {
		Dashboard dashboards.Dashboard
		Meta      meta
	}
	code, a = call(t, srv, "GET", Prefix+"/h/versions/1", "")
	require.Equal(t, 200, code, a.Error)
	require.NoError(t, json.Unmarshal(a.Data, &got))
	require.Equal(t, "First", got.Dashboard.Title)
	require.Len(t, got.Dashboard.Panels, 1)
	require.EqualValues(t, 1, got.Meta.Version)

	// Restoring version 1 saves it as version 4; the history keeps every version.
	code, a = call(t, srv, "POST", Prefix+"/h/versions/1/restore", `{"version": 3}`)
	require.Equal(t, 200, code, a.Error)
	require.JSONEq(t, `{"uid": "h", "version": 4, "url": "/dashboards/h", "restoredFrom": 1}`, string(a.Data))
	code, a = call(t, srv, "GET", Prefix+"/h", "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(a.Data, &got))
	require.Equal(t, "First", got.Dashboard.Title)
	require.EqualValues(t, 4, got.Meta.Version)
	code, a = call(t, srv, "GET", Prefix+"/h/versions", "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(a.Data, &hist))
	require.Len(t, hist.Versions, 4)

	// A restore from a stale read is a conflict, and changes nothing.
	code, a = call(t, srv, "POST", Prefix+"/h/versions/2/restore", `{"version": 3}`)
	require.Equal(t, 409, code, a.Error)
	require.Equal(t, "conflict", a.ErrorType)

	for _, c := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"GET", "/h/versions/9", "", 404, "has no version 9"},
		{"GET", "/h/versions/x", "", 400, `version "x"`},
		{"GET", "/h/versions/0", "", 400, "positive integer"},
		{"GET", "/nope/versions", "", 404, `no dashboard with uid "nope"`},
		{"GET", "/nope/versions/1", "", 404, `no dashboard with uid "nope"`},
		{"POST", "/h/versions/1/restore", ``, 400, `want {"version": N}`},
		{"POST", "/h/versions/1/restore", `{"version": 4, "x": 1}`, 400, `want {"version": N}`},
		{"POST", "/h/versions/9/restore", `{"version": 4}`, 404, "has no version 9"},
		{"POST", "/nope/versions/1/restore", `{"version": 1}`, 404, `no dashboard with uid "nope"`},
		{"GET", "/prov/versions", "", 404, "provisioned"},
		{"POST", "/prov/versions/1/restore", `{"version": 1}`, 403, "read-only"},
	} {
		code, a := call(t, srv, c.method, Prefix+c.path, c.body)
		require.Equal(t, c.code, code, "%s %s: %s", c.method, c.path, a.Error)
		require.Contains(t, a.Error, c.msg, "%s %s", c.method, c.path)
	}
	code, a = call(t, srv, "GET", Prefix+"/h", "")
	require.Equal(t, 200, code)
	require.Contains(t, string(a.Data), `"version":4`, "the refused restores changed nothing")

	// Deleting the dashboard deletes its history.
	code, a = call(t, srv, "DELETE", Prefix+"/h?version=4", "")
	require.Equal(t, 200, code, a.Error)
	code, a = call(t, srv, "GET", Prefix+"/h/versions", "")
	require.Equal(t, 404, code, fmt.Sprint(a))
}
