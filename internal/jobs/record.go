// Package jobs runs a batch job as a child process and records what ran, where and how it
// behaved: metadata, resource samples and output, as OTLP for a Loupe server or as JSON lines.
package jobs

import "time"

// Record is everything Loupe knows about one run. It is the JSON object written by
// --output (one per line) and the value of the run span's loupe.run.record attribute; the
// field names are documented in docs/run.md and are part of the interface.
type Record struct {
	RecordVersion int `json:"record_version"`
	// RunID is 32 random hex digits; it is also the trace id unless the run joined the
	// trace of an inherited TRACEPARENT.
	RunID       string            `json:"run_id"`
	Name        string            `json:"name"`
	Tags        map[string]string `json:"tags,omitempty"`
	Command     []string          `json:"command"`
	CommandLine string            `json:"command_line"`
	Cwd         string            `json:"cwd"`
	User        string            `json:"user"`
	PID         int               `json:"pid,omitempty"`

	StartTime       time.Time `json:"start_time"`
	EndTime         time.Time `json:"end_time"`
	Timezone        string    `json:"timezone"`
	TZOffset        string    `json:"tz_offset"`
	DurationSeconds float64   `json:"duration_seconds"`

	// Status is "succeeded" (exit 0), "failed" (non-zero exit or could not start) or
	// "killed" (terminated by a signal).
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal,omitempty"`
	Error    string `json:"error,omitempty"`

	Host      Host              `json:"host"`
	Scheduler *Scheduler        `json:"scheduler,omitempty"`
	Git       *Git              `json:"git,omitempty"`
	Python    *Python           `json:"python,omitempty"`
	Go        *Runtime          `json:"go,omitempty"`
	R         *Runtime          `json:"r,omitempty"`
	GPUs      []GPU             `json:"gpus,omitempty"`
	Cgroup    *Cgroup           `json:"cgroup,omitempty"`
	Env       map[string]string `json:"env,omitempty"`

	Resources Resources `json:"resources"`
	Samples   []Sample  `json:"samples,omitempty"`
	Output    Output    `json:"output"`

	Telemetry Telemetry `json:"telemetry"`
	// CaptureErrors names each part of the capture that failed and why (e.g. "python":
	// "pip list: timeout"); a failed part never fails the run.
	CaptureErrors map[string]string `json:"capture_errors,omitempty"`

	// HeartbeatSeconds is the period at which `loupe run` re-sends the running record while
	// the job runs (0 or absent: a record from a version without heartbeats). The server
	// shows a running run as "lost" when its heartbeats stop (docs/run.md).
	HeartbeatSeconds float64 `json:"heartbeat_seconds,omitempty"`
	// HeartbeatTime is when this running copy of the record was sent (client clock); only
	// on heartbeats, not on the first start-of-run record nor the final record.
	HeartbeatTime *time.Time `json:"heartbeat_time,omitempty"`
}

// Host describes the machine the run executed on.
type Host struct {
	Hostname         string `json:"hostname"`
	OS               string `json:"os"`
	Platform         string `json:"platform,omitempty"`
	PlatformVersion  string `json:"platform_version,omitempty"`
	KernelVersion    string `json:"kernel_version,omitempty"`
	Arch             string `json:"arch"`
	CPUModel         string `json:"cpu_model,omitempty"`
	CPULogical       int    `json:"cpu_logical,omitempty"`
	CPUPhysical      int    `json:"cpu_physical,omitempty"`
	MemoryTotalBytes uint64 `json:"memory_total_bytes,omitempty"`
	Virtualization   string `json:"virtualization,omitempty"`
}

// Scheduler is the batch scheduler context found in the environment.
type Scheduler struct {
	// Type is slurm, pbs, lsf or sge.
	Type  string `json:"type"`
	JobID string `json:"job_id,omitempty"`
	// Vars are the scheduler's variables (SLURM_*, PBS_*, LSB_*, SGE_*), secrets excluded.
	Vars map[string]string `json:"vars"`
}

// Git is the state of the git repository containing the working directory.
type Git struct {
	Root      string `json:"root"`
	Commit    string `json:"commit"`
	Branch    string `json:"branch,omitempty"`
	Dirty     bool   `json:"dirty"`
	RemoteURL string `json:"remote_url,omitempty"`
}

// Python is the Python environment the child would see first.
type Python struct {
	Version    string    `json:"version"`
	Executable string    `json:"executable"`
	Prefix     string    `json:"prefix,omitempty"`
	EnvType    string    `json:"env_type,omitempty"` // conda, virtualenv or "" (system)
	EnvName    string    `json:"env_name,omitempty"`
	Packages   []Package `json:"packages,omitempty"`
	// CondaPackages are from `conda list --json` when a conda env is active.
	CondaPackages []Package `json:"conda_packages,omitempty"`
}

