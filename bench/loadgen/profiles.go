package loadgen

import (
	"bytes"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/url"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Profiles is the signal of Pyroscope pushes; PyroscopeIngest its protocol.
const (
	Profiles        = "profiles"
	PyroscopeIngest = "pyroscope-ingest"
)

// cpuPprof is a real 10 s Go CPU profile (internal/store/duck/testdata/cpu.pb.gz, recorded
// by TestCaptureCPUProfile there), the stacks every CPU profile is drawn from.
//
//go:embed cpu.pb.gz
var cpuPprof []byte

// Profile kinds a ProfileGen makes, with the name suffix pyroscope-go pushes them under.
const (
	ProfileCPU       = "cpu"
	ProfileHeap      = "heap" // alloc and inuse, objects and space: four sample types
	ProfileGoroutine = "goroutines"
)

// ProfileKinds are the kinds a service pushes every 10 s.
var ProfileKinds = []string{ProfileCPU, ProfileHeap, ProfileGoroutine}

// profileRareLeaves is how many rare leaf functions the long tail picks from.
const profileRareLeaves = 1000

// ProfileGen makes 10 s pprof uploads as pyroscope-go sends them (multipart, gzipped
// pprof in the part "profile"), varied per service and per push: CPU profiles are drawn
// from the real one by its stacks' weights (as many samples, so the stacks repeat as a
// service's do); heap and goroutine profiles are this process's own, recorded once,
// their values rescaled per sample; every profile gets a long tail (Tail of its samples)
// ending in one of 1,000 rare functions, so that distinct stacks come and go; and each
// service's own functions (the main package of the real program) carry its name.
type ProfileGen struct {
	rng  *rand.Rand
	Tail float64
	base map[string]*profile.Profile
	// cumulative weights of the CPU profile's samples, and its sample count
	weights []float64
	samples int64
	// GzBytes is the total size of the gzipped pprof files made so far.
	GzBytes int64
}

// NewProfileGen records this process's heap and goroutine profiles and loads the CPU one.
func NewProfileGen(seed uint64) (*ProfileGen, error) {
	g := &ProfileGen{rng: rand.New(rand.NewPCG(seed, 0x9f0f11e5)), Tail: 0.02, base: map[string]*profile.Profile{}}
	cpu, err := profile.ParseData(cpuPprof)
	if err != nil {
		return nil, fmt.Errorf("parse the embedded cpu profile: %w", err)
	}
	g.base[ProfileCPU] = cpu
	var sum float64
	for _, s := range cpu.Sample {
		sum += float64(s.Value[0])
		g.weights = append(g.weights, sum)
		g.samples += s.Value[0]
	}
	runtime.GC() // the heap profile shows the last GC's live heap
	for kind, name := range map[string]string{ProfileHeap: "heap", ProfileGoroutine: "goroutine"} {
		var buf bytes.Buffer
		if err := pprof.Lookup(name).WriteTo(&buf, 0); err != nil {
			return nil, fmt.Errorf("record the %s profile: %w", name, err)
		}
		p, err := profile.Parse(&buf)
		if err != nil {
			return nil, fmt.Errorf("parse the %s profile: %w", name, err)
		}
		if len(p.Sample) == 0 {
			return nil, fmt.Errorf("the %s profile of this process has no samples", name)
		}
		g.base[kind] = p
	}
	return g, nil
}

// Push returns the upload of one kind of profile of service for the 10 s ending at end.
func (g *ProfileGen) Push(service, kind string, end time.Time) (Batch, error) {
	base := g.base[kind]
	if base == nil {
		return Batch{}, fmt.Errorf("unknown profile kind %q", kind)
	}
	p := base.Copy()
	for _, fn := range p.Function {
		// The real programs' own packages become the service's.
		for _, own := range []string{"github.com/loupe-dev/loupe/internal/store/duck.", "github.com/loupe-dev/loupe/bench/"} {
			if rest, ok := strings.CutPrefix(fn.Name, own); ok {
				fn.Name = "example.com/" + service + "/" + rest
				fn.SystemName = fn.Name
			}
		}
	}
	if kind == ProfileCPU {
		g.resample(p)
	} else {
		// Memory and goroutine counts vary per service and over time.
		scale := 0.5 + float64(len(service)%7)/4
		for _, s := range p.Sample {
			f := scale * (0.5 + g.rng.Float64())
			for i := range s.Value {
				s.Value[i] = max(1, int64(float64(s.Value[i])*f))
			}
		}
	}
	g.addTail(p)
	p.TimeNanos = end.Add(-10 * time.Second).UnixNano()
	p.DurationNanos = int64(10 * time.Second)
	p = p.Compact()
	var gz bytes.Buffer
	if err := p.Write(&gz); err != nil {
		return Batch{}, err
	}
	g.GzBytes += int64(gz.Len())
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("profile", "profile.pprof")
	if err != nil {
		return Batch{}, err
	}
	if _, err := part.Write(gz.Bytes()); err != nil {
		return Batch{}, err
	}
	if err := mw.Close(); err != nil {
		return Batch{}, err
	}
	q := url.Values{}
	q.Set("name", service+"."+kind+"{env=bench}")
	q.Set("from", strconv.FormatInt(end.Add(-10*time.Second).Unix(), 10))
	q.Set("until", strconv.FormatInt(end.Unix(), 10))
	q.Set("spyName", "gospy")
	q.Set("sampleRate", "100")
	return Batch{Body: body.Bytes(), Items: 1, Query: q.Encode(), ContentType: mw.FormDataContentType()}, nil
}

// resample redraws the CPU profile's samples by their weights (the duck store's
// benchmark does the same).
func (g *ProfileGen) resample(p *profile.Profile) {
	counts := make([]int64, len(p.Sample))
	total := g.weights[len(g.weights)-1]
	for range g.samples {
		x := g.rng.Float64() * total
		// The sample whose cumulative weight first exceeds x (the last if none does).
		i := sort.Search(len(g.weights)-1, func(i int) bool { return g.weights[i] > x })
		counts[i]++
	}
	kept := p.Sample[:0]
	for i, s := range p.Sample {
		if counts[i] > 0 {
			s.Value = []int64{counts[i], counts[i] * p.Period}
			kept = append(kept, s)
		}
	}
	p.Sample = kept
}

// addTail adds samples ending in rare functions, at least one.
func (g *ProfileGen) addTail(p *profile.Profile) {
	if len(p.Sample) == 0 || g.Tail <= 0 {
		return
	}
	var nextID uint64
	for _, l := range p.Location {
		nextID = max(nextID, l.ID)
	}
	for _, f := range p.Function {
		nextID = max(nextID, f.ID)
	}
	// As many rare samples as the CPU profile's samples times Tail (the duck store's
	// benchmark's tail); other kinds, whose values are bytes or counts, by their stacks.
	n := max(1, int64(float64(len(p.Sample))*g.Tail))
	if len(p.SampleType) > 0 && p.SampleType[0].Type == "samples" {
		n = max(1, int64(float64(g.samples)*g.Tail))
	}
	rare := map[int]*profile.Location{}
	kept := p.Sample
	for range n {
		base := kept[g.rng.IntN(len(kept))]
		k := g.rng.IntN(profileRareLeaves)
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
		v := make([]int64, len(base.Value))
		for i, x := range base.Value {
			v[i] = max(1, x/max(1, base.Value[0]))
		}
		p.Sample = append(p.Sample, &profile.Sample{Location: append([]*profile.Location{loc}, base.Location...), Value: v})
	}
}
