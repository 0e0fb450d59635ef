//go:build chdb

package chprofiles

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// BenchmarkMergeStacks24h is the embedded store's benchmark of the same name
// (internal/store/duck/profiles_bench_test.go) on chDB: 24 h of one service's 10 s CPU
// profiles (8,640 pprofs drawn from the real profile in the duck package's testdata, with
// the same long tail of rare stacks), each stored as two profiles (samples:count and
// cpu:nanoseconds), then MergeStacks of the cpu type over the day. Profiles are written 36
// pprofs per call (6 minutes of one service). disk_B/pprof is DiskBytes after OPTIMIZE
// FINAL of every table (the duplicate stack rows merged) over the pprofs written.
//
//	CHDB_LIB_PATH=... go test -tags chdb ./internal/store/clickhouse/chprofiles -run '^$' -bench MergeStacks24h -benchtime 20x
func BenchmarkMergeStacks24h(b *testing.B) {
	conn := chsqltest.Open(b)
	s := newStore(b, conn, Options{})
	ctx := context.Background()
	n := 24 * 360
	if v, err := strconv.Atoi(os.Getenv("LOUPE_BENCH_PROFILES")); err == nil && v > 0 {
		n = v
	}
	src := loadBenchSource(b)
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	var gz int64
	var writeSeconds float64
	var batch []store.Profile
	for i := range n {
		p := src.draw(rng, start.Add(time.Duration(i)*10*time.Second))
		var buf bytes.Buffer
		if err := p.Write(&buf); err != nil {
			b.Fatal(err)
		}
		gz += int64(buf.Len())
		batch = append(batch, toStoreProfiles(p, "api")...)
		if len(batch) == 72 || i == n-1 {
			began := time.Now()
			if err := s.WriteProfiles(ctx, batch); err != nil {
				b.Fatal(err)
			}
			writeSeconds += time.Since(began).Seconds()
			batch = batch[:0]
		}
	}
	for _, t := range tables {
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+t.name+" FINAL"); err != nil {
			b.Fatal(err)
		}
	}
	sel := store.ProfileSelector{Type: "process_cpu:cpu:nanoseconds:cpu:nanoseconds", Start: start, End: start.Add(24 * time.Hour)}
	var stacks int
	b.ResetTimer()
	for range b.N {
		svs, err := s.MergeStacks(ctx, sel)
		if err != nil {
			b.Fatal(err)
		}
		stacks = len(svs)
	}
	b.StopTimer()
	sizes, err := s.DiskBytes(ctx)
	if err != nil {
		b.Fatal(err)
	}
	disk := sizes[store.SignalProfiles]
	b.ReportMetric(float64(stacks), "stacks")
	b.ReportMetric(float64(disk)/float64(n), "disk_B/pprof")
	b.ReportMetric(float64(gz)/float64(n), "gz_B/pprof")
	b.ReportMetric(float64(disk)/float64(gz), "disk/gz")
	b.ReportMetric(writeSeconds/float64(n)*1e3, "setup_write_ms/pprof")
}

// The rest is the duck benchmark's data generation, copied (test files of another
// package cannot be imported).

const benchRareLeaves = 1000

type benchSource struct {
	tail    float64
	prof    *profile.Profile
	weights []float64
	samples int64
}

var benchSourceOnce = sync.OnceValues(func() (*profile.Profile, error) {
	f, err := os.Open("../../duck/testdata/cpu.pb.gz")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return profile.Parse(f)
})

func loadBenchSource(b *testing.B) *benchSource {
	p, err := benchSourceOnce()
	if err != nil {
		b.Fatal(err)
	}
	src := &benchSource{prof: p, tail: 0.02}
	var sum float64
	for _, s := range p.Sample {
		sum += float64(s.Value[0])
		src.weights = append(src.weights, sum)
		src.samples += s.Value[0]
	}
	return src
}

func (src *benchSource) draw(rng *rand.Rand, t time.Time) *profile.Profile {
	p := src.prof.Copy()
	counts := make([]int64, len(p.Sample))
	total := src.weights[len(src.weights)-1]
	for range src.samples {
		x := rng.Float64() * total
		i := sort.Search(len(src.weights), func(i int) bool { return src.weights[i] > x })
		counts[min(i, len(counts)-1)]++
	}
	kept := p.Sample[:0]
	for i, s := range p.Sample {
		if counts[i] > 0 {
			s.Value = []int64{counts[i], counts[i] * p.Period}
			kept = append(kept, s)
		}
	}
	var nextID uint64
	for _, l := range p.Location {
		nextID = max(nextID, l.ID)
	}
	for _, f := range p.Function {
		nextID = max(nextID, f.ID)
	}
	rare := map[int]*profile.Location{}
	for range int64(float64(src.samples) * src.tail) {
		base := kept[rng.IntN(len(kept))]
		k := rng.IntN(benchRareLeaves)
		loc, ok := rare[k]
		if !ok {
			nextID++
			name := fmt.Sprintf("example.com/svc/internal/rare.path%d", k)
			fn := &profile.Function{ID: nextID, Name: name, SystemName: name, Filename: "/src/svc/internal/rare/rare.go"}
			loc = &profile.Location{ID: nextID, Line: []profile.Line{{Function: fn, Line: int64(k)}}}
			p.Function = append(p.Function, fn)
			p.Location = append(p.Location, loc)
			rare[k] = loc
		}
		stack := append([]*profile.Location{loc}, base.Location...)
		kept = append(kept, &profile.Sample{Location: stack, Value: []int64{1, p.Period}})
	}
	p.Sample = kept
	p.TimeNanos = t.UnixNano()
	p.DurationNanos = int64(10 * time.Second)
	return p.Compact()
}

func toStoreProfiles(p *profile.Profile, service string) []store.Profile {
	var out []store.Profile
	for vi, st := range p.SampleType {
		sp := store.Profile{
			Type: store.ProfileType{Name: "process_cpu", SampleType: st.Type, SampleUnit: st.Unit,
				PeriodType: p.PeriodType.Type, PeriodUnit: p.PeriodType.Unit},
			Labels:   map[string]string{"service_name": service},
			Time:     time.Unix(0, p.TimeNanos),
			Duration: time.Duration(p.DurationNanos),
			Period:   p.Period,
		}
		for _, s := range p.Sample {
			var stack []store.Frame
			for _, loc := range s.Location {
				for _, ln := range loc.Line {
					stack = append(stack, store.Frame{Function: ln.Function.Name, File: ln.Function.Filename})
				}
			}
			sp.Samples = append(sp.Samples, store.ProfileSample{Stack: stack, Value: s.Value[vi]})
		}
		out = append(out, sp)
	}
	return out
}
