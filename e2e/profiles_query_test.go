package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/pprof/profile"
	querierv1 "github.com/grafana/pyroscope/api/gen/proto/go/querier/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/querier/v1/querierv1connect"
	"github.com/stretchr/testify/require"
)

// The query side of issue 14 on the real binary: profiles recorded in this process with
// runtime/pprof are pushed to POST /ingest, and the profiles API, `go tool pprof` and
// Grafana's Pyroscope client read them back.

const (
	pqCPU   = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
	pqAlloc = "memory:alloc_space:bytes:space:bytes"
)

var pqSink []byte

// pqSpin is the work of pqBurn and pqLight: the same loop, so their CPU is in proportion to
// their iterations whatever the machine's load.
//
//go:noinline
func pqSpin(n int) uint64 {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// pqResult keeps the spinning functions' results, so that they are not work without effect.
var pqResult uint64

//go:noinline
func pqBurn(n int) uint64 { return pqSpin(n) }

//go:noinline
func pqLight(n int) uint64 { return pqSpin(n) }

// pqAllocate allocates mb MiB in 64 KiB pieces.
//
//go:noinline
func pqAllocate(mb int) {
	for i := 0; i < mb*16; i++ {
		pqSink = make([]byte, 64<<10)
	}
}

// pqPush posts a gzipped pprof to Pyroscope's push API.
func pqPush(t *testing.T, s *server, name string, body []byte, token ...string) {
	t.Helper()
	now := time.Now()
	q := url.Values{"name": {name}, "format": {"pprof"},
		"from": {fmt.Sprint(now.Add(-10 * time.Second).Unix())}, "until": {fmt.Sprint(now.Unix())}}
	req, err := http.NewRequest(http.MethodPost, s.HTTP+"/ingest?"+q.Encode(), bytes.NewReader(body))
	require.NoError(t, err)
	if len(token) > 0 {
		req.Header.Set("Authorization", "Bearer "+token[0])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
}

// pqLocalTotals sums the pushed profile's value of type sampleType per function whose name
// has one of the suffixes, counting each sample once per function: what Loupe's top table's
// total must say.
func pqLocalTotals(t *testing.T, data []byte, sampleType string, suffixes ...string) (map[string]int64, int64) {
	t.Helper()
	p, err := profile.ParseData(data)
	require.NoError(t, err)
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == sampleType {
			idx = i
		}
	}
	require.GreaterOrEqual(t, idx, 0, "no sample type %s", sampleType)
	out := map[string]int64{}
	var all int64
	for _, s := range p.Sample {
		all += s.Value[idx]
		seen := map[string]bool{}
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				for _, suf := range suffixes {
					if strings.HasSuffix(l.Function.Name, suf) && !seen[suf] {
						seen[suf] = true
						out[suf] += s.Value[idx]
					}
				}
			}
		}
	}
	return out, all
}

type pqRow struct {
	Function   string `json:"function"`
	Self       int64  `json:"self"`
	Total      int64  `json:"total"`
	LeftSelf   int64  `json:"left_self"`
	RightSelf  int64  `json:"right_self"`
	LeftTotal  int64  `json:"left_total"`
	RightTotal int64  `json:"right_total"`
}

type pqGraph struct {
	Total      int64   `json:"total"`
	LeftTotal  int64   `json:"left_total"`
	RightTotal int64   `json:"right_total"`
	Top        []pqRow `json:"top"`
}

func (g pqGraph) row(suffix string) pqRow {
	for _, r := range g.Top {
		if strings.HasSuffix(r.Function, suffix) {
			return r
		}
	}
	return pqRow{}
}

func pqRange() url.Values {
	return url.Values{"start": {fmt.Sprint(time.Now().Add(-10 * time.Minute).Unix())}, "end": {fmt.Sprint(time.Now().Add(time.Minute).Unix())}}
}

