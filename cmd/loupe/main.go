// Command loupe is the whole observability stack in one binary; see `loupe --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var code exitCode
	switch {
	case errors.As(err, &code):
		os.Exit(int(code))
	case err != nil:
		fmt.Fprintln(os.Stderr, "loupe:", err)
		os.Exit(1)
	}
}

// exitCode is returned by a subcommand whose exit status is not an error of Loupe's, such
// as `loupe run` passing on its child's status.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// Run executes the loupe command line args, writing to stdout and stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:           "loupe",
		Short:         "Logs, metrics, traces, profiles and errors in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCmd(), newVersionCmd(), newRunCmd(), newPushCmd(), newSentryDSNCmd(), newTokenCmd(), newUserCmd(), newProfileCmd(), newMigrateCmd())
	return root.ExecuteContext(ctx)
}
