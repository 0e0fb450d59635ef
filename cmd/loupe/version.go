package main

import (
	"fmt"

	"github.com/loupe-dev/loupe/internal/version"
	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the Loupe version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version.Get()
			rev := v.Revision
			if rev == "" {
				rev = "unknown"
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "loupe %s (revision %s, %s)\n", v.Version, rev, v.GoVersion)
			return err
		},
	}
}
