package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"
)

// pqSynthetic is a pprof of one stack main.main → fn per value, with the period and sample
// types given as "type/unit".
func pqSynthetic(t *testing.T, period string, types []string, stacks map[string][]int64) []byte {
	t.Helper()
	p := &profile.Profile{TimeNanos: time.Now().UnixNano(), DurationNanos: int64(10 * time.Second)}
	typ, unit, _ := strings.Cut(period, "/")
	p.PeriodType = &profile.ValueType{Type: typ, Unit: unit}
	for _, tu := range types {
		typ, unit, _ := strings.Cut(tu, "/")
		p.SampleType = append(p.SampleType, &profile.ValueType{Type: typ, Unit: unit})
	}
	mainFn := &profile.Function{ID: 1, Name: "main.main", SystemName: "main.main"}
	p.Function = []*profile.Function{mainFn}
	p.Location = []*profile.Location{{ID: 1, Line: []profile.Line{{Function: mainFn}}}}
	for name, values := range stacks {
		id := uint64(len(p.Function) + 1)
		fn := &profile.Function{ID: id, Name: name, SystemName: name}
		loc := &profile.Location{ID: id, Line: []profile.Line{{Function: fn}}}
		p.Function = append(p.Function, fn)
		p.Location = append(p.Location, loc)
		p.Sample = append(p.Sample, &profile.Sample{Location: []*profile.Location{loc, p.Location[0]}, Value: values})
	}
	var buf bytes.Buffer
	require.NoError(t, p.Write(&buf))
	return buf.Bytes()
}

// docCommands returns the shell commands of the "Querying profiles" section of
// docs/profiles.md that start with prefix, continuation lines joined.
func docCommands(t *testing.T, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/profiles.md")
	require.NoError(t, err)
	doc := string(b)
	i := strings.Index(doc, "## Querying profiles")
	j := strings.Index(doc, "## Grafana's Pyroscope data source")
	require.True(t, i >= 0 && j > i, "sections not found")
	var out []string
	lines := strings.Split(doc[i:j], "\n")
	for k := 0; k < len(lines); k++ {
		if !strings.HasPrefix(lines[k], prefix) {
			continue
		}
		cmd := lines[k]
		for strings.HasSuffix(cmd, "\\") && k+1 < len(lines) {
			k++
			cmd = strings.TrimSuffix(cmd, "\\") + " " + strings.TrimSpace(lines[k])
		}
		out = append(out, cmd)
	}
	return out
}

// TestProfilesDocExamples runs the curl and go tool pprof examples of docs/profiles.md's
// "Querying profiles" against the real binary, with profiles of service "api" pushed first.
func TestProfilesDocExamples(t *testing.T) {
	s := startServer(t, t.TempDir())
	cpu := pqSynthetic(t, "cpu/nanoseconds", []string{"samples/count", "cpu/nanoseconds"}, map[string][]int64{"main.work": {300, 3e9}, "main.idle": {100, 1e9}})
	pqPush(t, s, "api{version=1.5}", cpu)
	mem := []string{"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"}
	pqPush(t, s, "api{version=1.4}", pqSynthetic(t, "space/bytes", mem, map[string][]int64{"main.parse": {10, 1 << 20, 1, 4096}}))
	pqPush(t, s, "api{version=1.5}", pqSynthetic(t, "space/bytes", mem, map[string][]int64{"main.parse": {10, 1 << 20, 1, 4096}, "main.cache": {100, 64 << 20, 50, 32 << 20}}))

	curls := docCommands(t, "curl ")
	require.Len(t, curls, 3)
	for _, c := range curls {
		out, err := exec.Command("sh", "-c", strings.ReplaceAll(c, "http://localhost:7070", s.HTTP)).CombinedOutput()
		require.NoError(t, err, "%s: %s", c, out)
		var env struct {
			Status string
			Data   map[string]any
		}
		require.NoError(t, json.Unmarshal(out, &env), "%s: %s", c, out)
		require.Equal(t, "success", env.Status, "%s: %s", c, out)
		switch {
		case strings.Contains(c, "/diff"):
			top := env.Data["top"].([]any)
			require.Equal(t, "main.cache", top[0].(map[string]any)["function"], "the diff's first row: %s", out)
		case strings.Contains(c, "/flamegraph"):
			require.EqualValues(t, 4e9, env.Data["total"], "%s", out)
		default:
			require.Len(t, env.Data["types"], 6, "%s", out) // cpu, samples, four memory
		}
	}

	pprofs := docCommands(t, "go tool pprof -top ")
	require.Len(t, pprofs, 1)
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(pprofs[0], "http://localhost:7070", s.HTTP))
	cmd.Env = append(os.Environ(), "PPROF_TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Regexp(t, `(?m)^\s*3s\s+75\.00%.*main\.work$`, string(out))
	require.Regexp(t, `(?m)^\s*1s\s+25\.00%.*main\.idle$`, string(out))
}
