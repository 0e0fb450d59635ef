package dashboards

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProvisioner(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	grafana, err := os.ReadFile("testdata/grafana-legacy.json")
	require.NoError(t, err)
	write("a.json", `{"uid": "a", "title": "A", "panels": []}`)
	write("no-uid.json", `{"title": "From the file name"}`)
	write("grafana.json", string(grafana))
	write("bad.json", `{"title": "Bad", "panels": [{"id": 1, "type": "piechart", "gridPos": {"w": 6, "h": 4}}]}`)
	write("dup.json", `{"uid": "a", "title": "A again"}`)
	write("notes.txt", `not a dashboard`)
	builtin := fstest.MapFS{"b.json": {Data: []byte(`{"uid": "b", "title": "Built in"}`)}}

	p := NewProvisioner(builtin, []string{dir, filepath.Join(dir, "missing")}, nil)
	p.Load()
	uids := func() []string {
		var out []string
		for _, d := range p.List() {
			out = append(out, d.Dashboard.UID)
		}
		return out
	}
	require.Equal(t, []string{"a", "b", "no-uid", "legacy-host"}, uids(), "by title: A, Built in, From the file name, Legacy host")
	d, ok := p.Get("legacy-host")
	require.True(t, ok)
	require.Equal(t, filepath.Join(dir, "grafana.json"), d.Source)
	require.Equal(t, PanelTimeseries, d.Dashboard.Panels[2].Panels[0].Type, "Grafana JSON goes through the importer")
	b, _ := p.Get("b")
	require.Equal(t, SourceBuiltin, b.Source)
	errs := p.Errors()
	require.Len(t, errs, 3)
	msgs := map[string]string{}
	for _, e := range errs {
		msgs[filepath.Base(e.Source)] = e.Error
	}
	require.Contains(t, msgs["bad.json"], `unknown panel type "piechart"`)
	require.Contains(t, msgs["dup.json"], `uid "a" is already provisioned by `+filepath.Join(dir, "a.json"))
	require.Contains(t, msgs["missing"], "no such file or directory")

	// Changes on disk are picked up by Run: a file removed, one changed, one fixed.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	require.NoError(t, os.Remove(filepath.Join(dir, "no-uid.json")))
	write("a.json", `{"uid": "a", "title": "A, changed on disk", "panels": []}`)
	write("bad.json", `{"uid": "fixed", "title": "Fixed"}`)
	require.Eventually(t, func() bool {
		a, _ := p.Get("a")
		_, gone := p.Get("no-uid")
		_, fixed := p.Get("fixed")
		return a.Dashboard.Title == "A, changed on disk" && !gone && fixed
	}, 10*time.Second, 10*time.Millisecond)
	require.Len(t, p.Errors(), 2)
}
