package duck

import (
	"testing"
	"time"
	"unsafe"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// memAppender returns a chunkAppender whose vectors are Go memory instead of a DuckDB
// chunk, for measuring the Go side of a write. It holds up to chunkRows rows; reset it
// with resetMem before that.
func memAppender(cols int) *chunkAppender {
	a := &chunkAppender{cur: -1, cols: make([]chunkCol, cols)}
	for i := range a.cols {
		a.cols[i].data = unsafe.Pointer(&make([]byte, chunkRows*stringTSize)[0])
		a.cols[i].validity = unsafe.Pointer(&make([]uint64, chunkRows/validityBitsLo)[0])
	}
	return a
}

func (a *chunkAppender) resetMem() {
	a.pinner.Unpin()
	a.rows, a.cur, a.used, a.big = 0, -1, 0, nil
}

// BenchmarkLogRows measures the Go side of WriteLogs without DuckDB: flattening one
// batch of 1,000 records as the bench harness sends them (4 resources, 10 attributes
// each) into rows, and writing the rows into (Go-memory) vectors as the appender does.
func BenchmarkLogRows(b *testing.B) {
	g, err := loadgen.NewLogGen(loadgen.DefaultLogOptions())
	if err != nil {
		b.Fatal(err)
	}
	ld := g.Logs(1000)
	now := time.Now()
	a := memAppender(13)
	defer a.resetMem()
	b.ReportAllocs()
	for b.Loop() {
		rows, _, _, err := logRows(ld, now)
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) != 1000 {
			b.Fatalf("%d rows", len(rows))
		}
		for i := range rows {
			if err := rows[i].appendTo(a); err != nil {
				b.Fatal(err)
			}
		}
		a.resetMem()
		logRowPool.put(rows) // as WriteLogs does
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
}

// BenchmarkBlockFilters measures what the writer adds per record to build the block
// filters (grams and terms) of 32 batches of 1,000 records as the harness sends them, the
// terms' halving at the end of the block included.
func BenchmarkBlockFilters(b *testing.B) {
	g, err := loadgen.NewLogGen(loadgen.DefaultLogOptions())
	if err != nil {
		b.Fatal(err)
	}
	var batches [][]logRow
	now := time.Now()
	for range 32 {
		rows, _, _, err := logRows(g.Logs(1000), now)
		if err != nil {
			b.Fatal(err)
		}
		batches = append(batches, rows)
	}
	for _, tc := range []struct {
		name      string
		newFilter func() rowFilter
	}{{"grams", newGramRows}, {"terms", newTermRows}} {
		b.Run(tc.name, func(b *testing.B) {
			size := 0
			for b.Loop() {
				f := tc.newFilter()
				for _, rows := range batches {
					for i := range rows {
						f.add(&rows[i])
					}
				}
				size = len(f.bytes())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*32000), "ns/record")
			b.ReportMetric(float64(size)/32000, "B/record")
		})
	}
}
