package pprofconv

import (
	"bytes"
	"compress/gzip"
	"errors"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/store"
)

// testProfile is a small CPU profile as Go's runtime writes it: two sample types, main
// calling work calling burn (inlined into work), with pprof labels.
func testProfile() *profile.Profile {
	fMain := &profile.Function{ID: 1, Name: "main.main", Filename: "/src/main.go"}
	fWork := &profile.Function{ID: 2, Name: "main.work", Filename: "/src/work.go"}
	fBurn := &profile.Function{ID: 3, Name: "main.burn", Filename: "/src/work.go"}
	lMain := &profile.Location{ID: 1, Address: 0x10, Line: []profile.Line{{Function: fMain, Line: 3}}}
	// burn inlined into work: the innermost function first.
	lWork := &profile.Location{ID: 2, Address: 0x20, Line: []profile.Line{{Function: fBurn, Line: 9}, {Function: fWork, Line: 5}}}
	lRaw := &profile.Location{ID: 3, Address: 0xbeef}
	return &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10_000_000,
		TimeNanos:     time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC).UnixNano(),
		DurationNanos: int64(10 * time.Second),
		Function:      []*profile.Function{fMain, fWork, fBurn},
		Location:      []*profile.Location{lMain, lWork, lRaw},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{lWork, lMain}, Value: []int64{3, 30_000_000},
				Label: map[string][]string{"span_id": {"00f067aa0ba902b7"}, "span_name": {"GET /"}, "region": {"eu"}}},
			{Location: []*profile.Location{lWork, lMain}, Value: []int64{2, 20_000_000}, Label: map[string][]string{"region": {"eu"}}},
			{Location: []*profile.Location{lWork, lMain}, Value: []int64{1, 10_000_000}, Label: map[string][]string{"region": {"eu"}}},
			{Location: []*profile.Location{lRaw, lMain}, Value: []int64{4, 40_000_000}},
			{Location: nil, Value: []int64{9, 90_000_000}},
		},
	}
}

func encode(t testing.TB, p *profile.Profile) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := p.Write(&b); err != nil { // gzipped
		t.Fatal(err)
	}
	return b.Bytes()
}

func opts() Options {
	return Options{Labels: map[string]string{"service_name": "api", "env": "prod"}, Limits: DefaultLimits(), LabelLimits: labellimit.Default()}
}

func find(t *testing.T, ps []store.Profile, typ string, labels map[string]string) store.Profile {
	t.Helper()
	for _, p := range ps {
		if p.Type.ID() != typ || len(p.Labels) != len(labels) {
			continue
		}
		ok := true
		for k, v := range labels {
			ok = ok && p.Labels[k] == v
		}
		if ok {
			return p
		}
	}
	t.Fatalf("no %s profile with labels %v in %d profiles", typ, labels, len(ps))
	return store.Profile{}
}

