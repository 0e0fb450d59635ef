package statsd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/loupe-dev/loupe/internal/store/tsdb"
)

var benchPacket = []byte(strings.Join([]string{
	"api.requests:1|c|@0.1|#env:prod,route:/checkout,method:POST",
	"temp:+5|g",
	"req.time:250|ms|#env:prod,route:/checkout",
	"basket.size:3|h",
	"pay.lat:0.3|d|#region:eu",
	"users:alice|s",
	"plain.counter:1|c",
	"queue.depth:42|g|#queue:emails",
}, "\n"))

// BenchmarkParseMetric measures the line parser alone.
func BenchmarkParseMetric(b *testing.B) {
	lines := bytes.Split(benchPacket, []byte{'\n'})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			if _, err := ParseMetric(l); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkHandlePacket measures parsing and aggregation of a multi-metric packet, as the
// UDP reader does it (no network, no flush).
func BenchmarkHandlePacket(b *testing.B) {
	r, err := New(Default(), discardAppendable{}, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Count(benchPacket, []byte{'\n'}) + 1
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPacket)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.handlePacket(benchPacket)
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkFlush measures one flush of 10,000 counter series into a real TSDB store.
func BenchmarkFlush(b *testing.B) {
	st, err := tsdb.Open(b.TempDir(), tsdb.DefaultOptions(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r, err := New(Default(), st, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	for i := range n {
		r.handleLine([]byte(fmt.Sprintf("bench.requests:1|c|#route:/r%d,env:prod", i)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "samples/s")
}
