package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/loupe-dev/loupe/internal/auth"
)

func newUserCmd() *cobra.Command {
	var configPath, dataDir string
	// path is the users file of the configuration (and --data-dir), as `loupe serve` reads it.
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
		return cfg.Auth.UsersPath(cfg.DataDir), nil
	}

	cmd := &cobra.Command{
		Use:   "user",
		Short: "Add, list and remove the users who sign in to the web UI with a password",
		Long: `Users sign in to the web UI with a name and a password (API tokens can sign in too). Scopes:
read (every page) or admin (also silences, dashboards and the other writes). Users live in
the users file of the data directory (auth.users_file, default <data_dir>/users.json) with
a bcrypt hash of the password; with auth.enabled auto, authentication is on as soon as a
user or a token exists. A running server picks up changes within a second: a removed
user's sessions end then. See docs/security.md.`,
		Args: cobra.NoArgs,
	}
	add := &cobra.Command{
		Use:   "add NAME --scope read|admin",
		Short: "Add a user; the password is asked for (or read from standard input)",
		Example: `  loupe user add alice --scope admin --data-dir /var/lib/loupe
  printf '%s\n' "$PASSWORD" | loupe user add grafana-viewer --scope read --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			scopeList, _ := cmd.Flags().GetString("scope")
			scopes, err := auth.UserScopes(scopeList)
			if err != nil {
				return fmt.Errorf("--scope: %w", err)
			}
			p, err := path(cmd)
			if err != nil {
				return err
			}
			password, err := readPassword(cmd)
			if err != nil {
				return err
			}
			var u auth.User
			if tenantID, _ := cmd.Flags().GetString("tenant"); tenantID != "" {
				u, err = auth.AddTenantUser(p, args[0], password, scopes, tenantID, time.Now())
			} else {
				u, err = auth.AddUser(p, args[0], password, scopes, false, time.Now())
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "user %s (scopes %s, tenant %s) added to %s\n", u.Name, joinScopes(u.Scopes), userTenant(u), p)
			return nil
		},
	}
	add.Flags().String("scope", "", "read or admin")
	add.Flags().String("tenant", "", "bind the user to this tenant: the UI shows that tenant's data only (tenants.enabled; docs/security.md); default: any tenant")
	_ = add.MarkFlagRequired("scope")

	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (and with --scope, its scopes)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var scopes []auth.Scope
			if v, _ := cmd.Flags().GetString("scope"); v != "" {
				s, err := auth.UserScopes(v)
				if err != nil {
					return fmt.Errorf("--scope: %w", err)
				}
				scopes = s
			}
			p, err := path(cmd)
			if err != nil {
				return err
			}
			password, err := readPassword(cmd)
			if err != nil {
				return err
			}
			u, err := auth.AddUser(p, args[0], password, scopes, true, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "user %s (scopes %s) changed in %s\n", u.Name, joinScopes(u.Scopes), p)
			return nil
		},
	}
	passwd.Flags().String("scope", "", "new scopes: read or admin (default: unchanged)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the users: name, scopes, created",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := path(cmd)
			if err != nil {
				return err
			}
			users, err := auth.ReadUsers(p)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSCOPES\tTENANT\tCREATED")
			for _, u := range users {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, joinScopes(u.Scopes), userTenant(u), u.Created.Format(time.RFC3339))
			}
			return w.Flush()
		},
	}
	remove := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user; a running server ends its sessions within a second",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := path(cmd)
			if err != nil {
				return err
			}
			if err := auth.RemoveUser(p, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "user %s removed from %s\n", args[0], p)
			return nil
		},
	}
	for _, c := range []*cobra.Command{add, passwd, list, remove} {
		f := c.Flags()
		f.StringVar(&configPath, "config", "", "the server's YAML configuration file")
		f.StringVar(&dataDir, "data-dir", "", "the server's data directory (data_dir)")
	}
	for _, c := range []*cobra.Command{add, passwd} {
		c.Flags().Bool("password-stdin", false, "read the password from the first line of standard input instead of asking")
	}
	cmd.AddCommand(add, passwd, list, remove)
	return cmd
}

// readPassword asks for the password twice on a terminal without echoing it, or reads the
// first line of standard input (--password-stdin, or when it is not a terminal), so that
// the password is never an argument visible in ps or the shell history.
func readPassword(cmd *cobra.Command) (string, error) {
	fromStdin, _ := cmd.Flags().GetBool("password-stdin")
	in := cmd.InOrStdin()
	f, isFile := in.(*os.File)
	if fromStdin || !isFile || !isTerminal(int(f.Fd())) {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", errors.New("no password on standard input")
		}
		return line, nil
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		p, err := readNoEcho(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		return p, err
	}
	p1, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	p2, err := ask("Password again: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("the passwords differ")
	}
	return p1, nil
}

// userTenant is the tenant a user is bound to, for listings.
func userTenant(u auth.User) string {
	if u.Tenant == "" {
		return "any"
	}
	return u.Tenant
}
