package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

const (
	cpuType   = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
	allocType = "memory:alloc_space:bytes:space:bytes"
)

// buildProfburn builds the profiled test program (e2e/profburn).
func buildProfburn(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "profburn")
	out, err := exec.Command("go", "build", "-o", bin, "./profburn").CombinedOutput()
	require.NoError(t, err, "build profburn: %s", out)
	return bin
}

type flameTop struct {
	Function string `json:"function"`
	Self     int64  `json:"self"`
	Total    int64  `json:"total"`
}

type flameGraph struct {
	Type  string     `json:"type"`
	Total int64      `json:"total"`
	Top   []flameTop `json:"top"`
}

// flamegraph asks the native profiles API for the merged flame graph of a selection.
func flamegraph(t *testing.T, s *server, typ, query string, since time.Time) flameGraph {
	t.Helper()
	q := url.Values{"type": {typ}, "query": {query},
		"start": {fmt.Sprint(since.Add(-time.Minute).Unix())}, "end": {fmt.Sprint(time.Now().Add(time.Minute).Unix())}}
	var env struct {
		Data flameGraph `json:"data"`
	}
	getJSON(t, s.HTTP+"/api/loupe/v1/profiles/flamegraph?"+q.Encode(), http.StatusOK, &env)
	return env.Data
}

// totalOf is the total (inclusive) value of the function whose name ends with fn.
func (g flameGraph) totalOf(fn string) int64 {
	for _, r := range g.Top {
		if strings.HasSuffix(r.Function, fn) {
			return r.Total
		}
	}
	return 0
}

// checkBurnShares checks the CPU flame graph of profburn: burnCPU does three quarters of
// the program's own work and lightWork one quarter (±10 points), and together they are most
// of the process' CPU.
func checkBurnShares(t *testing.T, g flameGraph) {
	t.Helper()
	burn, light := g.totalOf("main.burnCPU"), g.totalOf("main.lightWork")
	require.Positive(t, burn, "main.burnCPU not in the top table: %+v", g.Top)
	require.Positive(t, light, "main.lightWork not in the top table: %+v", g.Top)
	share := float64(burn) / float64(burn+light)
	t.Logf("cpu total %d ns; burnCPU %d, lightWork %d: burnCPU share of the work %.3f, of the process %.3f",
		g.Total, burn, light, share, float64(burn)/float64(g.Total))
	require.InDelta(t, 0.75, share, 0.10, "burnCPU's share of burnCPU+lightWork")
	require.Greater(t, float64(burn+light)/float64(g.Total), 0.5, "the work is most of the process' CPU")
}

