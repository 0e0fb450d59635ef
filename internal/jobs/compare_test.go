package jobs

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizePackageName(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		require.Equal(t, want, NormalizePackageName(in), "input %q", in)
	}
	f("numpy", "numpy")
	f("NumPy", "numpy")
	f("typing_extensions", "typing-extensions")
	f("Typing.Extensions", "typing-extensions")
	f("zope--._interface", "zope-interface")
	f("-lead", "-lead")
	f("trail_", "trail-")
	f("", "")
	f("Ünïcode", "Ünïcode")
}

func compareBase() *Record {
	return &Record{
		Name: "train", CommandLine: "python train.py", Cwd: "/work", User: "alice", ExitCode: 0,
		Timezone: "UTC", Status: "succeeded", DurationSeconds: 10,
		Tags: map[string]string{"lr": "0.1"},
		Host: Host{Hostname: "node1", OS: "linux", Arch: "amd64", CPULogical: 8, MemoryTotalBytes: 1 << 30},
		Python: &Python{Version: "3.11.4", Executable: "/usr/bin/python3",
			Packages:      []Package{{"numpy", "1.26.4"}, {"Typing_Extensions", "4.9.0"}, {"requests", "2.31.0"}, {"old-pkg", "1.0"}},
			CondaPackages: []Package{{"libblas", "3.9"}, {"mkl", "2023.1"}}},
		Resources: Resources{UserCPUSeconds: 8, SystemCPUSeconds: 0, PeakRSSBytes: 100, MaxThreads: 4},
		Env:       map[string]string{"PATH": "/usr/bin", "OMP_NUM_THREADS": "4"},
	}
}

func TestCompareIdenticalRecords(t *testing.T) {
	c := Compare(compareBase(), compareBase())
	require.Empty(t, c.Changes)
	require.Empty(t, c.Packages)
	require.Equal(t, 6, c.UnchangedPackages)
	require.Len(t, c.Resources, 11)
	for _, r := range c.Resources {
		require.Zero(t, r.Delta, r.Key)
	}
	// Empty lists, not null, so clients can iterate without a check.
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.Contains(t, string(b), `"changes":[]`)
	require.Contains(t, string(b), `"packages":[]`)
}

func TestCompareResources(t *testing.T) {
	a, b := compareBase(), compareBase()
	b.DurationSeconds = 25
	b.Resources.SystemCPUSeconds = 1.5
	b.Resources.PeakRSSBytes = 50
	c := Compare(a, b)
	var keys []string
	for _, r := range c.Resources {
		keys = append(keys, r.Key)
	}
	require.Equal(t, []string{"duration_seconds", "user_cpu_seconds", "system_cpu_seconds", "peak_rss_bytes",
		"max_rss_bytes", "read_bytes", "write_bytes", "cpu_percent_mean", "cpu_percent_max", "max_threads",
		"max_processes"}, keys)
	dur := c.Resources[0]
	require.Equal(t, 10.0, dur.A)
	require.Equal(t, 25.0, dur.B)
	require.Equal(t, 15.0, dur.Delta)
	require.NotNil(t, dur.Ratio)
	require.Equal(t, 2.5, *dur.Ratio)
	sys := c.Resources[2]
	require.Equal(t, 1.5, sys.Delta)
	require.Nil(t, sys.Ratio, "no ratio when a is 0")
	rss := c.Resources[3]
	require.Equal(t, -50.0, rss.Delta)
	require.Equal(t, 0.5, *rss.Ratio)

	js, err := json.Marshal(sys)
	require.NoError(t, err)
	require.JSONEq(t, `{"key":"system_cpu_seconds","a":0,"b":1.5,"delta":1.5}`, string(js))
}

func TestComparePackages(t *testing.T) {
	a, b := compareBase(), compareBase()
	b.Python.Packages = []Package{
		{"NumPy", "2.0.1"},             // changed, name case differs
		{"typing.extensions", "4.9.0"}, // same package under PEP 503
		{"requests", "2.31.0"},         // unchanged
		{"scipy", "1.13.0"},            // added
		// old-pkg removed
	}
	b.Python.CondaPackages = []Package{{"libblas", "3.9"}, {"mkl", "2024.0"}, {"numpy", "2.0.1"}}
	c := Compare(a, b)
	require.Equal(t, []PackageChange{
		{Manager: "conda", Name: "mkl", A: "2023.1", B: "2024.0", Change: "changed"},
		{Manager: "conda", Name: "numpy", A: "", B: "2.0.1", Change: "added"},
		{Manager: "pip", Name: "NumPy", A: "1.26.4", B: "2.0.1", Change: "changed"},
		{Manager: "pip", Name: "old-pkg", A: "1.0", B: "", Change: "removed"},
		{Manager: "pip", Name: "scipy", A: "", B: "1.13.0", Change: "added"},
	}, c.Packages)
	require.Equal(t, 3, c.UnchangedPackages) // libblas, typing-extensions, requests
	require.Empty(t, c.Changes)
}

