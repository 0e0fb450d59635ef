package sentry

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// A span item as @sentry/node 11.12.0 sends it (span streaming, version 2), trimmed.
const nodeSpanItem = `{"version":2,"items":[
 {"name":"SELECT * FROM carts","span_id":"a1a11fcdf0f7db6b","trace_id":"90818a02ca07461380d7b3f1e3e08724","parent_span_id":"b74ccd15eb00057b",
  "start_timestamp":1796535391.1710505,"end_timestamp":1796535391.2050946,"is_segment":false,"status":"ok",
  "attributes":{"sentry.op":{"value":"db.query","type":"string"},"sentry.release":{"value":"shop@3.0.0","type":"string"},"sentry.environment":{"value":"e2e","type":"string"}}},
 {"name":"GET /node-cart","span_id":"b74ccd15eb00057b","trace_id":"90818a02ca07461380d7b3f1e3e08724",
  "start_timestamp":1796535391.1652603,"end_timestamp":1796535391.2145996,"is_segment":true,"status":"error",
  "attributes":{"sentry.op":{"value":"http.server","type":"string"},"sentry.sample_rate":{"value":1,"type":"integer"},"device.archs":{"value":["x64"],"type":"array"}}}]}`

func TestDecodeSpansV2(t *testing.T) {
	td, err := DecodeSpans([]byte(nodeSpanItem), testMeta)
	require.NoError(t, err)
	require.Equal(t, 2, td.SpanCount())
	rs := td.ResourceSpans().At(0)
	v, _ := rs.Resource().Attributes().Get("service.version")
	require.Equal(t, "shop@3.0.0", v.Str())
	spans := rs.ScopeSpans().At(0).Spans()
	child, root := spans.At(0), spans.At(1)
	require.Equal(t, "SELECT * FROM carts", child.Name())
	require.Equal(t, ptrace.SpanKindClient, child.Kind())
	require.Equal(t, root.SpanID(), child.ParentSpanID())
	require.Equal(t, "GET /node-cart", root.Name())
	require.Equal(t, ptrace.SpanKindServer, root.Kind())
	require.Equal(t, ptrace.StatusCodeError, root.Status().Code())
	rate, _ := root.Attributes().Get("sentry.sample_rate")
	require.Equal(t, int64(1), rate.Int())
	archs, _ := root.Attributes().Get("device.archs")
	require.Equal(t, `["x64"]`, archs.Str())

	// Version 1: one span object.
	td, err = DecodeSpans([]byte(`{"span_id":"1111111111111111","trace_id":"90818a02ca07461380d7b3f1e3e08724","start_timestamp":1,"timestamp":2,"op":"task"}`), testMeta)
	require.NoError(t, err)
	require.Equal(t, 1, td.SpanCount())

	_, err = DecodeSpans([]byte(`{"version":2,"items":[{"name":"no ids"}]}`), testMeta)
	require.ErrorIs(t, err, errNoSpans)
}