// Package is one installed package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Runtime is a language toolchain found on PATH.
type Runtime struct {
	Version string `json:"version"`
	Path    string `json:"path,omitempty"`
}

// GPU is one device reported by nvidia-smi.
type GPU struct {
	Index            int    `json:"index"`
	Name             string `json:"name"`
	UUID             string `json:"uuid,omitempty"`
	DriverVersion    string `json:"driver_version,omitempty"`
	MemoryTotalBytes uint64 `json:"memory_total_bytes,omitempty"`
}

// Cgroup holds the container limits of the cgroup (v2) Loupe runs in.
type Cgroup struct {
	Path string `json:"path,omitempty"`
	// CPUMax is the raw cpu.max ("max 100000" or "200000 100000"); CPULimitCores is quota
	// divided by period, 0 when unlimited.
	CPUMax         string  `json:"cpu_max,omitempty"`
	CPULimitCores  float64 `json:"cpu_limit_cores,omitempty"`
	MemoryMax      string  `json:"memory_max,omitempty"`
	MemoryMaxBytes uint64  `json:"memory_max_bytes,omitempty"`
}

// Resources are the run's totals.
type Resources struct {
	UserCPUSeconds   float64 `json:"user_cpu_seconds"`
	SystemCPUSeconds float64 `json:"system_cpu_seconds"`
	// MaxRSSBytes is the largest peak resident set (VmHWM) of any single process of the
	// tree, as seen by the sampler; PeakRSSBytes is the largest sampled RSS summed over the
	// tree. Both are 0 when the run ended before its first sample. (getrusage's ru_maxrss
	// is not used: on Linux it counts the memory of Loupe itself, inherited at fork.)
	MaxRSSBytes    uint64  `json:"max_rss_bytes"`
	PeakRSSBytes   uint64  `json:"peak_rss_bytes"`
	ReadBytes      uint64  `json:"read_bytes"`
	WriteBytes     uint64  `json:"write_bytes"`
	CPUPercentMean float64 `json:"cpu_percent_mean"`
	CPUPercentMax  float64 `json:"cpu_percent_max"`
	MaxThreads     int     `json:"max_threads"`
	MaxProcesses   int     `json:"max_processes"`
}

// Sample is one look at the child's process tree.
type Sample struct {
	// T is seconds since the run started.
	T float64 `json:"t"`
	// CPUPercent is summed over the tree; 100 is one core fully busy.
	CPUPercent float64 `json:"cpu_percent"`
	RSSBytes   uint64  `json:"rss_bytes"`
	ReadBytes  uint64  `json:"read_bytes"`
	WriteBytes uint64  `json:"write_bytes"`
	Threads    int     `json:"threads"`
	Processes  int     `json:"processes"`
	// MaxHWMBytes is the largest peak resident set (VmHWM) of any process in the tree.
	MaxHWMBytes uint64      `json:"max_hwm_bytes"`
	GPUs        []GPUSample `json:"gpus,omitempty"`
}

// GPUSample is one GPU's utilisation at a sample.
type GPUSample struct {
	Index           int     `json:"index"`
	UtilizationPct  float64 `json:"utilization_percent"`
	MemoryUsedBytes uint64  `json:"memory_used_bytes"`
}

// Output counts what the child wrote.
type Output struct {
	StdoutBytes int64 `json:"stdout_bytes"`
	StdoutLines int64 `json:"stdout_lines"`
	StderrBytes int64 `json:"stderr_bytes"`
	StderrLines int64 `json:"stderr_lines"`
	// TruncatedLines were longer than the line cap and shipped cut; DroppedLines were not
	// shipped because the shipping buffer was full (they were still passed through).
	TruncatedLines int64 `json:"truncated_lines"`
	DroppedLines   int64 `json:"dropped_lines"`
}

// Telemetry says where the run's OTLP data went.
type Telemetry struct {
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
	// ParentSpanID is set when the run inherited a TRACEPARENT: its span is a child there.
	ParentSpanID string `json:"parent_span_id,omitempty"`
	Server       string `json:"server,omitempty"`
	SpoolFile    string `json:"spool_file,omitempty"`
	// Profile is true when the run was started with --profile: a Go child using Loupe's
	// SDK sent profiles labelled loupe_run_id=RunID.
	Profile bool `json:"profile,omitempty"`
}
