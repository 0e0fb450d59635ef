package pprofconv

import (
	"errors"
	"strings"
	"testing"

	"github.com/loupe-dev/loupe/internal/ingest/labellimit"
)

func foldedOpts() FoldedOptions {
	return FoldedOptions{Labels: map[string]string{"service_name": "app"}, Limits: DefaultLimits(), LabelLimits: labellimit.Default()}
}

func TestParseFolded(t *testing.T) {
	in := "main;work;burn 10\nmain;idle 5\n\nmain;work;burn 2\r\n"
	ps, err := ParseFolded([]byte(in), foldedOpts())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Type.ID() != "process_cpu:samples:count:cpu:nanoseconds" {
		t.Fatalf("got %v", ids(ps))
	}
	s := ps[0].Samples
	if len(s) != 2 || s[0].Value != 12 || s[0].Stack[0].Function != "burn" || s[0].Stack[2].Function != "main" || s[1].Value != 5 {
		t.Fatalf("samples %+v", s)
	}

	o := foldedOpts()
	o.SampleRate = 100
	ps, err = ParseFolded([]byte(in), o)
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].Type.ID() != "process_cpu:cpu:nanoseconds:cpu:nanoseconds" || ps[0].Samples[0].Value != 12*10_000_000 || ps[0].Period != 10_000_000 {
		t.Fatalf("with sample rate: %s %+v", ps[0].Type.ID(), ps[0].Samples[0])
	}

	o = foldedOpts()
	o.Suffix = "alloc_space"
	ps, _ = ParseFolded([]byte(in), o)
	if ps[0].Type.ID() != "memory:alloc_space:bytes:space:bytes" {
		t.Errorf("alloc_space: %s", ps[0].Type.ID())
	}
	o = foldedOpts()
	o.Lines = true
	ps, _ = ParseFolded([]byte("a;b\na;b\na;c\n"), o)
	if len(ps[0].Samples) != 2 || ps[0].Samples[0].Value != 2 {
		t.Errorf("lines: %+v", ps[0].Samples)
	}
}

func TestParseFoldedErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := ParseFolded([]byte(in), foldedOpts())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFolded(%q) = %v, want error containing %q", in, err, want)
		}
	}
	f("a;b 1\nnovalue\n", "line 2")
	f("a;b x\n", "not a non-negative integer")
	f("a;b -3\n", "not a non-negative integer")
	f(" 3\n", "empty stack")
	f("a 9223372036854775807\na 1\n", "overflows")
	f(strings.Repeat("f;", 2000)+"f 1\n", "limit StackDepth")
	o := foldedOpts()
	o.Suffix = "nope"
	if _, err := ParseFolded([]byte("a 1"), o); err == nil {
		t.Error("unknown suffix accepted")
	}
	o = foldedOpts()
	o.Limits.Samples = 1
	var le *LimitError
	if _, err := ParseFolded([]byte("a 1\nb 1\n"), o); !errors.As(err, &le) || le.Limit != "Samples" {
		t.Errorf("samples limit: %v", err)
	}
}

func TestSplitAppName(t *testing.T) {
	f := func(in, svc, suffix string) {
		t.Helper()
		if s, x := SplitAppName(in); s != svc || x != suffix {
			t.Errorf("SplitAppName(%q) = %q, %q; want %q, %q", in, s, x, svc, suffix)
		}
	}
	f("app.cpu", "app", "cpu")
	f("my.app.alloc_space", "my.app", "alloc_space")
	f("my.app", "my.app", "")
	f("app", "app", "")
	f(".cpu", ".cpu", "")
}
