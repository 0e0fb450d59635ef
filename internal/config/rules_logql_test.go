package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rules.logql_files: globs of LogQL rule files (Loki's ruler format), resolved and checked
// as rules.files.
func TestRulesLogQLFilesKey(t *testing.T) {
	require.Empty(t, Default().LogQLRuleFiles())
	cfg, err := Load(strings.NewReader("rules:\n  files: [rules/*.yml]\n  logql_files: [rules/logs/*.yml, /etc/loupe/logs.yml]\n"))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, []string{"rules/logs/*.yml", "/etc/loupe/logs.yml"}, cfg.LogQLRuleFiles())
	cfg.Scrape.Dir = "/srv/loupe"
	require.Equal(t, []string{"/srv/loupe/rules/logs/*.yml", "/etc/loupe/logs.yml"}, cfg.LogQLRuleFiles())

	cfg.Rules.LogQLFiles = []string{"ok.yml", "", "[bad"}
	err = cfg.Validate()
	require.ErrorContains(t, err, `rules.logql_files[1]: "": must not be empty`)
	require.ErrorContains(t, err, `rules.logql_files[2]: "[bad": not a valid glob`)
}
