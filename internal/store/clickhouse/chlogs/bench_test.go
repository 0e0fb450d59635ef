//go:build chdb

package chlogs

import (
	"context"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/bench/loadgen"
	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// BenchmarkWriteLogs writes batches of 1,000 records as the bench harness sends them
// (loadgen's default corpus) and reports the time per record. On chDB the rows go as SQL
// text (INSERT ... VALUES) into ClickHouse inside this process: the figure says little
// about clickhouse-go's binary inserts into a server.
func BenchmarkWriteLogs(b *testing.B) {
	g, err := loadgen.NewLogGen(loadgen.DefaultLogOptions())
	if err != nil {
		b.Fatal(err)
	}
	conn := chsqltest.Open(b)
	s := newStore(b, conn, Options{})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if err := s.WriteLogs(ctx, g.Logs(1000)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*1000), "ns/record")
}

// BenchmarkStorage writes 200,000 records of the harness corpus (one needle in 100,000),
// merges the parts as ClickHouse eventually does, and reports the bytes on disk per
// record and the time of the hot queries. Run with -benchtime 1x.
func BenchmarkStorage(b *testing.B) {
	const n = 200_000
	opts := loadgen.DefaultLogOptions()
	opts.NeedleEvery = 100_000
	conn := chsqltest.Open(b)
	s := newStore(b, conn, Options{})
	ctx := context.Background()
	g, err := loadgen.NewLogGen(opts)
	if err != nil {
		b.Fatal(err)
	}
	for range n / 1000 {
		if err := s.WriteLogs(ctx, g.Logs(1000)); err != nil {
			b.Fatal(err)
		}
	}
	if err := conn.Exec(ctx, "OPTIMIZE TABLE logs FINAL"); err != nil {
		b.Fatal(err)
	}
	queries := map[string]store.LogQuery{
		"needle": {LogFilter: store.LogFilter{Contains: loadgen.Needle}},
		"attr":   {LogFilter: store.LogFilter{Attrs: []store.AttrFilter{{Key: "http.status_code", Op: store.MatchEqual, Value: "503"}}}},
		"newest": {},
	}
	for b.Loop() {
		for name, q := range queries {
			start := time.Now()
			for _, err := range s.QueryLogs(ctx, q) {
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, name+"-ms")
		}
		start := time.Now()
		if _, err := s.CountLogs(ctx, store.LogCountQuery{Step: time.Minute}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "counts-ms")
	}
	sizes, err := s.DiskBytes(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(sizes[store.SignalLogs])/n, "B/record")
}
