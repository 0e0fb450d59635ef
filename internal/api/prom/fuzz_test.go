package prom_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/loupe-dev/loupe/internal/api/prom"
	"github.com/loupe-dev/loupe/internal/store/tsdb"
	"github.com/loupe-dev/loupe/internal/store/tsdb/tsdbtest"
)

// FuzzOTLPWrite sends arbitrary bodies to /api/v1/otlp/v1/metrics as protobuf and JSON:
// the handler must answer 200 or 400 and never crash, whatever the translator and the
// TSDB make of the decoded metrics.
func FuzzOTLPWrite(f *testing.F) {
	b := tsdbtest.NewBatch(map[string]string{"service.name": "fuzz", "k": "v"})
	now := time.Now()
	b.Sum("c", "", map[string]string{"a": "b"}, now, time.Second, 1, 2)
	b.Gauge("g", "By", nil, now, 0, 1)
	b.Histogram("h", "s", nil, tsdbtest.HistogramPoint{T: now, Bounds: []float64{1}, Counts: []uint64{1, 2}, Sum: 3})
	b.ExpHistogram("e", "s", nil, tsdbtest.ExpHistogramPoint{T: now, Scale: 3, Offset: -2, Counts: []uint64{1, 0, 4}, Sum: 2})
	b.Summary("s", "", nil, now, 3, 1, map[float64]float64{0.5: 1})
	req := pmetricotlp.NewExportRequestFromMetrics(b.Metrics)
	pb, err := req.MarshalProto()
	if err != nil {
		f.Fatal(err)
	}
	js, err := req.MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pb, false)
	f.Add(js, true)
	f.Add([]byte{}, false)
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[{"scale":-9,"count":"1"}]}}]}]}]}`), true)

	s, err := tsdb.Open(f.TempDir(), tsdb.DefaultOptions(), nil, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	api, err := prom.New(s, prom.DefaultOptions(), nil, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		ct := "application/x-protobuf"
		if asJSON {
			ct = "application/json"
		}
		r := httptest.NewRequest(http.MethodPost, "/api/v1/otlp/v1/metrics", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