// TestProfilesPyroscopeGoPush: a program profiled by pyroscope-go (its own uploader, the
// server address changed to Loupe) is stored, and the merged flame graph names its
// functions with their shares.
func TestProfilesPyroscopeGoPush(t *testing.T) {
	s := startServer(t, t.TempDir())
	bin := buildProfburn(t)
	started := time.Now()
	out, err := exec.Command(bin, "push", s.HTTP, "150").CombinedOutput()
	require.NoError(t, err, "profburn: %s", out)
	require.NotContains(t, string(out), "pyroscope error", "pyroscope-go reported upload errors")

	g := flamegraph(t, s, cpuType, `{service_name="profburn"}`, started)
	checkBurnShares(t, g)
	// The pprof label set with pyroscope.TagWrapper is a series label; the tag is one too.
	burnOnly := flamegraph(t, s, cpuType, `{service_name="profburn",stage="burn",env="e2e"}`, started)
	require.Equal(t, g.totalOf("main.burnCPU"), burnOnly.totalOf("main.burnCPU"))

	// Span profiles: burnCPU runs under the pprof labels span_id and span_name, as
	// pyroscope-go's OpenTelemetry integration sets them; they select samples, not series.
	q := url.Values{"type": {cpuType}, "query": {`{service_name="profburn"}`}, "function": {"main.burnCPU"},
		"start": {fmt.Sprint(started.Add(-time.Minute).Unix())}, "end": {fmt.Sprint(time.Now().Add(time.Minute).Unix())}}
	var spans struct {
		Data struct {
			Spans []struct {
				SpanID   string `json:"span_id"`
				SpanName string `json:"span_name"`
				Value    int64  `json:"value"`
			} `json:"spans"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/api/loupe/v1/profiles/spans?"+q.Encode(), http.StatusOK, &spans)
	require.Len(t, spans.Data.Spans, 1, "%+v", spans.Data)
	sp := spans.Data.Spans[0]
	require.Equal(t, "00000000000000b1", sp.SpanID)
	require.Equal(t, "burn", sp.SpanName)
	require.Equal(t, g.totalOf("main.burnCPU"), sp.Value, "every burnCPU sample ran under the span")
	q.Del("function")
	q.Set("span_id", sp.SpanID)
	var spanGraph struct {
		Data flameGraph `json:"data"`
	}
	getJSON(t, s.HTTP+"/api/loupe/v1/profiles/flamegraph?"+q.Encode(), http.StatusOK, &spanGraph)
	require.Equal(t, g.totalOf("main.burnCPU"), spanGraph.Data.totalOf("main.burnCPU"))
	require.Zero(t, spanGraph.Data.totalOf("main.lightWork"), "lightWork ran outside the span")

	alloc := flamegraph(t, s, allocType, `{service_name="profburn"}`, started)
	a := alloc.totalOf("main.allocate")
	t.Logf("alloc_space total %d bytes, main.allocate %d (%.3f)", alloc.Total, a, float64(a)/float64(alloc.Total))
	require.Greater(t, float64(a)/float64(alloc.Total), 0.5, "main.allocate is most of the allocated bytes")
}

// TestProfilesIngestBadInput: truncated and garbage pprof, a gzip bomb, bad parameters get
// a 4xx naming the problem, and the server keeps serving.
func TestProfilesIngestBadInput(t *testing.T) {
	s := startServer(t, t.TempDir())
	// Written from one small buffer: this process' allocation profile is read by other
	// tests (TestProfilesQuery), and 200 MiB allocated here would dominate it.
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zeros := make([]byte, 64<<10)
	for i := 0; i < (200<<20)/len(zeros); i++ {
		_, _ = zw.Write(zeros)
	}
	require.NoError(t, zw.Close())
	goodFolded := []byte("main;work 3\n")
	// A huge symbol table: 600,000 entries in the string table (field 6), gzipped.
	var hugeBuf bytes.Buffer
	hz := gzip.NewWriter(&hugeBuf)
	entry := make([]byte, 0, 32)
	for i := 0; i < 600_000; i++ {
		entry = protowire.AppendTag(entry[:0], 6, protowire.BytesType)
		entry = protowire.AppendString(entry, "main.f"+strconv.Itoa(i))
		_, _ = hz.Write(entry)
	}
	require.NoError(t, hz.Close())
	hugeSymbols := hugeBuf.Bytes()
	var real bytes.Buffer // a real Go profile, to be truncated
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&real, 0))
	zr, err := gzip.NewReader(bytes.NewReader(real.Bytes()))
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	post := func(query string, body []byte) (int, string) {
		resp, err := http.Post(s.HTTP+"/ingest?"+query, "application/octet-stream", bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		query  string
		body   []byte
		status int
		want   string
	}{
		{"name=app&format=pprof", []byte("definitely not a profile"), 400, "profile"},
		{"name=app&format=pprof", real.Bytes()[:real.Len()/2], 400, "profile"},
		{"name=app&format=pprof", unzipped[:len(unzipped)-7], 400, "profile"},
		{"name=app&format=pprof", bomb.Bytes(), 413, "DecompressedBytes"},
		{"name=app&format=pprof", hugeSymbols, 413, "limit Strings"},
		{"name=app&format=pprof", []byte{0x1f, 0x8b, 8, 0, 0, 0}, 400, "profile"},
		{"format=folded", goodFolded, 400, "parameter name"},
		{"name=%7Ba%3Db%7D&format=folded", goodFolded, 400, "parameter name"},
		{"name=app%7Benv&format=folded", goodFolded, 400, "parameter name"},
		{"name=app&from=yesterday&format=folded", goodFolded, 400, "parameter from"},
		{"name=app&until=soon&format=folded", goodFolded, 400, "parameter until"},
		{"name=app&from=2000&until=-1000&format=folded", goodFolded, 400, "parameter until"},
		{"name=app&format=xml", goodFolded, 400, "parameter format"},
		{"name=app&format=trie", goodFolded, 415, "parameter format"},
	} {
		status, body := post(c.query, c.body)
		require.Equal(t, c.status, status, "%s: %s", c.query, body)
		require.Contains(t, body, c.want, c.query)
	}
	resp, err := http.Get(s.HTTP + "/-/healthy")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	status, body := post("name=app.cpu%7Benv%3De2e%7D&format=folded&sampleRate=100", goodFolded)
	require.Equal(t, 200, status, body)
	g := flamegraph(t, s, cpuType, `{service_name="app",env="e2e"}`, time.Now())
	require.Equal(t, int64(3*10_000_000), g.totalOf("work"), "%+v", g)
}

// serveProfburn starts profburn's net/http/pprof server, stopped at the test's end, and
// returns its address.
func serveProfburn(t *testing.T) string {
	prog := exec.Command(buildProfburn(t), "serve")
	stdout, err := prog.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, prog.Start())
	t.Cleanup(func() { _ = prog.Process.Kill(); _ = prog.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(strings.TrimPrefix(line, "listening "))
}

// TestProfilesPullDebugPprof: the same program serving net/http/pprof, scraped through a
// profiling scrape config (static target, relabelling), gives the same shares.
func TestProfilesPullDebugPprof(t *testing.T) {
	addr := serveProfburn(t)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
profiling:
  scrape_interval: 3s
  scrape_timeout: 3s
  scrape_configs:
    - job_name: burner
      profile_types: [cpu, heap, goroutine]
      static_configs: [{targets: [%q], labels: {env: e2e}}]
      relabel_configs:
        - {target_label: service_name, replacement: profburn-pull}
`, addr)), 0o600))
	s := startServer(t, filepath.Join(dir, "data"), "--config", cfg)
	started := time.Now()
	var g flameGraph
	eventually(t, 90*time.Second, func() error {
		g = flamegraph(t, s, cpuType, `{service_name="profburn-pull",env="e2e",job="burner"}`, started)
		if work := g.totalOf("main.burnCPU") + g.totalOf("main.lightWork"); work < 3_000_000_000 {
			return fmt.Errorf("%d ns of burnCPU+lightWork so far", work)
		}
		return nil
	})
	checkBurnShares(t, g)
	goroutines := flamegraph(t, s, "goroutines:goroutine:count:goroutine:count", `{service_name="profburn-pull"}`, started)
	require.Positive(t, goroutines.totalOf("main.main"), "%+v", goroutines.Top)
	eventually(t, 60*time.Second, func() error { // alloc_space needs two heap scrapes
		a := flamegraph(t, s, allocType, `{service_name="profburn-pull"}`, started)
		if a.totalOf("main.allocate") == 0 {
			return fmt.Errorf("no main.allocate in alloc_space yet: %+v", a.Top)
		}
		return nil
	})
}

