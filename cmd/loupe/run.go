package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loupe-dev/loupe/internal/jobs"
)

func newRunCmd() *cobra.Command {
	opts := jobs.DefaultOptions()
	var (
		tags  []string
		env   []string
		quiet bool
		uiURL string
	)
	cmd := &cobra.Command{
		Use:   "run [flags] -- CMD [ARGS...]",
		Short: "Run a batch job and record it (metadata, resource use, output)",
		Long: `Run CMD as a child process and record the run: what ran (command, git commit, Python
packages, toolchains), where (host, scheduler job, GPUs, cgroup limits), how it behaved (CPU,
memory and I/O sampled every --monitor-interval) and what it printed. Input and output pass
through unchanged, signals are forwarded, and loupe exits with the child's exit status
(128+N when signal N killed it).

The run is sent as OTLP to --server (env LOUPE_SERVER): one span for the run, metrics for the
samples, logs for the output. When the server is unreachable it is spooled to --spool-dir and
` + "`loupe push`" + ` sends it later. --output FILE.jsonl appends the record as one JSON line
without any server (see docs/run.md for the fields).

When the run was sent to a server, loupe prints one line on stderr after the job's output:
"loupe: run ID finished (exit N, 3.2s): UI-URL/runs/ID" (-q: not printed).

--profile sets LOUPE_PROFILE=1 and LOUPE_PROFILE_SERVER (the --ui-url address) for the
child: a Go program using Loupe's SDK then sends CPU, heap and goroutine profiles labelled
loupe_run_id, shown on the run's page.`,
		Example: `  loupe run --name train --tag lr=0.1 -- python train.py
  loupe run --output runs.jsonl -- ./simulate --steps 1000
  loupe run --profile -- ./simulate   # a Go program using github.com/loupe-dev/loupe/sdk`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if !f.Changed("server") {
				if s := os.Getenv("LOUPE_SERVER"); s != "" {
					opts.Server = s
				} else if f.Changed("output") {
					opts.Server = "" // --output alone: no server needed
				}
			}
			var err error
			if opts.Tags, err = parseTags(tags); err != nil {
				return err
			}
			if len(env) > 0 {
				opts.EnvAllowlist = append(append([]string{}, opts.EnvAllowlist...), env...)
			}
			if !f.Changed("ui-url") {
				uiURL = os.Getenv("LOUPE_UI_URL")
			}
			if opts.Profile {
				// The SDK sends profiles to the HTTP port's /ingest, the UI's address.
				opts.ProfileServer = jobs.UIURL(opts.Server, uiURL)
			}
			level := slog.LevelWarn
			if quiet {
				level = slog.LevelError + 4
			}
			opts.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if opts.Profile && opts.ProfileServer == "" && os.Getenv("LOUPE_PROFILE_SERVER") == "" {
				opts.Logger.Warn("--profile: the server's HTTP address (where profiles go) is unknown: --server is not on port 4318; set --ui-url or LOUPE_PROFILE_SERVER")
			}
			code, rec, err := jobs.Run(cmd.Context(), opts, args)
			if err != nil {
				return err
			}
			// Where to find the run, after the job's own output; a run sent nowhere
			// (--output alone) has no page, and its id is in the record.
			if !quiet && opts.Server != "" && rec != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), jobs.Summary(rec, jobs.UIURL(opts.Server, uiURL)))
			}
			if code != 0 {
				// The job's own status is loupe's status; it is not a loupe error.
				return exitCode(code)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // everything after CMD belongs to CMD
	f.StringVar(&opts.Name, "name", "", "job name (default: base name of CMD, or of the script when CMD is an interpreter: python3 train.py is train.py)")
	f.StringArrayVar(&tags, "tag", nil, "tag as key=value (repeatable)")
	f.DurationVar(&opts.MonitorInterval, "monitor-interval", opts.MonitorInterval, "time between samples of the process tree")
	f.DurationVar(&opts.HeartbeatInterval, "heartbeat-interval", opts.HeartbeatInterval, "time between re-sends of the running record; the server shows the run as lost after 3 of them (at least 10s) pass without one (docs/run.md)")
	f.StringVar(&opts.Server, "server", opts.Server, "OTLP/HTTP base URL of the Loupe server (env LOUPE_SERVER); empty to send nothing")
	f.StringVar(&uiURL, "ui-url", "", "base URL of the server's web UI for the link printed at the end (env LOUPE_UI_URL; default: --server's host on port 7070 when --server uses port 4318)")
	f.BoolVar(&opts.Profile, "profile", false, "profile a Go child that uses Loupe's SDK: sets LOUPE_PROFILE=1 and LOUPE_PROFILE_SERVER (the --ui-url address) so that it sends CPU, heap and goroutine profiles labelled loupe_run_id")
	f.StringVar(&opts.OutputPath, "output", "", "append the run record as one JSON line to this file")
	f.StringVar(&opts.SpoolDir, "spool-dir", opts.SpoolDir, "where runs are kept when the server is unreachable")
	f.StringArrayVar(&env, "env", nil, "also record this environment variable (name or glob such as MYAPP_*; repeatable); secret-looking ones are recorded with the value [REDACTED]")
	f.BoolVar(&opts.CaptureOutput, "capture-output", opts.CaptureOutput, "ship stdout/stderr as logs (false: the child writes straight to the terminal)")
	f.IntVar(&opts.MaxLineBytes, "max-line-bytes", opts.MaxLineBytes, "longest output line shipped as one log record; longer lines are cut (passed through whole)")
	f.DurationVar(&opts.CaptureTimeout, "capture-timeout", opts.CaptureTimeout, "time limit for capturing metadata (git, pip list, nvidia-smi)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print nothing of loupe's own, not even the run's id at the end or when the run is spooled")
	return cmd
}

func parseTags(tags []string) (map[string]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--tag %q: want key=value", t)
		}
		m[k] = v
	}
	return m, nil
}
