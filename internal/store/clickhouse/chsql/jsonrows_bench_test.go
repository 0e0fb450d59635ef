package chsql

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanSamples reads testdata/jsonrows/samples.jsonl as chmetrics' samples query does.
func scanSamples(r rowScanner) error {
	for r.Next() {
		var id uint64
		var first int64
		var deltas, stale []int64
		var vals []float64
		if err := r.Scan(&id, &first, &deltas, &vals, &stale); err != nil {
			return err
		}
	}
	return r.Err()
}

// scanSpans reads testdata/jsonrows/spans.jsonl, rows like chspans' trace rows.
func scanSpans(r rowScanner) error {
	for r.Next() {
		var (
			spanID, parent, traceState, name, statusMsg, attrTypes, events string
			flags, kind, duration, status                                  int64
			start                                                          time.Time
			attrKeys, attrVals                                             []string
			res                                                            map[string]string
			weight                                                         float64
		)
		if err := r.Scan(&spanID, &parent, &traceState, &flags, &name, &kind, &start, &duration, &status,
			&statusMsg, &attrKeys, &attrVals, &attrTypes, &res, &events, &weight); err != nil {
			return err
		}
	}
	return r.Err()
}

// BenchmarkJSONRows decodes chDB's output for a PromQL samples query (96 series of 150
// samples, 290 KB) and for 200 spans, with JSONRows (new) and the decoder it replaced
// (old), alternately in one process.
func BenchmarkJSONRows(b *testing.B) {
	decoders := []struct {
		name string
		open func([]byte) (rowScanner, error)
	}{
		{"old", func(d []byte) (rowScanner, error) { return newRefJSONRows(d) }},
		{"new", func(d []byte) (rowScanner, error) { return NewJSONRows(d) }},
	}
	for _, c := range []struct {
		name string
		scan func(rowScanner) error
	}{{"samples", scanSamples}, {"spans", scanSpans}} {
		data, err := os.ReadFile(filepath.Join("testdata", "jsonrows", c.name+".jsonl"))
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range decoders {
			b.Run(c.name+"/"+d.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					r, err := d.open(data)
					if err != nil {
						b.Fatal(err)
					}
					if err := c.scan(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
