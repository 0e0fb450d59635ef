package prom_test

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

// A remote write refused by the metric store because the disk is nearly full answers 503
// (retry later), like OTLP, naming the disk; it answered 500 before (issue 18 item 1).
func TestRemoteWriteDiskFull503(t *testing.T) {
	opts := tsdb.DefaultOptions()
	opts.MinFreeBytes = 1 << 62 // no disk has that much free: every write is refused
	s, err := tsdb.Open(t.TempDir(), opts, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	api, err := prom.New(s, prom.DefaultOptions(), nil, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, api.Close()) })
	e := &writeEnv{store: s, api: api}

	code, msg := e.post(t, rw1(t, series("rw_full", 0, 0)), "application/x-protobuf")
	require.Equal(t, http.StatusServiceUnavailable, code, msg)
	require.Contains(t, msg, "free disk space")
	require.Equal(t, 0, e.count(t, "rw_full"))

	// Remote write 2.0 goes through Prometheus' handler, which answered 500 for every
	// commit error: it must be 503 too, and a 2.0 request with a series refused for its
	// labels as well (its commit fails the same way).
	code, msg = e.post(t, rw2(t, "rw2_full"), rw2Type)
	require.Equal(t, http.StatusServiceUnavailable, code, msg)
	require.Contains(t, msg, "free disk space")
	require.Equal(t, 0, e.count(t, "rw2_full"))
}
