package duck

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/loupe-dev/loupe/internal/profile/flame"
	"github.com/loupe-dev/loupe/internal/store"
)

// The profile benchmarks store profiles drawn from testdata/cpu.pb.gz, a real 10 s Go CPU
// profile (TestCaptureCPUProfile): each benchmark profile is a 10 s pprof with about as
// many samples as the real one, its stacks drawn by the real one's weights, so that
// profiles repeat stacks as a service's do and rare stacks come and go. Each pprof
// becomes two store profiles, as a converter makes them (samples:count and
// cpu:nanoseconds). disk_B/pprof is the database file after Close (checkpointed) divided
// by the pprofs written; gz_B/pprof the size of those pprofs as Go writes them (gzipped);
// disk/gz their ratio, the target being <= 0.3.
//
//	go test ./internal/store/duck -run '^$' -bench 'Profiles|MergeStacks24h' -benchtime 2000x
//	go test ./internal/store/duck -run '^$' -bench Flame24h -benchtime 20x

// benchRareLeaves is how many rare leaf functions the long tail of draw picks from.
const benchRareLeaves = 1000

// benchSource is the real profile and its stacks' weights.
type benchSource struct {
	tail    float64 // LOUPE_BENCH_TAIL, the share of samples with a rare leaf (draw)
	prof    *profile.Profile
	weights []float64 // cumulative, over prof.Sample
	samples int64     // samples in the real profile
}

func loadBenchSource(b *testing.B) *benchSource {
	b.Helper()
	f, err := os.Open("testdata/cpu.pb.gz")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		b.Fatal(err)
	}
	src := &benchSource{prof: p, tail: 0.02}
	if v, err := strconv.ParseFloat(os.Getenv("LOUPE_BENCH_TAIL"), 64); err == nil && v >= 0 {
		src.tail = v
	}
	var sum float64
	for _, s := range p.Sample {
		sum += float64(s.Value[0])
		src.weights = append(src.weights, sum)
		src.samples += s.Value[0]
	}
	return src
}

// draw makes one 10 s pprof at t: src.samples samples, each a stack drawn by weight.
// rename, when not empty, prefixes the function names of the main package, as another
// service's program would have its own functions.
func (src *benchSource) draw(rng *rand.Rand, t time.Time, rename string) *profile.Profile {
	p := src.prof.Copy()
	if rename != "" {
		for _, fn := range p.Function {
			if strings.HasPrefix(fn.Name, "github.com/loupe-dev/loupe/internal/store/duck.") {
				fn.Name = rename + "." + strings.TrimPrefix(fn.Name, "github.com/loupe-dev/loupe/internal/store/duck.")
				fn.SystemName = fn.Name
			}
		}
	}
	counts := make([]int64, len(p.Sample))
	total := src.weights[len(src.weights)-1]
	for range src.samples {
		x := rng.Float64() * total
		// The first stack whose cumulative weight passes x.
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
	// The long tail: a share of the samples (benchTail) end in one of benchRareLeaves
	// functions the real profile has not, so that a day holds many more distinct stacks
	// than the real profile (a service's rare paths), as resampling alone would not.
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
			fn := &profile.Function{ID: nextID, Name: fmt.Sprintf("example.com/svc/internal/rare.path%d", k), SystemName: fmt.Sprintf("example.com/svc/internal/rare.path%d", k), Filename: "/src/svc/internal/rare/rare.go"}
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

// toStoreProfiles converts a pprof into one store profile per sample type, as the
// converter does (without pprof labels, which the benchmark profiles have none of).
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
				for _, ln := range loc.Line { // leaf (inlined callee) first
					stack = append(stack, store.Frame{Function: ln.Function.Name, File: ln.Function.Filename})
				}
			}
			sp.Samples = append(sp.Samples, store.ProfileSample{Stack: stack, Value: s.Value[vi]})
		}
		out = append(out, sp)
	}
	return out
}

func gzSize(b *testing.B, p *profile.Profile) int64 {
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		b.Fatal(err)
	}
	return int64(buf.Len())
}