func TestConvertCPU(t *testing.T) {
	p, err := Parse(encode(t, testProfile()), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Convert(p, nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 4 { // 2 types x 2 series (region=eu, none)
		t.Fatalf("got %d profiles, want 4", len(ps))
	}
	eu := find(t, ps, "process_cpu:cpu:nanoseconds:cpu:nanoseconds", map[string]string{"service_name": "api", "env": "prod", "region": "eu"})
	if eu.Period != 10_000_000 || eu.Duration != 10*time.Second || !eu.Time.Equal(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("period %d duration %s time %s", eu.Period, eu.Duration, eu.Time)
	}
	if len(eu.Samples) != 2 {
		t.Fatalf("eu samples: %+v", eu.Samples)
	}
	want := []store.Frame{{Function: "main.burn", File: "/src/work.go"}, {Function: "main.work", File: "/src/work.go"}, {Function: "main.main", File: "/src/main.go"}}
	for _, s := range eu.Samples {
		if len(s.Stack) != 3 || s.Stack[0] != want[0] || s.Stack[1] != want[1] || s.Stack[2] != want[2] {
			t.Errorf("stack %+v, want %+v", s.Stack, want)
		}
		switch s.SpanID {
		case "00f067aa0ba902b7":
			if s.Value != 30_000_000 || s.SpanName != "GET /" {
				t.Errorf("span sample %+v", s)
			}
		case "":
			if s.Value != 30_000_000 { // the two samples without a span, summed
				t.Errorf("sample without span: %+v", s)
			}
		}
	}
	// The stackless sample of testProfile is left out.
	none := find(t, ps, "process_cpu:samples:count:cpu:nanoseconds", map[string]string{"service_name": "api", "env": "prod"})
	if len(none.Samples) != 1 || none.Samples[0].Value != 4 || none.Samples[0].Stack[0].Function != "0xbeef" {
		t.Errorf("unsymbolized sample: %+v", none.Samples)
	}
}

// A pprof without a period type gets type IDs with empty period fields, another type
// than the same profile with one, as in Pyroscope (whose ingest builds the ID from the
// pprof's fields, pkg/model LabelsForProfile, and leaves them empty too).
func TestConvertNoPeriodType(t *testing.T) {
	tp := testProfile()
	tp.PeriodType = nil
	p, err := Parse(encode(t, tp), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Convert(p, nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, p := range ps {
		ids[p.Type.ID()] = true
	}
	if len(ids) != 2 || !ids["process_cpu:cpu:nanoseconds::"] || !ids["process_cpu:samples:count::"] {
		t.Errorf("type IDs %v, want process_cpu:cpu:nanoseconds:: and process_cpu:samples:count::", ids)
	}
}

func TestConvertHeapCumulative(t *testing.T) {
	heap := func(alloc, inuse int64) *profile.Profile {
		f := &profile.Function{ID: 1, Name: "main.alloc"}
		l := &profile.Location{ID: 1, Line: []profile.Line{{Function: f}}}
		return &profile.Profile{
			SampleType: []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"},
				{Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"}},
			PeriodType: &profile.ValueType{Type: "space", Unit: "bytes"}, Period: 512 * 1024,
			Function: []*profile.Function{f}, Location: []*profile.Location{l},
			Sample: []*profile.Sample{{Location: []*profile.Location{l}, Value: []int64{alloc, alloc * 8, inuse, inuse * 8}}},
		}
	}
	o := opts()
	o.Kind = KindHeap
	o.SkipCumulativeWithoutPrevious = true
	o.Time = time.Unix(100, 0)
	first, err := Convert(heap(10, 4), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].Type.ID() != "memory:inuse_objects:count:space:bytes" || first[1].Type.ID() != "memory:inuse_space:bytes:space:bytes" {
		t.Fatalf("first scrape: want only inuse types, got %v", ids(first))
	}
	if !first[0].Time.Equal(time.Unix(100, 0)) {
		t.Errorf("time %s, want the fallback", first[0].Time)
	}
	second, err := Convert(heap(25, 5), heap(10, 4), o)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, p := range second {
		got[p.Type.ID()] = p.Samples[0].Value
	}
	want := map[string]int64{"memory:alloc_objects:count:space:bytes": 15, "memory:alloc_space:bytes:space:bytes": 120,
		"memory:inuse_objects:count:space:bytes": 5, "memory:inuse_space:bytes:space:bytes": 40}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all %v)", k, got[k], v, got)
		}
	}
}

func ids(ps []store.Profile) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Type.ID())
	}
	return s
}

func TestProfileNames(t *testing.T) {
	contention := func() *profile.Profile {
		return &profile.Profile{SampleType: []*profile.ValueType{{Type: "contentions", Unit: "count"}, {Type: "delay", Unit: "nanoseconds"}},
			PeriodType: &profile.ValueType{Type: "contentions", Unit: "count"}}
	}
	f := func(kind Kind, p *profile.Profile, cfg map[string]SampleTypeConfig, want string) {
		t.Helper()
		if got := profileName(kind, p, cfg); got != want {
			t.Errorf("profileName(%q) = %q, want %q", kind, got, want)
		}
	}
	f(KindBlock, contention(), nil, "block")
	f(KindMutex, contention(), nil, "mutex")
	f("", contention(), map[string]SampleTypeConfig{"contentions": {DisplayName: "block_count"}}, "block")
	f("", contention(), map[string]SampleTypeConfig{"contentions": {DisplayName: "mutex_count"}}, "mutex")
	f("", &profile.Profile{SampleType: []*profile.ValueType{{Type: "goroutine", Unit: "count"}}}, nil, "goroutines")
	f("", testProfile(), nil, "process_cpu")
}