// TestProfilesQuery: a CPU profile of pqBurn (3 parts of work) and pqLight (1 part) is
// pushed; the flame graph's top table has their values exactly as in the pushed file and
// pqBurn's share of the two is 0.75 ±0.10; `go tool pprof -top` on Loupe's pprof URL names
// them with the same values; a diff of allocation profiles with and without pqAllocate
// puts pqAllocate first; Grafana's Pyroscope client gets the same flame graph.
func TestProfilesQuery(t *testing.T) {
	s := startServer(t, t.TempDir())

	// Calibrate to a few hundred samples (100 a CPU second): the wall time of the
	// calibration includes waiting for a core on a busy machine, hence the margin.
	n := 1 << 20
	for began := time.Now(); time.Since(began) < 100*time.Millisecond; n *= 2 {
		pqResult += pqSpin(n)
	}
	n *= 10
	var cpuProf bytes.Buffer
	require.NoError(t, pprof.StartCPUProfile(&cpuProf))
	pqResult += pqBurn(3 * n)
	pqResult += pqLight(n)
	pprof.StopCPUProfile()
	cpuData := cpuProf.Bytes()
	pqPush(t, s, "pqapp{variant=plain}", cpuData)

	local, _ := pqLocalTotals(t, cpuData, "cpu", ".pqBurn", ".pqLight")
	t.Logf("pushed CPU profile: pqBurn %v, pqLight %v", time.Duration(local[".pqBurn"]), time.Duration(local[".pqLight"]))
	require.Positive(t, local[".pqLight"], "too few samples: pqLight not in the recorded profile")

	// The native flame graph and top table.
	q := pqRange()
	q.Set("type", pqCPU)
	q.Set("query", `{service_name="pqapp"}`)
	var env struct{ Data pqGraph }
	getJSON(t, s.HTTP+"/api/loupe/v1/profiles/flamegraph?"+q.Encode(), http.StatusOK, &env)
	g := env.Data
	burn, light := g.row(".pqBurn"), g.row(".pqLight")
	require.Equal(t, local[".pqBurn"], burn.Total, "pqBurn's total: %+v", g.Top)
	require.Equal(t, local[".pqLight"], light.Total, "pqLight's total")
	share := float64(burn.Total) / float64(burn.Total+light.Total)
	t.Logf("flame graph total %v; pqBurn %v, pqLight %v: pqBurn's share %.3f", time.Duration(g.Total), time.Duration(burn.Total), time.Duration(light.Total), share)
	require.InDelta(t, 0.75, share, 0.10)

	// go tool pprof on Loupe's export.
	pprofURL := s.HTTP + "/api/loupe/v1/profiles/pprof?" + q.Encode()
	cmd := exec.Command("go", "tool", "pprof", "-top", "-cum", pprofURL)
	cmd.Env = append(os.Environ(), "PPROF_TMPDIR="+t.TempDir()) // where pprof saves what it fetched
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("go tool pprof -top -cum:\n%s", head(string(out), 12))
	for fn, v := range map[string]int64{"pqBurn": burn.Total, "pqLight": light.Total} {
		// "  0     0%   100%      1.20s 75.00%  github.com/loupe-dev/loupe/e2e.pqBurn"
		re := regexp.MustCompile(`(?m)^\s*\S+\s+\S+\s+\S+\s+(\S+)\s+\S+\s+\S+\.` + fn + `$`)
		m := re.FindStringSubmatch(string(out))
		require.NotNil(t, m, "go tool pprof does not list %s", fn)
		cum, err := time.ParseDuration(m[1])
		require.NoError(t, err, m[1])
		require.InDelta(t, float64(v), float64(cum), float64(v)*0.01+float64(10*time.Millisecond), "%s cum", fn)
	}

	// Allocation profiles: "without" before pqAllocate runs, "with" after.
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 4096
	t.Cleanup(func() { runtime.MemProfileRate = old })
	var without, with bytes.Buffer
	runtime.GC()
	require.NoError(t, pprof.Lookup("allocs").WriteTo(&without, 0))
	pqAllocate(64)
	runtime.GC()
	require.NoError(t, pprof.Lookup("allocs").WriteTo(&with, 0))
	pqPush(t, s, "pqapp{variant=without}", without.Bytes())
	pqPush(t, s, "pqapp{variant=with}", with.Bytes())

	dq := url.Values{"type": {pqAlloc},
		"left_query": {`{service_name="pqapp",variant="without"}`}, "right_query": {`{service_name="pqapp",variant="with"}`}}
	for _, side := range []string{"left_", "right_"} {
		dq.Set(side+"start", q.Get("start"))
		dq.Set(side+"end", q.Get("end"))
	}
	getJSON(t, s.HTTP+"/api/loupe/v1/profiles/diff?"+dq.Encode(), http.StatusOK, &env)
	d := env.Data
	require.NotEmpty(t, d.Top)
	first := d.Top[0]
	t.Logf("diff: left %d bytes, right %d; first row %s: left self %d, right self %d", d.LeftTotal, d.RightTotal, first.Function, first.LeftSelf, first.RightSelf)
	require.True(t, strings.HasSuffix(first.Function, ".pqAllocate"), "the diff's first row is %s, not pqAllocate: %+v", first.Function, d.Top[:min(5, len(d.Top))])
	require.Zero(t, first.LeftSelf)
	// Allocation profiles are cumulative over the test process, which earlier tests of the
	// package have allocated in: compare pqAllocate with what changed between the two, not
	// with the whole right side.
	require.GreaterOrEqual(t, float64(first.RightSelf), 0.9*float64(64<<20), "pqAllocate allocated 64 MiB")
	require.Greater(t, float64(first.RightSelf)/float64(d.RightTotal-d.LeftTotal), 0.5, "pqAllocate's 64 MiB are most of the change")

	// Grafana's Pyroscope data source: its generated client at the server's root URL.
	c := querierv1connect.NewQuerierServiceClient(http.DefaultClient, s.HTTP)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start, end := time.Now().Add(-10*time.Minute).UnixMilli(), time.Now().Add(time.Minute).UnixMilli()
	types, err := c.ProfileTypes(ctx, connect.NewRequest(&querierv1.ProfileTypesRequest{Start: start, End: end}))
	require.NoError(t, err)
	var ids []string
	for _, pt := range types.Msg.ProfileTypes {
		ids = append(ids, pt.ID)
	}
	require.Contains(t, ids, pqCPU)
	require.Contains(t, ids, pqAlloc)
	res, err := c.SelectMergeStacktraces(ctx, connect.NewRequest(&querierv1.SelectMergeStacktracesRequest{
		ProfileTypeID: pqCPU, LabelSelector: `{service_name="pqapp"}`, Start: start, End: end}))
	require.NoError(t, err)
	require.Equal(t, g.Total, res.Msg.Flamegraph.Total)
	require.True(t, slicesHasSuffix(res.Msg.Flamegraph.Names, ".pqBurn"), "flame graph names: %v", res.Msg.Flamegraph.Names)
}

