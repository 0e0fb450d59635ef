package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"

	"github.com/loupe-dev/loupe/internal/auth"
)

func newTokenCmd() *cobra.Command {
	var configPath, dataDir string
	// path is the tokens file of the configuration (and --data-dir), as `loupe serve` reads it.
	path := func(cmd *cobra.Command) (string, error) {
		cfg, err := loadConfig(configPath)
		if err != nil {
			return "", err
		}
		if cmd.Flags().Changed("data-dir") {
			cfg.DataDir = dataDir
		}
		if err := cfg.Auth.Validate(); err != nil {
			return "", fmt.Errorf("invalid configuration:\n%w", err)
		}
		return cfg.Auth.TokensPath(cfg.DataDir), nil
	}

	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the API tokens clients authenticate with",
		Long: `API tokens authenticate clients on every port: "Authorization: Bearer TOKEN", or HTTP basic
auth with the token as password. Scopes: ingest (send data), read (query APIs and the UI),
admin (reload, silences, and everything else). Tokens live hashed in the tokens file of the
data directory (auth.tokens_file, default <data_dir>/tokens.json); with auth.enabled auto,
authentication is on as soon as one exists. A token made with --expires is refused after
that time. A running server picks up changes within a second, and on SIGHUP or POST
/-/reload. See docs/security.md.`,
		Args: cobra.NoArgs,
	}
	create := &cobra.Command{
		Use:     "create --scope ingest[,read,admin] --name NAME",
		Short:   "Make a token and print it (once: only its hash is kept)",
		Example: `  TOKEN=$(loupe token create --scope ingest --name collector --data-dir /var/lib/loupe)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, _ := cmd.Flags().GetString("name")
			scopeList, _ := cmd.Flags().GetString("scope")
			scopes, err := auth.ParseScopes(scopeList)
			if err != nil {
				return fmt.Errorf("--scope: %w", err)
			}
			now := time.Now()
			var expires time.Time
			if v, _ := cmd.Flags().GetString("expires"); v != "" {
				d, err := model.ParseDuration(v)
				if err != nil || d <= 0 {
					return fmt.Errorf("--expires %q: want a duration such as 12h, 30d, 1w or 1y", v)
				}
				expires = now.Add(time.Duration(d))
			}
			p, err := path(cmd)
			if err != nil {
				return err
			}
			tenantID, _ := cmd.Flags().GetString("tenant")
			secret, t, err := auth.CreateFor(p, name, scopes, tenantID, now, expires)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s (id %s, scopes %s, tenant %s, expires %s) added to %s; it is shown this once\n",
				t.Name, t.ID, joinScopes(t.Scopes), tenantText(t), expiryText(t, now), p)
			return nil
		},
	}
	create.Flags().String("name", "", "a unique name for the token (who or what uses it)")
	create.Flags().String("scope", "", "comma-separated scopes: ingest, read, admin")
	create.Flags().String("expires", "", "the token is refused after this long (12h, 30d, 1w, 1y); default never")
	create.Flags().String("tenant", "", "bind the token to this tenant: it reads and writes that tenant's data only (tenants.enabled; docs/security.md); default: any tenant its requests name in X-Scope-OrgID")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("scope")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens: name, id, scopes, tenant, created, expiry, last 4 characters (never the token)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := path(cmd)
			if err != nil {
				return err
			}
			tokens, err := auth.ReadFile(p)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			now := time.Now()
			fmt.Fprintln(w, "NAME\tID\tSCOPES\tTENANT\tCREATED\tEXPIRES\tENDS WITH")
			for _, t := range tokens {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t…%s\n", t.Name, t.ID, joinScopes(t.Scopes), tenantText(t), t.Created.Format(time.RFC3339),
					expiryText(t, now), t.Last4)
			}
			return w.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke NAME|ID",
		Short: "Remove a token; a running server refuses it within a second",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := path(cmd)
			if err != nil {
				return err
			}
			t, err := auth.Revoke(p, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s (id %s) revoked in %s\n", t.Name, t.ID, p)
			return nil
		},
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		f := c.Flags()
		f.StringVar(&configPath, "config", "", "the server's YAML configuration file")
		f.StringVar(&dataDir, "data-dir", "", "the server's data directory (data_dir)")
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// expiryText is a token's expiry for people: never, the time, or the time it expired.
func expiryText(t auth.Token, now time.Time) string {
	switch {
	case t.Expires.IsZero():
		return "never"
	case t.Expired(now):
		return t.Expires.Format(time.RFC3339) + " (expired)"
	}
	return t.Expires.Format(time.RFC3339)
}

func joinScopes(s []auth.Scope) string {
	out := make([]string, len(s))
	for i, sc := range s {
		out[i] = string(sc)
	}
	return strings.Join(out, ",")
}

// tenantText is the tenant a token is bound to, for listings.
func tenantText(t auth.Token) string {
	if t.Tenant == "" {
		return "any"
	}
	return t.Tenant
}
