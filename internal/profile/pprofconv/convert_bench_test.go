package pprofconv

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/pprof/profile"
)

// benchProfile is a CPU profile shaped like a busy Go server's 10 s profile: 500 functions,
// 3,000 samples with stacks 10 to 40 deep, a quarter of them under a span label.
func benchProfile() *profile.Profile {
	r := rand.New(rand.NewPCG(1, 2))
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 10_000_000,
	}
	for i := 0; i < 500; i++ {
		f := &profile.Function{ID: uint64(i + 1), Name: fmt.Sprintf("pkg%d.Func%d", i%20, i), Filename: fmt.Sprintf("/src/pkg%d/f.go", i%20)}
		p.Function = append(p.Function, f)
		p.Location = append(p.Location, &profile.Location{ID: uint64(i + 1), Address: uint64(0x1000 + i), Line: []profile.Line{{Function: f, Line: int64(i)}}})
	}
	for i := 0; i < 3000; i++ {
		depth := 10 + r.IntN(31)
		s := &profile.Sample{Value: []int64{1, 10_000_000}}
		for d := 0; d < depth; d++ {
			s.Location = append(s.Location, p.Location[r.IntN(len(p.Location))])
		}
		if i%4 == 0 {
			s.Label = map[string][]string{"span_id": {fmt.Sprintf("%016x", r.Uint64()%64)}, "span_name": {"GET /"}}
		}
		p.Sample = append(p.Sample, s)
	}
	return p
}

func BenchmarkParseConvertCPU(b *testing.B) {
	data := encode(b, benchProfile())
	o := opts()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		p, err := Parse(data, DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Convert(p, nil, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConvertCPU is Convert alone, without the pprof decoding Parse does.
func BenchmarkConvertCPU(b *testing.B) {
	p := benchProfile()
	o := opts()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Convert(p, nil, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseFolded reads benchProfile's stacks as 3,000 folded lines.
func BenchmarkParseFolded(b *testing.B) {
	var text []byte
	for _, s := range benchProfile().Sample {
		for i := len(s.Location) - 1; i >= 0; i-- {
			text = append(text, s.Location[i].Line[0].Function.Name...)
			if i > 0 {
				text = append(text, ';')
			}
		}
		text = append(text, " 1\n"...)
	}
	o := FoldedOptions{Labels: map[string]string{ServiceLabel: "bench"}, Limits: DefaultLimits()}
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := ParseFolded(text, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConvertCPULabels is BenchmarkConvertCPU with two pprof labels on every sample
// (one of 8 handlers and a constant), which make 8 series.
func BenchmarkConvertCPULabels(b *testing.B) {
	p := benchProfile()
	for i, s := range p.Sample {
		if s.Label == nil {
			s.Label = map[string][]string{}
		}
		s.Label["handler"] = []string{fmt.Sprintf("/h%d", i%8)}
		s.Label["otel.scope.name"] = []string{"bench"}
	}
	o := opts()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Convert(p, nil, o); err != nil {
			b.Fatal(err)
		}
	}
}