func head(s string, lines int) string {
	ls := strings.SplitN(s, "\n", lines+1)
	return strings.Join(ls[:min(lines, len(ls))], "\n")
}

func slicesHasSuffix(names []string, suffix string) bool {
	for _, n := range names {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

// basicAuth is the HTTP client Grafana's data source has with "Basic auth" set.
type basicAuth struct{ user, password string }

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return http.DefaultTransport.RoundTrip(r)
}

// TestProfilesQueryWithToken: with tokens on, go tool pprof reads the export with the token
// in the URL (as docs/profiles.md says) and Grafana's client with basic auth; without a
// token both are refused.
func TestProfilesQueryWithToken(t *testing.T) {
	dataDir := t.TempDir()
	token := strings.TrimSpace(loupeCLI(t, "token", "create", "--scope", "ingest,read", "--name", "pprof", "--data-dir", dataDir))
	s := startServer(t, dataDir)

	pqPush(t, s, "tokenapp", cpuPprof(t, "main.tokenWork"), token)

	q := pqRange()
	q.Set("type", pqCPU)
	q.Set("query", `{service_name="tokenapp"}`)
	u, err := url.Parse(s.HTTP + "/api/loupe/v1/profiles/pprof?" + q.Encode())
	require.NoError(t, err)
	run := func(u *url.URL) (string, error) {
		cmd := exec.Command("go", "tool", "pprof", "-top", u.String())
		cmd.Env = append(os.Environ(), "PPROF_TMPDIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(u)
	require.Error(t, err, "without a token: %s", out)
	require.Contains(t, out, "401")
	u.User = url.UserPassword("pprof", token)
	out, err = run(u)
	require.NoError(t, err, "%s", out)
	require.Regexp(t, `(?m)^\s*1\.50?s\s.*main\.tokenWork$`, out)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := connect.NewRequest(&querierv1.ProfileTypesRequest{Start: time.Now().Add(-time.Hour).UnixMilli(), End: time.Now().Add(time.Minute).UnixMilli()})
	_, err = querierv1connect.NewQuerierServiceClient(http.DefaultClient, s.HTTP).ProfileTypes(ctx, req)
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "%v", err)
	res, err := querierv1connect.NewQuerierServiceClient(&http.Client{Transport: basicAuth{"grafana", token}}, s.HTTP).ProfileTypes(ctx, req)
	require.NoError(t, err)
	var ids []string
	for _, pt := range res.Msg.ProfileTypes {
		ids = append(ids, pt.ID)
	}
	require.Contains(t, ids, pqCPU)
}
