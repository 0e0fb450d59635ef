package loki

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
)

// benchLines is the number of lines per push request, spread over 10 streams, about
// what promtail sends per batch.
const benchLines = 1000

func benchStreams() []push.Stream {
	streams := make([]push.Stream, 10)
	for i := range streams {
		streams[i].Labels = fmt.Sprintf(`{job="bench", instance="host-%d", level="info"}`, i)
		for j := 0; j < benchLines/len(streams); j++ {
			streams[i].Entries = append(streams[i].Entries, push.Entry{
				Timestamp: time.Unix(1700000000, int64(j)),
				Line:      fmt.Sprintf(`ts=2024-01-01T00:00:00Z level=info msg="request done" route=/users/%d status=200 duration_ms=%d`, j, j%300),
				StructuredMetadata: push.LabelsAdapter{
					{Name: "trace_id", Value: "0af7651916cd43dd8448eb211c80319c"}, {Name: "user", Value: strconv.Itoa(j)},
				},
			})
		}
	}
	return streams
}

func jsonBody(b *testing.B, streams []push.Stream) []byte {
	var req jsonPush
	for _, s := range streams {
		ls, err := parseLabels(s.Labels, labellimit.Default())
		if err != nil {
			b.Fatal(err)
		}
		js := jsonStream{Stream: map[string]string{}}
		for _, l := range ls {
			js.Stream[l.name] = l.value
		}
		for _, e := range s.Entries {
			md, _ := json.Marshal(map[string]string{"trace_id": e.StructuredMetadata[0].Value, "user": e.StructuredMetadata[1].Value})
			ts, _ := json.Marshal(strconv.FormatInt(e.Timestamp.UnixNano(), 10))
			line, _ := json.Marshal(e.Line)
			v, _ := json.Marshal([]json.RawMessage{ts, line, md})
			js.Values = append(js.Values, v)
		}
		req.Streams = append(req.Streams, js)
	}
	body, err := json.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// cpuTime is the CPU time used by the process so far; on a shared machine it measures
// the work better than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPush measures decode and conversion to OTLP per request of benchLines lines
// (the consumer only takes the logs), reporting lines per CPU-second.
func BenchmarkPush(b *testing.B) {
	streams := benchStreams()
	for _, tc := range []struct {
		name, ct string
		body     []byte
	}{
		{"protobuf-snappy", "application/x-protobuf", protoBody(b, streams...)},
		{"json", "application/json", jsonBody(b, streams)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := newRecorder()
			h, _ := newTestHandler(b, c)
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			c0, t0 := cpuTime(), time.Now()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(tc.body))
				req.Header.Set("Content-Type", tc.ct)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				c.logs = plog.NewLogs() // drop what was consumed
			}
			lines := float64(b.N * benchLines)
			b.ReportMetric(lines/time.Since(t0).Seconds(), "lines/s")
			if cpu := cpuTime() - c0; cpu > 0 {
				b.ReportMetric(lines/cpu.Seconds(), "lines/cpu-s")
			}
		})
	}
}
