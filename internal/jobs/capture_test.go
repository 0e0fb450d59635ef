package jobs

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCaptureGitState(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	env := parseEnv(append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t",
		"GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"))
	git := func(args ...string) string {
		t.Helper()
		out, err := runTool(context.Background(), dir, env, "git", args...)
		require.NoError(t, err, "git %v", args)
		return string(out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	g, err := captureGit(ctx, dir, env)
	require.NoError(t, err)
	require.Nil(t, g, "not a repository yet")

	git("init", "-q", "-b", "feature/x")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("1"), 0o644))
	git("add", "a.txt")
	git("commit", "-q", "-m", "first")
	git("remote", "add", "origin", "https://alice:s3cr3t@git.example.com/lab/sim.git")
	head := git("rev-parse", "HEAD")

	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	g, err = captureGit(ctx, sub, env)
	require.NoError(t, err)
	require.Equal(t, head[:40], g.Commit)
	require.Equal(t, "feature/x", g.Branch)
	require.False(t, g.Dirty)
	require.Equal(t, "https://git.example.com/lab/sim.git", g.RemoteURL, "credentials are removed")
	resolved, _ := filepath.EvalSymlinks(dir)
	require.Equal(t, resolved, g.Root)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("2"), 0o644))
	g, err = captureGit(ctx, dir, env)
	require.NoError(t, err)
	require.True(t, g.Dirty)
}

func TestCaptureCgroup(t *testing.T) {
	root := t.TempDir()
	leaf := filepath.Join(root, "slurm", "job_42")
	require.NoError(t, os.MkdirAll(leaf, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "slurm", "cpu.max"), []byte("200000 100000\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(leaf, "memory.max"), []byte("4294967296\n"), 0o644))
	self := filepath.Join(t.TempDir(), "cgroup")
	require.NoError(t, os.WriteFile(self, []byte("0::/slurm/job_42\n"), 0o644))

	c, err := captureCgroup(self, root)
	require.NoError(t, err)
	require.Equal(t, &Cgroup{Path: "/slurm/job_42", CPUMax: "200000 100000", CPULimitCores: 2,
		MemoryMax: "4294967296", MemoryMaxBytes: 4 << 30}, c)

	require.NoError(t, os.WriteFile(filepath.Join(root, "slurm", "cpu.max"), []byte("max 100000\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(leaf, "memory.max"), []byte("max\n"), 0o644))
	c, err = captureCgroup(self, root)
	require.NoError(t, err)
	require.Zero(t, c.CPULimitCores)
	require.Zero(t, c.MemoryMaxBytes)
	require.Equal(t, "max", c.MemoryMax)

	c, err = captureCgroup(filepath.Join(t.TempDir(), "missing"), root)
	require.NoError(t, err)
	require.Nil(t, c, "no cgroup v2")
}

func TestCaptureEnvironment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := CaptureEnvironment(ctx, t.TempDir(), parseEnv(os.Environ()))
	require.NotEmpty(t, env.Host.Hostname)
	require.NotEmpty(t, env.Host.OS)
	require.Positive(t, env.Host.CPULogical)
	require.Positive(t, env.Host.MemoryTotalBytes)
	if _, err := exec.LookPath("python3"); err == nil {
		require.NotNil(t, env.Python, "errors: %v", env.Errors)
		require.NotEmpty(t, env.Python.Version)
		require.NotEmpty(t, env.Python.Packages)
	}
	if _, err := exec.LookPath("go"); err == nil {
		require.NotNil(t, env.Go, "errors: %v", env.Errors)
		require.Regexp(t, `^go1\.`, env.Go.Version)
	}
}

func TestCaptureEnvironmentToolsMissing(t *testing.T) {
	// An empty PATH finds no git, Python, Go, R or nvidia-smi: none of that is an error.
	env := CaptureEnvironment(context.Background(), t.TempDir(), map[string]string{"PATH": t.TempDir()})
	require.Nil(t, env.Git)
	require.Nil(t, env.Python)
	require.Nil(t, env.Go)
	require.Nil(t, env.R)
	require.Nil(t, env.GPUs)
	require.NotContains(t, env.Errors, "python")
	require.NotContains(t, env.Errors, "git")
}

func TestCaptureTimeoutIsRecorded(t *testing.T) {
	dir := t.TempDir()
	slow := filepath.Join(dir, "python3")
	require.NoError(t, os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	env := CaptureEnvironment(ctx, dir, map[string]string{"PATH": dir + ":/bin:/usr/bin"})
	require.Contains(t, env.Errors["python"], "timed out")
}

func TestParseGPUSamples(t *testing.T) {
	got := parseGPUSamples([]byte("0, 87, 10240\n1, 3, 512\nbad line\n"))
	require.Equal(t, []GPUSample{{Index: 0, UtilizationPct: 87, MemoryUsedBytes: 10240 << 20},
		{Index: 1, UtilizationPct: 3, MemoryUsedBytes: 512 << 20}}, got)
}

func TestRedactURL(t *testing.T) {
	require.Equal(t, "https://host/r.git", redactURL("https://u:p@host/r.git"))
	require.Equal(t, "git@github.com:lab/r.git", redactURL("git@github.com:lab/r.git"))
	require.Equal(t, "ssh://host/r", redactURL("ssh://git@host/r"))
}

// The one-process probe must list exactly what `pip list` lists, for every interpreter here
// that has pip: the record's package diff is only as good as this list.
func TestCapturePythonMatchesPipList(t *testing.T) {
	compared := 0
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		bin, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		pipOut, err := exec.Command(bin, "-m", "pip", "list", "--format=json", "--disable-pip-version-check").Output()
		if err != nil {
			continue // no pip for this interpreter
		}
		var want []Package
		require.NoError(t, json.Unmarshal(lastLine(pipOut), &want))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		p, err := capturePython(ctx, t.TempDir(), map[string]string{"PATH": filepath.Dir(bin) + ":/usr/bin:/bin", "HOME": os.Getenv("HOME")})
		cancel()
		require.NoError(t, err, py)
		require.ElementsMatch(t, normalizedPackages(want), normalizedPackages(p.Packages), py)
		compared++
	}
	if compared == 0 {
		t.Skip("no Python with pip here")
	}
}

func normalizedPackages(ps []Package) []Package {
	out := make([]Package, len(ps))
	for i, p := range ps {
		out[i] = Package{Name: strings.ToLower(p.Name), Version: p.Version}
	}
	return out
}
