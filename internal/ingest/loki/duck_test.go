package loki

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/stretchr/testify/require"
)

// TestPushIntoDuckDB pushes protobuf and JSON through the real pipeline into DuckDB and
// reads the records back, including bytes that are not UTF-8 (which a VARCHAR cannot
// hold: they arrive as U+FFFD, as encoding/json already does for JSON bodies).
func TestPushIntoDuckDB(t *testing.T) {
	srv, st := newDuckServer(t)
	body := protoBody(t, push.Stream{Labels: `{service_name="proto", level="warn"}`, Entries: []push.Entry{
		{Timestamp: time.Unix(1700000000, 0), Line: "bad \xff byte", StructuredMetadata: push.LabelsAdapter{{Name: "k\xfe", Value: "v\xff"}}},
		{Timestamp: time.Unix(1700000001, 0), Line: "fine", StructuredMetadata: push.LabelsAdapter{{Name: "span_id", Value: "b7ad6b7169203331"}}},
	}})
	resp, err := http.Post(srv.URL+Path, "application/x-protobuf", bytes.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	resp, err = http.Post(srv.URL+Path, "application/json", bytes.NewReader([]byte(
		`{"streams":[{"stream":{"job":"json"},"values":[["1700000002000000000","line \ud800 x",{"trace_id":"0af7651916cd43dd8448eb211c80319c"}]]}]}`)))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	recs := queryLogs(t, st, "proto")
	require.Len(t, recs, 2)
	require.Equal(t, "bad \uFFFD byte", recs[0].Body)
	require.Equal(t, map[string]any{"k\uFFFD": "v\uFFFD"}, recs[0].Attributes)
	require.Equal(t, int32(13), recs[0].SeverityNumber)
	require.Equal(t, "b7ad6b7169203331", recs[1].SpanID.String())
	require.Equal(t, map[string]any{"service_name": "proto", "level": "warn", "service.name": "proto"}, recs[1].Resource)

	recs = queryLogs(t, st, "json")
	require.Len(t, recs, 1)
	require.Equal(t, "line \uFFFD x", recs[0].Body)
	require.Equal(t, "0af7651916cd43dd8448eb211c80319c", recs[0].TraceID.String())
	require.Equal(t, time.Unix(1700000002, 0).UTC(), recs[0].Timestamp.UTC())
}
