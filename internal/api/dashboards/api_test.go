package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/dashboards"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// testServer serves the API over a real DuckDB store, with one provisioned dashboard
// (uid "prov") in a folder.
func testServer(t *testing.T) *httptest.Server {
	t.Helper()
	s, err := duck.Open(filepath.Join(t.TempDir(), "loupe.duckdb"), duck.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	store, err := s.Dashboards(context.Background())
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prov.json"), []byte(`{"uid": "prov", "title": "Provisioned", "tags": ["p"], "panels": []}`), 0o644))
	prov := dashboards.NewProvisioner(nil, []string{dir}, nil)
	prov.Load()
	srv := httptest.NewServer(New(store, prov, nil))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, answer) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var a answer
	require.NoError(t, json.Unmarshal(b, &a), "%s", b)
	return resp.StatusCode, a
}

const panelJSON = `{"id": %d, "type": "timeseries", "title": "p%d", "gridPos": {"x": 0, "y": %d, "w": 12, "h": 8}, "targets": [{"refId": "A", "expr": "rate(up[5m])"}]}`

func dashJSON(uid, title string, panels int) string {
	ps := make([]string, panels)
	for i := range ps {
		ps[i] = fmt.Sprintf(panelJSON, i+1, i+1, 8*i)
	}
	return fmt.Sprintf(`{"uid": %q, "title": %q, "tags": ["t"], "panels": [%s]}`, uid, title, strings.Join(ps, ","))
}

func TestCRUDAndConflict(t *testing.T) {
	srv := testServer(t)
	code, a := call(t, srv, "POST", Prefix, `{"dashboard": `+dashJSON("web", "Web", 2)+`}`)
	require.Equal(t, 200, code, a.Error)
	require.JSONEq(t, `{"uid": "web", "version": 1, "url": "/dashboards/web"}`, string(a.Data))

	code, a = call(t, srv, "GET", Prefix+"/web", "")
	require.Equal(t, 200, code)
	var got struct {
		Dashboard dashboards.Dashboard
		Meta      meta
	}
	require.NoError(t, json.Unmarshal(a.Data, &got))
	require.Equal(t, "Web", got.Dashboard.Title)
	require.EqualValues(t, 1, got.Meta.Version)
	require.EqualValues(t, 1, got.Dashboard.Version)
	require.Equal(t, "now-6h", got.Dashboard.Time.From, "defaults filled in")
	require.False(t, got.Meta.ReadOnly)

	// Two editors read version 1; the first save wins, the second is refused.
	code, a = call(t, srv, "PUT", Prefix+"/web", `{"version": 1, "dashboard": `+dashJSON("web", "Web by Ann", 3)+`}`)
	require.Equal(t, 200, code, a.Error)
	require.JSONEq(t, `{"uid": "web", "version": 2, "url": "/dashboards/web"}`, string(a.Data))
	code, a = call(t, srv, "PUT", Prefix+"/web", `{"version": 1, "dashboard": `+dashJSON("web", "Web by Bob", 1)+`}`)
	require.Equal(t, 409, code)
	require.Equal(t, "conflict", a.ErrorType)
	require.Contains(t, a.Error, "version 2, not 1")
	code, a = call(t, srv, "GET", Prefix+"/web", "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(a.Data, &got))
	require.Equal(t, "Web by Ann", got.Dashboard.Title, "the refused update changed nothing")
	require.Len(t, got.Dashboard.Panels, 3)

	// The uid in the body may be left out; a different one is refused.
	code, a = call(t, srv, "PUT", Prefix+"/web", `{"version": 2, "dashboard": {"title": "Web 3", "panels": []}}`)
	require.Equal(t, 200, code, a.Error)
	code, a = call(t, srv, "PUT", Prefix+"/web", `{"version": 3, "dashboard": {"uid": "other", "title": "x"}}`)
	require.Equal(t, 400, code)
	require.Contains(t, a.Error, `differs from the path's "web"`)
	code, a = call(t, srv, "PUT", Prefix+"/web", `{"dashboard": {"title": "x"}}`)
	require.Equal(t, 400, code)
	require.Contains(t, a.Error, "version: required")
	// A dashboard written back as read carries its version: that one is expected.
	code, a = call(t, srv, "PUT", Prefix+"/web", `{"dashboard": {"title": "as read", "version": 2}}`)
	require.Equal(t, 409, code, "version 2 is stale: %s", a.Error)
	code, a = call(t, srv, "PUT", Prefix+"/web", `{"dashboard": {"title": "Web 3", "version": 3}}`)
	require.Equal(t, 200, code, a.Error)
	require.Contains(t, string(a.Data), `"version":4`)
	code, _ = call(t, srv, "PUT", Prefix+"/nope", `{"version": 1, "dashboard": {"title": "x"}}`)
	require.Equal(t, 404, code)

	// Create with an existing uid is a conflict; without a uid one is made up.
	code, a = call(t, srv, "POST", Prefix, `{"dashboard": `+dashJSON("web", "again", 0)+`}`)
	require.Equal(t, 409, code)
	require.Contains(t, a.Error, "exists")
	code, a = call(t, srv, "POST", Prefix, `{"dashboard": {"title": "No uid", "version": 7}}`)
	require.Equal(t, 200, code, a.Error)
	var created struct{ UID string }
	require.NoError(t, json.Unmarshal(a.Data, &created))
	require.Len(t, created.UID, 12)

	// List: stored and provisioned, filtered by text and tag.
	list := func(q string) []string {
		code, a := call(t, srv, "GET", Prefix+q, "")
		require.Equal(t, 200, code, a.Error)
		var l struct {
			Dashboards []listItem
		}
		require.NoError(t, json.Unmarshal(a.Data, &l))
		var out []string
		for _, d := range l.Dashboards {
			out = append(out, d.UID)
		}
		return out
	}
	require.Equal(t, []string{created.UID, "prov", "web"}, list(""))
	require.Equal(t, []string{"web"}, list("?query=WEB"))
	require.Equal(t, []string{"prov"}, list("?tag=p"))
	code, a = call(t, srv, "GET", Prefix+"?q=web", "")
	require.Equal(t, 400, code)
	require.Contains(t, a.Error, `unknown parameter "q"`)

	// Delete needs the current version.
	code, a = call(t, srv, "DELETE", Prefix+"/web", "")
	require.Equal(t, 400, code)
	require.Contains(t, a.Error, "version: required")
	code, _ = call(t, srv, "DELETE", Prefix+"/web?version=3", "")
	require.Equal(t, 409, code)
	code, a = call(t, srv, "DELETE", Prefix+"/web?version=4", "")
	require.Equal(t, 200, code, a.Error)
	code, a = call(t, srv, "GET", Prefix+"/web", "")
	require.Equal(t, 404, code)
	require.Equal(t, `no dashboard with uid "web"`, a.Error)
}

func TestProvisionedReadOnly(t *testing.T) {
	srv := testServer(t)
	code, a := call(t, srv, "GET", Prefix+"/prov", "")
	require.Equal(t, 200, code)
	require.Contains(t, string(a.Data), `"readOnly":true`)
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/prov", `{"version": 1, "dashboard": {"title": "x"}}`},
		{"DELETE", "/prov?version=1", ""},
		{"POST", "", `{"dashboard": {"uid": "prov", "title": "x"}}`},
	} {
		code, a := call(t, srv, c.method, Prefix+c.path, c.body)
		require.Equal(t, 403, code, c.method)
		require.Equal(t, "read_only", a.ErrorType)
		require.Contains(t, a.Error, "is provisioned from")
		require.Contains(t, a.Error, "prov.json")
	}
}

