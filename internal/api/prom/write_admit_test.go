package prom_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/pipeline"
)

// fakeAdmitter has room for free samples; it records what was asked and released.
type fakeAdmitter struct {
	free  int
	asked []int
}

func (a *fakeAdmitter) AdmitMetrics(_ context.Context, path string, items int, wait bool) (func(), error) {
	if path != pipeline.PathRemoteWrite || wait {
		return nil, fmt.Errorf("unexpected call: path %s, wait %v", path, wait)
	}
	a.asked = append(a.asked, items)
	if items > a.free {
		return nil, &pipeline.ThrottleError{Err: pipeline.ErrQueueFull, RetryAfter: 1500 * time.Millisecond}
	}
	a.free -= items
	return func() { a.free += items }, nil
}

// With the metric ingest budget full, a remote write request is refused whole with 503
// and Retry-After (Prometheus retries 5xx; 429 only with retry_on_http_429) and nothing is
// written; once room is freed the same request is accepted and its room given back.
// Before, remote write appended whatever came, whatever OTLP metrics were refused.
func TestRemoteWriteAdmission(t *testing.T) {
	adm := &fakeAdmitter{}
	e := newWriteEnv(t, func(o *prom.Options) { o.WriteAdmitter = adm })
	now := time.Now().UnixMilli()
	v1 := rw1(t,
		prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "adm_v1"}},
			Samples: []prompb.Sample{{Value: 1, Timestamp: now}, {Value: 2, Timestamp: now + 1}}},
		series("adm_v1_b", 0, 1))

	syms := writev2.NewSymbolTable()
	req := &writev2.Request{Timeseries: []writev2.TimeSeries{{
		LabelsRefs: syms.SymbolizeLabels(labels.FromStrings("__name__", "adm_v2"), nil),
		Samples:    []writev2.Sample{{Value: 1, Timestamp: now}, {Value: 2, Timestamp: now + 1}},
	}}}
	req.Symbols = syms.Symbols()
	raw, err := req.Marshal()
	require.NoError(t, err)
	v2 := snappy.Encode(nil, raw)
	const v2Type = "application/x-protobuf;proto=io.prometheus.write.v2.Request"

	post := func(body []byte, ct string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Content-Encoding", "snappy")
		w := httptest.NewRecorder()
		e.api.ServeHTTP(w, r)
		return w
	}

	w := post(v1, "application/x-protobuf")
	require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	require.Equal(t, "2", w.Header().Get("Retry-After"))
	require.Contains(t, w.Body.String(), "remote write of 3 samples refused, retry later")
	w = post(v2, v2Type)
	require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	require.Equal(t, "2", w.Header().Get("Retry-After"))
	require.Equal(t, []int{3, 2}, adm.asked)
	require.Equal(t, 0, e.count(t, `{__name__=~"adm_.*"}`))

	adm.free = 3
	w = post(v1, "application/x-protobuf")
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	w = post(v2, v2Type)
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	require.Equal(t, 3, adm.free, "room not given back")
	require.Equal(t, 3, e.count(t, `{__name__=~"adm_.*"}`))
}

// FuzzCountV2 checks that counting the points of a remote write 2.0 body never crashes and
// agrees with the real decoder on every body both accept.
func FuzzCountV2(f *testing.F) {
	req := &writev2.Request{Symbols: []string{"", "__name__", "m"}, Timeseries: []writev2.TimeSeries{
		{LabelsRefs: []uint32{1, 2}, Samples: []writev2.Sample{{Value: 1, Timestamp: 1}}, Histograms: []writev2.Histogram{{Timestamp: 2}}},
	}}
	raw, err := req.Marshal()
	require.NoError(f, err)
	f.Add(raw)
	f.Add([]byte{0x2a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		n, err := prom.CountV2Series(raw)
		var got writev2.Request
		if err != nil || got.Unmarshal(raw) != nil {
			return
		}
		want := 0
		for _, ts := range got.Timeseries {
			want += len(ts.Samples) + len(ts.Histograms)
		}
		require.Equal(t, want, n)
	})
}