func TestConvertRealGoroutineProfile(t *testing.T) {
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 0); err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b.Bytes(), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Convert(p, nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Type.ID() != "goroutines:goroutine:count:goroutine:count" {
		t.Fatalf("got %v", ids(ps))
	}
	found := false
	for _, s := range ps[0].Samples {
		for _, f := range s.Stack {
			found = found || f.Function == "testing.tRunner"
		}
	}
	if !found {
		t.Error("no stack names testing.tRunner")
	}
}

func TestLimits(t *testing.T) {
	gz := func(b []byte) []byte {
		var out bytes.Buffer
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
		return out.Bytes()
	}
	limitErr := func(err error, name string) {
		t.Helper()
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != name {
			t.Fatalf("err %v, want limit %s", err, name)
		}
		if !strings.Contains(err.Error(), "limit "+name) {
			t.Errorf("message %q does not name the limit", err)
		}
	}
	bomb := gz(make([]byte, 100<<20))
	_, err := Parse(bomb, DefaultLimits())
	limitErr(err, "DecompressedBytes")

	data := encode(t, testProfile())
	lim := DefaultLimits()
	lim.Samples = 3
	_, err = Parse(data, lim)
	limitErr(err, "Samples")
	lim = DefaultLimits()
	lim.StackDepth = 1
	_, err = Parse(data, lim)
	limitErr(err, "StackDepth")
	lim = DefaultLimits()
	lim.Strings = 5
	_, err = Parse(data, lim)
	limitErr(err, "Strings")
	lim = DefaultLimits()
	lim.Functions = 2
	_, err = Parse(data, lim)
	limitErr(err, "Functions")
	lim = DefaultLimits()
	lim.Locations = 2
	_, err = Parse(data, lim)
	limitErr(err, "Locations")

	p, _ := Parse(data, DefaultLimits())
	o := opts()
	o.Limits.Series = 1
	_, err = Convert(p, nil, o)
	limitErr(err, "Series")

	for name, bad := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("this is not a profile at all"),
		"truncated": data[:len(data)/2],
		"bad gzip":  append([]byte{0x1f, 0x8b}, 1, 2, 3),
	} {
		if _, err := Parse(bad, DefaultLimits()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	o = opts()
	delete(o.Labels, "service_name")
	if _, err := Convert(p, nil, o); !errors.Is(err, ErrNoService) {
		t.Errorf("no service: %v", err)
	}
}

func TestSanitizeLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"otel.scope.name": "otel_scope_name", "ok_1": "ok_1", "9lives": "_9lives", "__session_id__": "", "": "", "a-b c": "a_b_c",
	} {
		if got := SanitizeLabelName(in); got != want {
			t.Errorf("SanitizeLabelName(%q) = %q, want %q", in, got, want)
		}
	}
}

// A span_id that is not 16 hex digits is dropped with its span_name (the store refuses
// it), and a negative period is 0: the sample itself is kept.
func TestConvertBadSpanAndPeriod(t *testing.T) {
	p := testProfile()
	p.Period = -5
	p.Sample[0].Label = map[string][]string{"span_id": {"not-a-span-id"}, "span_name": {"GET /"}}
	ps, err := Convert(p, nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range ps {
		if pr.Period != 0 {
			t.Errorf("period %d", pr.Period)
		}
		for _, s := range pr.Samples {
			if s.SpanID != "" || s.SpanName != "" {
				t.Errorf("span kept: %+v", s)
			}
		}
	}
}