func TestBadInput(t *testing.T) {
	srv := testServer(t)
	f := func(body string, status int, want ...string) {
		t.Helper()
		code, a := call(t, srv, "POST", Prefix, body)
		require.Equal(t, status, code, a.Error)
		for _, w := range want {
			require.Contains(t, a.Error, w)
		}
	}
	f(`{"dashboard": {"title": `, 400, "malformed JSON")
	f(`{"dash": {}}`, 400, `unknown field "dash"`)
	f(`{}`, 400, "no dashboard")
	f(`{"dashboard": {"title": "x", "panelz": []}}`, 400, `unknown field "panelz"`)
	f(`{"dashboard": {"title": "x", "schemaVersion": 39, "panels": []}}`, 400, "Grafana dashboard", Prefix+"/import")
	f(`{"dashboard": {"uid": "a b", "title": ""}}`, 400, `uid "a b" may hold only`, "title is empty")
	// Unknown panel types are reported, each with its place, not dropped.
	f(`{"dashboard": {"title": "x", "panels": [
		{"id": 1, "type": "piechart", "title": "Pie", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4}},
		{"id": 2, "type": "stat", "title": "ok", "gridPos": {"x": 6, "y": 0, "w": 6, "h": 4}, "targets": [{"expr": "up"}]},
		{"id": 3, "type": "worldmap", "title": "Map", "gridPos": {"x": 0, "y": 4, "w": 30, "h": 0}}]}}`, 400,
		`panels[0] (id 1, "Pie"): unknown panel type "piechart"`, `panels[2] (id 3, "Map"): unknown panel type "worldmap"`)
	f(`{"dashboard": {"title": "x", "panels": [{"id": 1, "type": "stat", "title": "wide", "gridPos": {"x": 20, "y": 0, "w": 6, "h": 0}, "targets": [{"expr": "up"}]}]}}`, 400,
		"gridPos.x 20 with w 6: the panel must fit in 24 columns", "gridPos.h 0: want 1 to 1000 rows")
	f(`{"dashboard": {"title": "x", "panels": [{"id": 1, "type": "logs", "title": "l", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4}, "targets": [{"expr": "{a=\"b\"}"}]}]}}`, 400,
		"a logs panel queries loki, not prometheus")
	f(`{"dashboard": {"title": "x", "templating": {"list": [{"type": "query", "name": "1x"}, {"type": "adhoc", "name": "f"}]}}}`, 400,
		`name "1x"`, "a query variable needs a query", `unknown variable type "adhoc"`)
	f(`{"dashboard": {"title": "x", "panels": [{"id": 1, "type": "errors", "title": "e", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4}, "options": {"query": "service=a&colour=red"}}]}}`, 400,
		`options.query: unknown parameter "colour"`)

	// 500 panels are accepted; 1001 are refused naming the limit.
	f(`{"dashboard": `+dashJSON("big", "Big", 500)+`}`, 200)
	f(`{"dashboard": `+dashJSON("huge", "Huge", 1001)+`}`, 400, "1001 panels: a dashboard holds at most 1000")
	// Over 5 MiB: 413 naming the limit.
	big := `{"dashboard": {"title": "x", "description": "` + strings.Repeat("a", dashboards.MaxBytes) + `"}}`
	f(big, 413, "at most 5242880 bytes (5 MiB)")

	code, a := call(t, srv, "PATCH", Prefix+"/x", "")
	require.Equal(t, 405, code, a.Error)
}

