package prom_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
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
	syms := writev2.NewSymbolTable()
	req := &writev2.Request{Timeseries: []writev2.TimeSeries{{
		LabelsRefs: syms.SymbolizeLabels(labels.FromStrings("__name__", "rw2_full", "job", "rw"), nil),
		Samples:    []writev2.Sample{{Value: 1, Timestamp: time.Now().UnixMilli()}},
	}}}
	req.Symbols = syms.Symbols()
	raw, err := req.Marshal()
	require.NoError(t, err)
	code, msg = e.post(t, snappy.Encode(nil, raw), "application/x-protobuf;proto=io.prometheus.write.v2.Request")
	require.Equal(t, http.StatusServiceUnavailable, code, msg)
	require.Contains(t, msg, "free disk space")
	require.Equal(t, 0, e.count(t, "rw2_full"))
}
