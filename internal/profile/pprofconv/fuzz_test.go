package pprofconv

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
	"github.com/loupe-dev/loupe/internal/store"
)

// FuzzParsePprof feeds arbitrary bytes through Parse and Convert: errors are fine, panics
// and unbounded work are not.
func FuzzParsePprof(f *testing.F) {
	f.Add(encode(f, testProfile()))
	raw, _ := Decompress(encode(f, testProfile()), DefaultLimits())
	f.Add(raw)
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Add([]byte{0x12, 0x02, 0x0a, 0x00})
	lim := DefaultLimits()
	lim.DecompressedBytes = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, lim)
		if err != nil {
			return
		}
		o := Options{Labels: map[string]string{"service_name": "x"}, Limits: lim, LabelLimits: labellimit.Default(), Time: time.Unix(1, 0)}
		ps, err := Convert(p, p, o)
		if err != nil {
			return
		}
		for _, pr := range ps {
			if pr.Labels["service_name"] != "x" || len(pr.Samples) == 0 {
				t.Fatalf("bad profile %+v", pr)
			}
			// What the DuckDB store checks (internal/store/duck prepareProfile).
			if parsed, err := store.ParseProfileType(pr.Type.ID()); err != nil || parsed != pr.Type || !utf8.ValidString(pr.Type.ID()) {
				t.Fatalf("type %q does not round-trip: %v", pr.Type.ID(), err)
			}
			if pr.Time.IsZero() || pr.Duration < 0 || pr.Period < 0 {
				t.Fatalf("time %s duration %s period %d", pr.Time, pr.Duration, pr.Period)
			}
			for k := range pr.Labels {
				if SanitizeLabelName(k) != k {
					t.Fatalf("label name %q", k)
				}
			}
			for _, s := range pr.Samples {
				if len(s.Stack) == 0 || s.Value == 0 {
					t.Fatalf("sample without stack or value: %+v", s)
				}
				if s.SpanID != "" && !validSpanID(s.SpanID) || s.SpanID == "" && s.SpanName != "" {
					t.Fatalf("span %q %q", s.SpanID, s.SpanName)
				}
			}
		}
	})
}

// FuzzParseFolded checks the folded parser on arbitrary text.
func FuzzParseFolded(f *testing.F) {
	f.Add([]byte("main;work;burn 10\nmain;idle 5\n"), false)
	f.Add([]byte("a;;b 1\n;\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, lines bool) {
		o := FoldedOptions{Labels: map[string]string{"service_name": "x"}, Lines: lines, Limits: DefaultLimits(), LabelLimits: labellimit.Default()}
		ps, err := ParseFolded(data, o)
		if err != nil {
			return
		}
		for _, p := range ps {
			for _, s := range p.Samples {
				if len(s.Stack) == 0 || s.Value <= 0 {
					t.Fatalf("bad sample %+v", s)
				}
			}
		}
	})
}