func TestImportExport(t *testing.T) {
	srv := testServer(t)
	raw, err := os.ReadFile("../../dashboards/testdata/grafana-modern.json")
	require.NoError(t, err)
	code, a := call(t, srv, "POST", Prefix+"/import", string(raw))
	require.Equal(t, 200, code, a.Error)
	var imp struct {
		Dashboard dashboards.Dashboard
		Report    dashboards.Report
		Saved     any
	}
	require.NoError(t, json.Unmarshal(a.Data, &imp))
	require.Equal(t, "host-overview", imp.Dashboard.UID)
	require.Equal(t, 9, imp.Report.Unsupported)
	require.Nil(t, imp.Saved)
	code, _ = call(t, srv, "GET", Prefix+"/host-overview", "")
	require.Equal(t, 404, code, "not saved without save=true")

	code, a = call(t, srv, "POST", Prefix+"/import?save=true", string(raw))
	require.Equal(t, 200, code, a.Error)
	require.NoError(t, json.Unmarshal(a.Data, &imp))
	require.NotNil(t, imp.Saved)
	code, a = call(t, srv, "POST", Prefix+"/import?save=true", string(raw))
	require.Equal(t, 409, code, "a second import of the same uid")
	code, a = call(t, srv, "POST", Prefix+"/import?save=true&uid=host-copy", string(raw))
	require.Equal(t, 200, code, a.Error)

	resp, err := http.Get(srv.URL + Prefix + "/host-overview/export")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, `attachment; filename="host-overview.json"`, resp.Header.Get("Content-Disposition"))
	exported, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	back, rep, err := dashboards.ImportGrafana(exported)
	require.NoError(t, err)
	require.Zero(t, rep.Unsupported)
	imp.Dashboard.Version = 0
	require.Equal(t, imp.Dashboard, back)

	code, a = call(t, srv, "POST", Prefix+"/import", `{"schemaVersion": 10, "rows": [{"panels": []}]}`)
	require.Equal(t, 400, code)
	require.Contains(t, a.Error, "rows (Grafana 4 and older)")
	code, a = call(t, srv, "POST", Prefix+"/import", `not json`)
	require.Equal(t, 400, code)
	require.Contains(t, a.Error, "malformed JSON")
	code, _ = call(t, srv, "GET", Prefix+"/nope/export", "")
	require.Equal(t, 404, code)
}

// TestConcurrentUpdates: editors saving the same version at once: one wins, the others
// get 409, and the stored dashboard is the winner's.
func TestConcurrentUpdates(t *testing.T) {
	srv := testServer(t)
	code, a := call(t, srv, "POST", Prefix, `{"dashboard": `+dashJSON("c", "C", 1)+`}`)
	require.Equal(t, 200, code, a.Error)
	const editors = 10
	codes := make(chan int, editors)
	var wg sync.WaitGroup
	for i := range editors {
		wg.Go(func() {
			code, _ := call(t, srv, "PUT", Prefix+"/c", fmt.Sprintf(`{"version": 1, "dashboard": {"title": "editor %d"}}`, i))
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	require.Equal(t, map[int]int{200: 1, 409: editors - 1}, count)
	code, a = call(t, srv, "GET", Prefix+"/c", "")
	require.Equal(t, 200, code)
	require.Contains(t, string(a.Data), `"version":2`)
}
