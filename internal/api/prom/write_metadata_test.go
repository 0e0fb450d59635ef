package prom_test

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/gogo/protobuf/proto"
	"github.com/golang/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/stretchr/testify/require"
)

// postWrite sends a snappy-compressed remote write body and returns the status.
func (e *env) postWrite(t *testing.T, body []byte, contentType, version string) int {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, body)))
	require.NoError(t, err)
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("Content-Encoding", "snappy")
	r.Header.Set("X-Prometheus-Remote-Write-Version", version)
	resp, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) metadata(t *testing.T, metric string) []metadata.Metadata {
	t.Helper()
	code, r := e.get(t, "/api/v1/metadata", url.Values{"metric": {metric}})
	require.Equal(t, http.StatusOK, code)
	return unmarshal[map[string][]metadata.Metadata](t, r.Data)[metric]
}

// TestRemoteWriteV2Metadata writes series with per-series metadata (remote write 2.0)
// and finds it by family in /api/v1/metadata (it was dropped: 0 families).
func TestRemoteWriteV2Metadata(t *testing.T) {
	e := newEnv(t)
	at := e.evalTime().UnixMilli()
	st := writev2.NewSymbolTable()
	series := func(name string, typ writev2.Metadata_MetricType, help, unit string) writev2.TimeSeries {
		return writev2.TimeSeries{
			LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", name, "job", "rw2"), nil),
			Samples:    []writev2.Sample{{Value: 1, Timestamp: at}},
			Metadata:   writev2.Metadata{Type: typ, HelpRef: st.Symbolize(help), UnitRef: st.Symbolize(unit)},
		}
	}
	req := writev2.Request{Timeseries: []writev2.TimeSeries{
		series("rw2_requests_total", writev2.Metadata_METRIC_TYPE_COUNTER, "Requests served.", ""),
		series("rw2_latency_seconds_bucket", writev2.Metadata_METRIC_TYPE_HISTOGRAM, "Latency.", "seconds"),
		series("rw2_latency_seconds_sum", writev2.Metadata_METRIC_TYPE_HISTOGRAM, "Latency.", "seconds"),
		series("rw2_latency_seconds_count", writev2.Metadata_METRIC_TYPE_HISTOGRAM, "Latency.", "seconds"),
		series("rw2_no_metadata", writev2.Metadata_METRIC_TYPE_UNSPECIFIED, "", ""),
	}}
	req.Symbols = st.Symbols()
	body, err := req.Marshal()
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, e.postWrite(t, body, "application/x-protobuf;proto=io.prometheus.write.v2.Request", "2.0.0"))

	require.Equal(t, []metadata.Metadata{{Type: model.MetricTypeCounter, Help: "Requests served."}}, e.metadata(t, "rw2_requests_total"))
	require.Equal(t, []metadata.Metadata{{Type: model.MetricTypeHistogram, Help: "Latency.", Unit: "seconds"}}, e.metadata(t, "rw2_latency_seconds"))
	require.Empty(t, e.metadata(t, "rw2_latency_seconds_bucket"))
	require.Empty(t, e.metadata(t, "rw2_no_metadata"))
}

// TestRemoteWriteV1Metadata sends WriteRequest.Metadata as Prometheus does (in requests of
// their own, once a minute by default) and finds it in /api/v1/metadata.
func TestRemoteWriteV1Metadata(t *testing.T) {
	e := newEnv(t)
	req := &prompb.WriteRequest{Metadata: []prompb.MetricMetadata{
		{MetricFamilyName: "node_cpu_seconds_total", Type: prompb.MetricMetadata_COUNTER, Help: "Seconds the CPUs spent in each mode."},
		{MetricFamilyName: "node_load1", Type: prompb.MetricMetadata_GAUGE, Help: "1m load average."},
	}}
	body, err := proto.Marshal(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, e.postWrite(t, body, "application/x-protobuf", "0.1.0"))

	require.Equal(t, []metadata.Metadata{{Type: model.MetricTypeCounter, Help: "Seconds the CPUs spent in each mode."}}, e.metadata(t, "node_cpu_seconds_total"))
	require.Equal(t, []metadata.Metadata{{Type: model.MetricTypeGauge, Help: "1m load average."}}, e.metadata(t, "node_load1"))
}
