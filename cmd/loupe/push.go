package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/loupe-dev/loupe/internal/jobs"
)

func newPushCmd() *cobra.Command {
	opts := jobs.PushOptions{SpoolDir: jobs.DefaultSpoolDir(), Timeout: 30 * time.Second}
	cmd := &cobra.Command{
		Use:   "push [FILE.jsonl...]",
		Short: "Send runs spooled by `loupe run` while the server was unreachable",
		Long: `Send every run record spooled by ` + "`loupe run`" + ` to the server it was meant for (or to
--server / env LOUPE_SERVER). A spool file is deleted once the server accepted all of it; on
failure it keeps what was not sent, so push can simply be retried.

With FILE arguments, send instead the run records that ` + "`loupe run --output FILE`" + ` wrote
(span, samples and end-of-run metrics of each; the output lines are not in those files) to
--server, LOUPE_SERVER or http://localhost:4318.`,
		Example: `  loupe push
  loupe push --server http://loupe.lab:4318 runs.jsonl`,
		RunE: func(cmd *cobra.Command, files []string) error {
			if !cmd.Flags().Changed("server") {
				opts.Server = os.Getenv("LOUPE_SERVER")
			}
			out := cmd.OutOrStdout()
			opts.Warn = func(err error) { fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", err) }
			if len(files) > 0 {
				server := opts.Server
				if server == "" {
					server = "http://localhost:4318"
				}
				for _, f := range files {
					n, err := jobs.PushRecords(cmd.Context(), server, f, opts.Timeout, opts.Warn)
					fmt.Fprintf(out, "%s: %d run record(s) pushed\n", f, n)
					if err != nil {
						return err
					}
				}
				return nil
			}
			res, err := jobs.Push(cmd.Context(), opts, func(file string, n int) {
				fmt.Fprintf(out, "pushed %s (%d requests)\n", file, n)
			})
			for _, f := range res.Skipped {
				fmt.Fprintf(out, "skipped %s: its job is still running\n", f)
			}
			for _, f := range res.Rejected {
				fmt.Fprintf(out, "rejected %s: the server refused it as invalid; kept as %s.rejected\n", f, f)
			}
			fmt.Fprintf(out, "%d run(s) pushed, %d request(s)\n", res.Files, res.Requests)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.SpoolDir, "spool-dir", opts.SpoolDir, "directory of spooled runs")
	f.StringVar(&opts.Server, "server", "", "OTLP/HTTP base URL to send to (default: the server each run was meant for)")
	f.DurationVar(&opts.Timeout, "timeout", opts.Timeout, "time limit for each request")
	return cmd
}
