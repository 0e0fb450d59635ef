package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Profiles taken from a Loupe server during an ingest scenario. Go's CPU profile endpoint
// records for a fixed number of seconds and cannot be stopped early, so the harness
// records back-to-back chunks while the load runs (and while the server settles), then
// merges them with `go tool pprof -proto`. Without a Go toolchain the chunks are kept as
// they are.

// ProfileFiles names what was saved for one scenario (paths; empty when not taken).
type ProfileFiles struct {
	CPU     string `json:"cpu,omitempty"`
	CPUTop  string `json:"cpu_top,omitempty"`
	Heap    string `json:"heap,omitempty"`
	HeapTop string `json:"heap_top,omitempty"`
	Error   string `json:"error,omitempty"`
}

// cpuProfiler records CPU profile chunks from a server until stopped.
type cpuProfiler struct {
	baseURL string
	chunk   time.Duration
	dir     string // where the chunks go
	stop    chan struct{}
	done    chan struct{}

	mu     sync.Mutex
	chunks []string
	err    error
}

// startCPUProfile begins recording chunks of the given length into dir.
func startCPUProfile(baseURL, dir string, chunk time.Duration) *cpuProfiler {
	p := &cpuProfiler{baseURL: baseURL, chunk: max(chunk, time.Second), dir: dir,
		stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *cpuProfiler) run() {
	defer close(p.done)
	client := &http.Client{Timeout: p.chunk + time.Minute}
	secs := int(p.chunk / time.Second)
	for i := 0; ; i++ {
		path := filepath.Join(p.dir, fmt.Sprintf("cpu-%03d.pprof", i))
		err := fetch(client, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", p.baseURL, secs), path)
		p.mu.Lock()
		if err != nil {
			p.err = err
		} else {
			p.chunks = append(p.chunks, path)
		}
		p.mu.Unlock()
		if err != nil {
			return
		}
		select {
		case <-p.stop:
			return
		default:
		}
	}
}

// finish waits for the chunk in progress and returns every chunk recorded.
func (p *cpuProfiler) finish() ([]string, error) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.chunks, p.err
}

// fetch saves the body of a GET to path.
func fetch(client *http.Client, url, path string) error {
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("fetch profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("fetch profile %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("fetch profile %s: %w", url, err)
	}
	return f.Close()
}

// profileRun records the profiles of one scenario against one Loupe server.
type profileRun struct {
	h        *Harness
	scenario string
	baseURL  string
	tmp      string
	cpu      *cpuProfiler
}

// startProfiles begins the CPU profile of a scenario, or returns nil when profiles are off.
func (h *Harness) startProfiles(scenario, baseURL string) (*profileRun, error) {
	if h.opts.ProfileDir == "" {
		return nil, nil
	}
	tmp, err := os.MkdirTemp(h.opts.WorkDir, "profile-"+scenario+"-")
	if err != nil {
		return nil, err
	}
	chunk := h.opts.ProfileChunk
	if chunk <= 0 {
		chunk = 10 * time.Second
	}
	return &profileRun{h: h, scenario: scenario, baseURL: baseURL, tmp: tmp,
		cpu: startCPUProfile(baseURL, tmp, chunk)}, nil
}

// finish stops the CPU profile (waiting for the chunk in progress), takes a heap profile,
// and saves both with their top functions beside the results. Call it after the server
// settled and before it stops. Errors are recorded in the result, not returned: a missing
// profile does not fail the scenario.
func (p *profileRun) finish(ctx context.Context) ProfileFiles {
	var out ProfileFiles
	if p == nil {
		return out
	}
	defer os.RemoveAll(p.tmp)
	dir, prefix := p.h.opts.ProfileDir, p.h.opts.ProfilePrefix
	if err := os.MkdirAll(dir, 0o755); err != nil {
		out.Error = err.Error()
		return out
	}
	base := filepath.Join(dir, prefix+p.scenario)
	var errs []error
	chunks, err := p.cpu.finish()
	if err != nil {
		errs = append(errs, err)
	}
	if len(chunks) > 0 {
		out.CPU = base + ".cpu.pprof"
		if err := mergeProfiles(ctx, chunks, out.CPU); err != nil {
			errs = append(errs, err)
			out.CPU = ""
		} else {
			out.CPUTop = base + ".cpu.top.txt"
			if err := pprofTop(ctx, out.CPU, out.CPUTop); err != nil {
				errs = append(errs, err)
				out.CPUTop = ""
			}
		}
	}
	out.Heap = base + ".heap.pprof"
	client := &http.Client{Timeout: time.Minute}
	if err := fetch(client, p.baseURL+"/debug/pprof/heap", out.Heap); err != nil {
		errs = append(errs, err)
		out.Heap = ""
	} else {
		out.HeapTop = base + ".heap.top.txt"
		// Allocated bytes since start, which is what the garbage collector pays for.
		if err := pprofTop(ctx, out.Heap, out.HeapTop, "-sample_index=alloc_space"); err != nil {
			errs = append(errs, err)
			out.HeapTop = ""
		}
	}
	if err := errors.Join(errs...); err != nil {
		out.Error = err.Error()
		p.h.logf("  profiles of %s: %v", p.scenario, err)
	}
	return out
}

// goTool is the go command used to merge and summarise profiles.
func goTool() (string, error) {
	if g, err := exec.LookPath("go"); err == nil {
		return g, nil
	}
	g := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(g); err != nil {
		return "", errors.New("no go command to merge and summarise profiles")
	}
	return g, nil
}

// mergeProfiles writes the chunks as one profile to dst.
func mergeProfiles(ctx context.Context, chunks []string, dst string) error {
	if len(chunks) == 1 {
		return os.Rename(chunks[0], dst)
	}
	g, err := goTool()
	if err != nil {
		return err
	}
	args := append([]string{"tool", "pprof", "-proto", "-output", dst}, chunks...)
	if out, err := exec.CommandContext(ctx, g, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("merge %d CPU profile chunks: %w: %s", len(chunks), err, out)
	}
	return nil
}

// pprofTop writes `go tool pprof -top` of a profile: the 40 functions with the most flat
// time (or bytes), then the same sorted by cumulative share.
func pprofTop(ctx context.Context, profile, dst string, extra ...string) error {
	g, err := goTool()
	if err != nil {
		return err
	}
	var text strings.Builder
	for _, order := range [][]string{{"-top"}, {"-top", "-cum"}} {
		args := append(append([]string{"tool", "pprof", "-nodecount=40"}, order...), extra...)
		out, err := exec.CommandContext(ctx, g, append(args, profile)...).Output()
		if err != nil {
			return fmt.Errorf("go tool pprof %s: %w", strings.Join(order, " "), err)
		}
		fmt.Fprintf(&text, "$ go tool pprof %s %s\n%s\n", strings.Join(args[2:], " "), filepath.Base(profile), out)
	}
	return os.WriteFile(dst, []byte(text.String()), 0o644)
}
