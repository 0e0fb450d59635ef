package e2e

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// nestedMetrics returns an OTLP metrics request (protobuf) whose one data point attribute
// is an array nested depth levels deep, built inside out so that millions of levels stay
// cheap. pdata decodes recursively: a decoder without a nesting check overflows the Go
// stack on it, which kills the whole process.
func nestedMetrics(depth int) []byte {
	wrap := func(tag byte, inner []byte) []byte {
		return append(binary.AppendUvarint([]byte{tag}, uint64(len(inner))), inner...)
	}
	vlen := func(x int) int { return len(binary.AppendUvarint(nil, uint64(x))) }
	arrLens, anyLens := make([]int, depth), make([]int, depth)
	inner := 0
	for i := range depth {
		arrLens[i] = 1 + vlen(inner) + inner // ArrayValue{values: [AnyValue]}
		anyLens[i] = 1 + vlen(arrLens[i]) + arrLens[i]
		inner = anyLens[i]
	}
	v := make([]byte, 0, inner)
	for i := depth - 1; i >= 0; i-- {
		v = binary.AppendUvarint(append(v, 0x2a), uint64(arrLens[i])) // AnyValue.array_value
		in := 0
		if i > 0 {
			in = anyLens[i-1]
		}
		v = binary.AppendUvarint(append(v, 0x0a), uint64(in)) // ArrayValue.values
	}
	kv := append(wrap(0x0a, []byte("k")), wrap(0x12, v)...) // KeyValue{key, value}
	// request > resource_metrics > scope_metrics > metrics > gauge > data_points > attributes
	return wrap(0x0a, wrap(0x12, wrap(0x12, wrap(0x2a, wrap(0x0a, wrap(0x3a, kv))))))
}

// TestOTLPMetricsNestingOnEveryPath sends a deeply nested metrics request to both places
// that accept OTLP metrics over HTTP: each answers 400 naming the nesting limit, and the
// server goes on serving. /api/v1/otlp/v1/metrics had its own decoder without the check,
// and one such request killed the server with a fatal stack overflow.
func TestOTLPMetricsNestingOnEveryPath(t *testing.T) {
	s := startServer(t, t.TempDir())
	body := nestedMetrics(1_500_000)
	for _, url := range []string{s.OTLPHTTP + "/v1/metrics", s.HTTP + "/api/v1/otlp/v1/metrics"} {
		resp, err := http.Post(url, "application/x-protobuf", bytes.NewReader(body))
		require.NoError(t, err, url)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", url, msg)
		require.Contains(t, string(msg), "nested deeper than", url)
	}
	resp, err := http.Get(s.HTTP + "/-/healthy")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestOTLPMetricsOnPrometheusPath writes OTLP metrics as JSON to Prometheus' path on the HTTP
// port: the good point is queryable, and the point the store cannot take (an exponential
// histogram of scale -6) comes back as a partial success, as on the OTLP port.
func TestOTLPMetricsOnPrometheusPath(t *testing.T) {
	s := startServer(t, t.TempDir())
	now := strconv.FormatInt(time.Now().UnixNano(), 10)
	body := `{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"prom-path"}}]},` +
		`"scopeMetrics":[{"metrics":[` +
		`{"name":"queue.depth","gauge":{"dataPoints":[{"timeUnixNano":"` + now + `","asDouble":7}]}},` +
		`{"name":"bad","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[{"timeUnixNano":"` + now + `","scale":-6,"count":"1","positive":{"bucketCounts":["1"]}}]}}` +
		`]}]}]}`
	resp, err := http.Post(s.HTTP+"/api/v1/otlp/v1/metrics", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(msg))
	require.Contains(t, string(msg), `"rejectedDataPoints":"1"`)
	require.Contains(t, string(msg), "scale -6")
	require.Equal(t, map[string]float64{"map[__name__:queue_depth job:prom-path]": 7}, instant(t, s, `queue_depth`))

	resp, err = http.Post(s.HTTP+"/api/v1/otlp/v1/metrics", "text/plain", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
}
