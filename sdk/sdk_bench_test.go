package sdk

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkLoggerInfoContext measures the program's side of one slog record inside a span:
// the bridge converts it and the batch processor queues it; exporting happens in the
// background (to a local sink that discards the requests).
func BenchmarkLoggerInfoContext(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	s, err := Start(context.Background(), Options{ServiceName: "bench", Endpoint: sink.URL, NoGlobal: true, NoRuntimeMetrics: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	ctx, span := s.Tracer("bench").Start(context.Background(), "work")
	defer span.End()
	log := s.Logger()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		log.InfoContext(ctx, "item processed", "item", i, "status", "ok", "duration_seconds", 0.012)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