// BenchmarkWriteProfiles writes one pprof (two profiles) per call, round robin over 100
// services with programs of their own, 10 s apart per service, as 100 services pushing
// their CPU profiles every 10 s do: one call at a time (serial), and from 16 goroutines
// (concurrent, as many requests arriving together, which group commit writes together).
// Few profiles per service make the stacks of each service a large part of what is
// stored: a full day (8,640 profiles per service) is BenchmarkMergeStacks24h's disk figure.
func BenchmarkWriteProfiles(b *testing.B) {
	src := loadBenchSource(b)
	for _, mode := range []string{"serial", "concurrent"} {
		b.Run(mode, func(b *testing.B) {
			const services = 100
			rng := rand.New(rand.NewPCG(1, 2))
			start := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
			batches := make([][]store.Profile, b.N)
			var gz int64
			for i := range b.N {
				svc := fmt.Sprintf("svc%03d", i%services)
				p := src.draw(rng, start.Add(time.Duration(i/services)*10*time.Second), svc)
				gz += gzSize(b, p)
				batches[i] = toStoreProfiles(p, svc)
			}
			path := filepath.Join(b.TempDir(), "loupe.duckdb")
			s, err := Open(path, DefaultOptions(), nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			if mode == "serial" {
				for i := range b.N {
					if err := s.WriteProfiles(ctx, batches[i]); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				var next atomic.Int64
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.WriteProfiles(ctx, batches[next.Add(1)-1]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "profiles/s")
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			reportDisk(b, path, gz, int64(b.N))
		})
	}
}

func reportDisk(b *testing.B, path string, gz, pprofs int64) {
	disk := fileBytes(path)
	b.ReportMetric(float64(disk)/float64(pprofs), "disk_B/pprof")
	b.ReportMetric(float64(gz)/float64(pprofs), "gz_B/pprof")
	b.ReportMetric(float64(disk)/float64(gz), "disk/gz")
}

// BenchmarkMergeStacks24h merges 24 h of one service's 10 s CPU profiles (8,640 pprofs,
// across two day partitions), the flame graph query (target < 500 ms). The
// store also holds the samples:count profiles of the same pprofs. It reports the disk
// per pprof of that day of profiles too. The database is built once per process
// (LOUPE_BENCH_PROFILES pprofs, default 8,640).
func BenchmarkMergeStacks24h(b *testing.B) {
	db := openMerge24h(b)
	s, err := Open(db.path, DefaultOptions(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	sel := store.ProfileSelector{Type: "process_cpu:cpu:nanoseconds:cpu:nanoseconds", Start: db.start, End: db.start.Add(24 * time.Hour)}
	b.ResetTimer()
	var stacks int
	for range b.N {
		svs, err := s.MergeStacks(ctx, sel)
		if err != nil {
			b.Fatal(err)
		}
		stacks = len(svs)
	}
	b.StopTimer()
	b.ReportMetric(float64(stacks), "stacks")
	reportDisk(b, db.path, db.gz, int64(db.n))
	b.ReportMetric(db.writeSeconds/float64(db.n)*1e3, "setup_write_ms/pprof")
}

// BenchmarkFlame24h splits the flame graph of BenchmarkMergeStacks24h's day in its two
// halves: merge is MergeStacks (DuckDB's aggregation and the stacks' frames), build is
// flame.Build of its answer with the API's default node limit (the tree and the top table).
func BenchmarkFlame24h(b *testing.B) {
	db := openMerge24h(b)
	s, err := Open(db.path, DefaultOptions(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	sel := store.ProfileSelector{Type: "process_cpu:cpu:nanoseconds:cpu:nanoseconds", Start: db.start, End: db.start.Add(24 * time.Hour)}
	stacks, err := s.MergeStacks(ctx, sel)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("merge", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.MergeStacks(ctx, sel); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			flame.Build(stacks, 2048)
		}
		b.ReportMetric(float64(len(stacks)), "stacks")
	})
}

// merge24hDB is the database BenchmarkMergeStacks24h builds once per process.
var merge24hDB merge24h

type merge24h struct {
	once         sync.Once
	path         string
	start        time.Time
	n            int
	gz           int64
	writeSeconds float64 // wall time in WriteProfiles
	err          error
}

func openMerge24h(b *testing.B) *merge24h {
	db := &merge24hDB
	db.once.Do(func() {
		src := loadBenchSource(b)
		dir, err := os.MkdirTemp("", "loupe-merge24h-bench-")
		if err != nil {
			db.err = err
			return
		}
		benchDirs = append(benchDirs, dir)
		db.path = filepath.Join(dir, "loupe.duckdb")
		db.n = envInt("LOUPE_BENCH_PROFILES", 24*360)
		db.start = time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
		s, err := Open(db.path, DefaultOptions(), nil, nil)
		if err != nil {
			db.err = err
			return
		}
		rng := rand.New(rand.NewPCG(3, 4))
		ctx := context.Background()
		for i := range db.n {
			p := src.draw(rng, db.start.Add(time.Duration(i)*10*time.Second), "")
			db.gz += gzSize(b, p)
			ps := toStoreProfiles(p, "api")
			began := time.Now()
			if err := s.WriteProfiles(ctx, ps); err != nil {
				db.err = err
				return
			}
			db.writeSeconds += time.Since(began).Seconds()
		}
		db.err = s.Close()
	})
	if db.err != nil {
		b.Fatal(db.err)
	}
	return db
}
