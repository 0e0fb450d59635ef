package flame

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

var cpuType = store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}

// cpuStacks: main.work burns 3 s under main.main, main.idle 1 s, runtime.gc 1 s alone.
func cpuStacks() []store.StackValue {
	s := time.Second.Nanoseconds()
	return []store.StackValue{
		stack(3*s, "main.main", "main.work"),
		stack(1*s, "main.main", "main.idle"),
		stack(1*s, "runtime.gc"),
	}
}

func TestPprofRoundTrip(t *testing.T) {
	start := time.Unix(1700000000, 0)
	var buf bytes.Buffer
	require.NoError(t, WritePprof(&buf, cpuStacks(), cpuType, start, start.Add(time.Minute)))
	p, err := profile.Parse(&buf)
	require.NoError(t, err)
	require.NoError(t, p.CheckValid())
	require.Equal(t, "cpu", p.SampleType[0].Type)
	require.Equal(t, "nanoseconds", p.SampleType[0].Unit)
	require.Equal(t, "cpu", p.PeriodType.Type)
	require.Equal(t, start.UnixNano(), p.TimeNanos)
	require.Equal(t, time.Minute.Nanoseconds(), p.DurationNanos)
	require.Len(t, p.Function, 4) // main.main once, though in two stacks
	require.Len(t, p.Sample, 3)
	got := map[string]int64{}
	for _, s := range p.Sample {
		leaf := s.Location[0].Line[0].Function
		got[leaf.Name] = s.Value[0]
		require.Equal(t, leaf.Name+".go", leaf.Filename)
	}
	require.Equal(t, map[string]int64{"main.work": 3e9, "main.idle": 1e9, "runtime.gc": 1e9}, got)
}

// TestGoToolPprofTop runs the real `go tool pprof -top` on the export: the functions and
// their flat values must be the ones stored.
func TestGoToolPprofTop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool pprof")
	}
	path := filepath.Join(t.TempDir(), "cpu.pb.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	start := time.Unix(1700000000, 0)
	require.NoError(t, WritePprof(f, cpuStacks(), cpuType, start, start.Add(10*time.Second)))
	require.NoError(t, f.Close())

	out, err := exec.Command("go", "tool", "pprof", "-top", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	// "      3s 60.00% 60.00%         3s 60.00%  main.work"
	for fn, flat := range map[string]string{"main.work": "3s", "main.idle": "1s", "runtime.gc": "1s", "main.main": "0"} {
		re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(flat) + `\s.*\s` + regexp.QuoteMeta(fn) + `$`)
		require.Regexp(t, re, string(out), "flat %s of %s", flat, fn)
	}
	require.Contains(t, string(out), "Total samples = 5s")
}