func TestComparePythonOnOneSide(t *testing.T) {
	a, b := compareBase(), compareBase()
	b.Python = nil
	c := Compare(a, b)
	require.Len(t, c.Packages, 6)
	for _, p := range c.Packages {
		require.Equal(t, "removed", p.Change)
		require.Empty(t, p.B)
	}
	require.Zero(t, c.UnchangedPackages)
	require.Equal(t, []Change{
		{"python", "executable", "/usr/bin/python3", ""},
		{"python", "version", "3.11.4", ""},
	}, c.Changes)

	c = Compare(b, a)
	require.Len(t, c.Packages, 6)
	require.Equal(t, "added", c.Packages[0].Change)
	require.Equal(t, []Change{
		{"python", "executable", "", "/usr/bin/python3"},
		{"python", "version", "", "3.11.4"},
	}, c.Changes)
}

func TestCompareChangesEverySection(t *testing.T) {
	a, b := compareBase(), compareBase()
	a.Scheduler = &Scheduler{Type: "slurm", JobID: "1", Vars: map[string]string{"SLURM_JOB_ID": "1", "SLURM_NTASKS": "4"}}
	b.Scheduler = &Scheduler{Type: "slurm", JobID: "2", Vars: map[string]string{"SLURM_JOB_ID": "2", "SLURM_NTASKS": "4", "SLURM_MEM": "8G"}}
	a.Git = &Git{Root: "/work", Commit: "abc", Branch: "main", Dirty: false}
	b.Git = &Git{Root: "/work", Commit: "def", Branch: "main", Dirty: true, RemoteURL: "git@x:y"}
	b.Go = &Runtime{Version: "go1.26"}
	a.R = &Runtime{Version: "4.3"}
	b.R = &Runtime{Version: "4.4"}
	a.GPUs = []GPU{{Index: 0, Name: "A100", DriverVersion: "550", MemoryTotalBytes: 80 << 30}}
	b.GPUs = []GPU{{Index: 0, Name: "A100", DriverVersion: "555", MemoryTotalBytes: 80 << 30}, {Index: 1, Name: "A100"}}
	a.Cgroup = &Cgroup{CPUMax: "max 100000", MemoryMax: "max"}
	b.Cgroup = &Cgroup{CPUMax: "200000 100000", MemoryMax: "max"}
	b.Name, b.ExitCode, b.Status, b.Signal = "train2", 137, "killed", "SIGKILL"
	b.Tags = map[string]string{"lr": "0.2", "seed": "1"}
	b.Host.Hostname, b.Host.CPULogical = "node2", 0
	b.Python.EnvType, b.Python.EnvName = "conda", "ml"
	b.Env = map[string]string{"PATH": "/usr/bin", "CUDA_VISIBLE_DEVICES": "0,1"}
	c := Compare(a, b)
	require.Equal(t, []Change{
		{"run", "exit_code", "0", "137"},
		{"run", "name", "train", "train2"},
		{"run", "signal", "", "SIGKILL"},
		{"run", "status", "succeeded", "killed"},
		{"tags", "lr", "0.1", "0.2"},
		{"tags", "seed", "", "1"},
		{"host", "cpu_logical", "8", ""},
		{"host", "hostname", "node1", "node2"},
		{"scheduler", "job_id", "1", "2"},
		{"scheduler", "vars.SLURM_JOB_ID", "1", "2"},
		{"scheduler", "vars.SLURM_MEM", "", "8G"},
		{"git", "commit", "abc", "def"},
		{"git", "dirty", "false", "true"},
		{"git", "remote_url", "", "git@x:y"},
		{"python", "env_name", "", "ml"},
		{"python", "env_type", "", "conda"},
		{"go", "version", "", "go1.26"},
		{"r", "version", "4.3", "4.4"},
		{"gpus", "0.driver_version", "550", "555"},
		{"gpus", "1.name", "", "A100"},
		{"cgroup", "cpu_max", "max 100000", "200000 100000"},
		{"env", "CUDA_VISIBLE_DEVICES", "", "0,1"},
		{"env", "OMP_NUM_THREADS", "4", ""},
	}, c.Changes)
}

func TestCompareNilRecords(t *testing.T) {
	c := Compare(nil, compareBase())
	require.Len(t, c.Resources, 11)
	require.Nil(t, c.Resources[0].Ratio)
	require.Equal(t, 6, len(c.Packages))
	require.Contains(t, c.Changes, Change{"run", "name", "", "train"})
	for _, ch := range c.Changes {
		require.NotEqual(t, "exit_code", ch.Key, "exit code 0 on both sides")
	}
}