// TestProfilesPullReload: a profiling job added to the configuration file is scraped after
// POST /-/reload; a bad profile type is refused by the reload.
func TestProfilesPullReload(t *testing.T) {
	addr := serveProfburn(t)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "loupe.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("profiling:\n  scrape_configs: []\n"), 0o600))
	s := startServer(t, filepath.Join(dir, "data"), "--config", cfg)
	started := time.Now()
	reload := func(text string) (int, string) {
		require.NoError(t, os.WriteFile(cfg, []byte(text), 0o600))
		resp, err := http.Post(s.HTTP+"/-/reload", "", nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := reload(fmt.Sprintf(`
profiling:
  scrape_interval: 2s
  scrape_timeout: 2s
  scrape_configs:
    - {job_name: reloaded, profile_types: [goroutine], static_configs: [{targets: [%q]}]}
`, addr))
	require.Equal(t, 200, status, body)
	eventually(t, 60*time.Second, func() error {
		g := flamegraph(t, s, "goroutines:goroutine:count:goroutine:count", `{service_name="reloaded"}`, started)
		if g.totalOf("main.main") == 0 {
			return fmt.Errorf("no goroutine profile of the reloaded job yet")
		}
		return nil
	})
	// The pull mode's status API lists the job's target, up.
	resp, err := http.Get(s.HTTP + "/api/loupe/v1/profiles/targets")
	require.NoError(t, err)
	var targets struct {
		Data struct {
			Targets []struct {
				Job, URL, Type, Health string
				LastError              string `json:"last_error"`
				LastScrape             string `json:"last_scrape"`
			}
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&targets))
	resp.Body.Close()
	require.Len(t, targets.Data.Targets, 1, "%+v", targets)
	tg := targets.Data.Targets[0]
	require.Equal(t, "reloaded", tg.Job)
	require.Equal(t, "goroutine", tg.Type)
	require.Equal(t, "http://"+addr+"/debug/pprof/goroutine", tg.URL)
	require.Equal(t, "up", tg.Health, tg.LastError)
	require.NotEmpty(t, tg.LastScrape)
	status, body = reload("profiling:\n  scrape_configs: [{job_name: x, profile_types: [nope]}]\n")
	require.NotEqual(t, 200, status)
	require.Contains(t, body, "profile_types")
}
