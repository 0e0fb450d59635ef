package main

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/loupe-dev/loupe/internal/config"
	"github.com/loupe-dev/loupe/internal/ingest/sentry"
	"github.com/loupe-dev/loupe/internal/tenant"
)

func newSentryDSNCmd() *cobra.Command {
	var configPath, dataDir, baseURL, tenantID string
	// keys returns the keys file of the configuration (and --data-dir, --tenant), as
	// `loupe serve` reads it ("" for none), and the configuration, whose projects are the
	// default tenant's only.
	keys := func(cmd *cobra.Command) (string, config.Config, error) {
		cfg, err := loadConfig(configPath)
		if err != nil {
			return "", cfg, err
		}
		if cmd.Flags().Changed("data-dir") {
			cfg.DataDir = dataDir
		}
		if tenantID != "" && tenantID != cfg.Tenants.Default {
			if err := tenant.Validate(tenantID); err != nil {
				return "", cfg, fmt.Errorf("--tenant: %w", err)
			}
			cfg.Sentry.Projects = nil
		}
		return cfg.SentryKeysPath(tenantID), cfg, nil
	}
	base := func(cfg config.Config) string {
		if baseURL != "" {
			return baseURL
		}
		host, port, err := net.SplitHostPort(cfg.Listen.HTTP)
		if err != nil {
			return "http://" + cfg.Listen.HTTP
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			if h, err := os.Hostname(); err == nil {
				host = h
			}
		}
		return "http://" + net.JoinHostPort(host, port)
	}

	cmd := &cobra.Command{
		Use:   "sentry-dsn",
		Short: "Create and list the DSNs that Sentry SDKs send errors, transactions and check-ins with",
		Long: `Sentry SDKs send to a DSN: http://KEY@HOST:PORT/PROJECT_ID. ` + "`create`" + ` makes a key for a project
(the project is created when new) in the keys file of the data directory
(sentry.keys_file, default <data_dir>/sentry-keys.json) and prints the DSN. A running server
picks up new keys without a restart. Projects and keys may also be listed in the
configuration file under sentry.projects. See docs/errors.md.`,
		Args: cobra.NoArgs,
	}
	create := &cobra.Command{
		Use:     "create --project NAME",
		Short:   "Make a DSN key for a project and print the DSN",
		Example: `  SENTRY_DSN=$(loupe sentry-dsn create --project api --data-dir /var/lib/loupe)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, _ := cmd.Flags().GetString("project")
			path, cfg, err := keys(cmd)
			if err != nil {
				return err
			}
			if err := cfg.Sentry.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			if path == "" {
				return errors.New("sentry.keys_file is empty, so there is no keys file to add a key to: set it, or list the key under sentry.projects")
			}
			p, err := sentry.CreateKey(path, cfg.Sentry.Projects, name)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), sentry.DSN(base(cfg), p.Keys[0], p.ID))
			fmt.Fprintf(cmd.ErrOrStderr(), "project %s (id %s): key added to %s\n", p.Name, p.ID, path)
			return nil
		},
	}
	create.Flags().String("project", "", "project name (the service name of its events and spans)")
	_ = create.MarkFlagRequired("project")

	list := &cobra.Command{
		Use:   "list",
		Short: "Print the DSN of every key, configured and created",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, cfg, err := keys(cmd)
			if err != nil {
				return err
			}
			var file []sentry.Project
			if path != "" {
				if file, err = sentry.ReadKeysFile(path); err != nil {
					return err
				}
			}
			for _, p := range append(cfg.Sentry.Projects, file...) {
				for _, k := range p.Keys {
					fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\n", p.ID, p.Name, sentry.DSN(base(cfg), k, p.ID))
				}
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{create, list} {
		f := c.Flags()
		f.StringVar(&configPath, "config", "", "the server's YAML configuration file")
		f.StringVar(&dataDir, "data-dir", "", "the server's data directory (data_dir)")
		f.StringVar(&tenantID, "tenant", "", "the tenant whose projects these are (tenants.enabled; docs/security.md#tenants); default: the default tenant")
		f.StringVar(&baseURL, "url", "", "base URL the SDKs reach the HTTP port at (default: from listen.http)")
	}
	cmd.AddCommand(create, list)
	return cmd
}
