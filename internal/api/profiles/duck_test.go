package profiles

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/duck"
)

// TestDuckStoreAnswersAsMem: the API over the real DuckDB store answers every route as it
// does over the in-memory reader the other tests check by hand.
func TestDuckStoreAnswersAsMem(t *testing.T) {
	st, err := duck.Open(filepath.Join(t.TempDir(), "p.duckdb"), duck.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.WriteProfiles(context.Background(), testProfiles()))
	now := func() time.Time { return t0.Add(time.Hour) }
	onDuck, onMem := New(st, nil), New(testData(t), nil)
	onDuck.now, onMem.now = now, now

	window := url.Values{"start": {"2026-12-06T12:00:00Z"}, "end": {"2026-12-06T12:03:00Z"}}
	for _, c := range []struct {
		path string
		q    url.Values
	}{
		{"types", rangeAll},
		{"labels", rangeAll},
		{"labels", with(rangeAll, "type", alloc.ID())},
		{"labels/service_name/values", with(rangeAll, "type", cpu.ID())},
		{"labels/service_name/values", with(rangeAll, "query", `{env=~"pr.*"}`)},
		{"flamegraph", with(rangeAll, "type", cpu.ID())},
		{"flamegraph", with(rangeAll, "type", cpu.ID(), "query", `{service_name!="worker"}`, "max_nodes", "2")},
		{"flamegraph", with(rangeAll, "type", cpu.ID(), "span_id", "00000000000000a1")},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "start": {"2026-12-06T12:00:00Z"}, "end": {"2026-12-06T12:01:00Z"}}}, // end is exclusive
		{"flamegraph", with(rangeAll, "type", alloc.ID())},
		{"diff", url.Values{"type": {cpu.ID()}, "left_query": {`{service_name="api"}`}, "right_query": {`{service_name="worker"}`},
			"left_start": {"2026-12-06T11:00:00Z"}, "left_end": {"2026-12-06T13:00:00Z"},
			"right_start": {"2026-12-06T11:00:00Z"}, "right_end": {"2026-12-06T13:00:00Z"}}},
		{"series", with(window, "type", cpu.ID(), "step", "60", "group_by", "service_name")},
		{"series", with(window, "type", cpu.ID(), "step", "30s")},
		{"spans", with(rangeAll, "type", cpu.ID(), "function", "main.work")},
		{"spans", with(rangeAll, "type", cpu.ID(), "function", "main.main", "limit", "1")},
	} {
		want, got := call(t, onMem, c.path, c.q), call(t, onDuck, c.path, c.q)
		require.Equal(t, want, got, "%s?%s", c.path, c.q.Encode())
	}

	// pprof: the same samples (their order may differ).
	q := with(rangeAll, "type", cpu.ID()).Encode()
	require.Equal(t, pprofSamples(t, onMem, q), pprofSamples(t, onDuck, q))
}

// call answers the envelope's data, with series sorted by labels (stores may list them in
// any order).
func call(t *testing.T, h http.Handler, path string, q url.Values) any {
	t.Helper()
	var data any
	code, msg := get(t, h, path, q, &data)
	require.Equal(t, http.StatusOK, code, "%s: %s", path, msg)
	if m, ok := data.(map[string]any); ok {
		if ss, ok := m["series"].([]any); ok {
			slices.SortFunc(ss, func(a, b any) int {
				ja, _ := json.Marshal(a.(map[string]any)["labels"])
				jb, _ := json.Marshal(b.(map[string]any)["labels"])
				return bytes.Compare(ja, jb)
			})
		}
	}
	return data
}

func pprofSamples(t *testing.T, h http.Handler, q string) map[string]int64 {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+"pprof?"+q, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	p, err := profile.Parse(rec.Body)
	require.NoError(t, err)
	out := map[string]int64{}
	for _, s := range p.Sample {
		var k string
		for _, l := range s.Location {
			k += l.Line[0].Function.Name + ";"
		}
		out[k] += s.Value[0]
	}
	return out
}
