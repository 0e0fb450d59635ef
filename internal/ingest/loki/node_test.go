package loki

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/internal/pipeline"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// noMetrics satisfies pipeline.Writers.Metrics; these tests send no metrics.
type noMetrics struct{}

func (noMetrics) WriteMetrics(context.Context, pmetric.Metrics) error { return nil }

// newDuckServer serves the push handler over the real pipeline and a real DuckDB store.
func newDuckServer(t *testing.T) (*httptest.Server, *duck.Store) {
	t.Helper()
	st, err := duck.Open(filepath.Join(t.TempDir(), "loupe.duckdb"), duck.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	p := pipeline.New(pipeline.DefaultConfig(), pipeline.Writers{Logs: st, Spans: st, Metrics: noMetrics{}}, nil, nil)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	srv := httptest.NewServer(NewPushHandler(p, DefaultOptions(), nil, prometheus.NewRegistry()))
	t.Cleanup(srv.Close)
	return srv, st
}

func queryLogs(t *testing.T, st *duck.Store, service string) []store.LogRecord {
	t.Helper()
	var out []store.LogRecord
	for r, err := range st.QueryLogs(context.Background(), store.LogQuery{LogFilter: store.LogFilter{Services: []string{service}}, Limit: 100}) {
		require.NoError(t, err)
		out = append(out, r)
	}
	slices.Reverse(out) // oldest first, as logged
	return out
}

// TestNodeClients pushes with winston-loki (protobuf + snappy, and JSON) and pino-loki
// (JSON with structured metadata), real clients from npm, into the real pipeline and
// store, and reads the records back. It installs the pinned packages from
// testdata/node/package-lock.json with npm ci when they are missing.
func TestNodeClients(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	dir := filepath.Join("testdata", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		npm, err := exec.LookPath("npm")
		require.NoError(t, err, "node is installed but npm is not")
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "npm ci in %s:\n%s", dir, out)
	}
	srv, st := newDuckServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "push.mjs", srv.URL)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "node push.mjs:\n%s", out)

	type rec struct {
		Body, Severity string
		SevNum         int32
		Attrs          map[string]any
		Level          any // the level stream label, kept as a resource attribute
	}
	read := func(service string) []rec {
		var got []rec
		for _, r := range queryLogs(t, st, service) {
			got = append(got, rec{Body: r.Body, Severity: r.SeverityText, SevNum: r.SeverityNumber, Attrs: r.Attributes, Level: r.Resource["level"]})
		}
		// Clients stamp entries in milliseconds, so two lines may share a timestamp and come
		// back in either order: compare them sorted by body.
		sort.Slice(got, func(i, j int) bool { return got[i].Body < got[j].Body })
		return got
	}
	// A 204 means committed, so the records are there as soon as node exits.
	// winston-loki puts the level in a stream label and, with its default format, in the
	// line; in JSON mode the winston metadata also travel as structured metadata.
	require.Equal(t, []rec{
		{Body: `hello from winston {"order":7,"level":"info"}`, Severity: "info", SevNum: 9, Attrs: map[string]any{}, Level: "info"},
		{Body: `winston failed to charge {"level":"error"}`, Severity: "error", SevNum: 17, Attrs: map[string]any{}, Level: "error"},
	}, read("winston-proto"))
	require.Equal(t, []rec{
		{Body: `hello from winston {"order":7,"level":"info"}`, Severity: "info", SevNum: 9, Attrs: map[string]any{"order": "7", "level": "info"}, Level: "info"},
		{Body: `winston failed to charge {"level":"error"}`, Severity: "error", SevNum: 17, Attrs: map[string]any{"level": "error"}, Level: "error"},
	}, read("winston-json"))
	pinoRecs := read("pino-app")
	require.Len(t, pinoRecs, 2)
	require.Contains(t, pinoRecs[1].Body, "pino slow call")
	require.Equal(t, "warning", pinoRecs[1].Severity)
	require.Equal(t, int32(13), pinoRecs[1].SevNum)
	require.Equal(t, map[string]any{"request_id": "r-1", "attempt": "2"}, pinoRecs[1].Attrs)
	require.Contains(t, pinoRecs[0].Body, "pino done")
	require.Equal(t, "info", pinoRecs[0].Severity)
}
