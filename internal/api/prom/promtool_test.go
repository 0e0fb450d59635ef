package prom_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// promtool drives the API with Prometheus' own client (Debian package "prometheus").
func promtool(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	require.NoError(t, err, string(out))
	return out
}

func TestPromtoolInstant(t *testing.T) {
	e := newEnv(t)
	out := promtool(t, "query", "instant", "-o", "json",
		"--time="+strconv.FormatInt(e.evalTime().Unix(), 10),
		e.srv.URL, `sum by (route) (rate(http_requests_total[5m]))`)
	var vec []sample
	require.NoError(t, json.Unmarshal(out, &vec), string(out))
	got := map[string]float64{}
	for _, s := range vec {
		got[s.Metric["route"]] = value(t, s.Value)
	}
	require.Equal(t, map[string]float64{"/a": 4, "/b": 2}, roundAll(got))

	out = promtool(t, "query", "instant", "-o", "json",
		"--time="+strconv.FormatInt(e.evalTime().Unix(), 10),
		e.srv.URL, `histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket[5m])))`)
	require.NoError(t, json.Unmarshal(out, &vec), string(out))
	require.Len(t, vec, 1)
	require.InDelta(t, 0.9, value(t, vec[0].Value), 1e-9)
}

func TestPromtoolRange(t *testing.T) {
	e := newEnv(t)
	start := e.base.Add(2 * time.Minute)
	out := promtool(t, "query", "range", "-o", "json",
		"--start="+strconv.FormatInt(start.Unix(), 10),
		"--end="+strconv.FormatInt(e.evalTime().Unix(), 10),
		"--step=1m",
		e.srv.URL, `sum(rate(http_requests_total[2m]))`)
	var matrix []sample
	require.NoError(t, json.Unmarshal(out, &matrix), string(out))
	require.Len(t, matrix, 1)
	require.Len(t, matrix[0].Values, 4)
	for _, v := range matrix[0].Values {
		require.InDelta(t, 6.0, value(t, v), 1e-9)
	}
}
