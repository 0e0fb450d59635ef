package config

import (
	"bytes"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/tenant"
)

// docs/security.md's Limits per tenant example loads, validates and means what the
// section says: team-a's override replaces two keys and keeps the others.
func TestDocTenantLimitsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/security.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)### Limits per tenant\n.*?```yaml\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, m, "docs/security.md has a Limits per tenant section with a YAML example")
	cfg, err := Load(bytes.NewReader(m[1]))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	all := tenant.Limits{IngestRate: 10000, IngestBurst: 20000, MaxSeries: 100000, MaxBytesPerDay: 20_000_000_000}
	require.Equal(t, all, cfg.Tenants.LimitsFor("default"))
	require.Equal(t, tenant.Limits{IngestRate: 50000, IngestBurst: 20000, MaxBytesPerDay: 20_000_000_000}, cfg.Tenants.LimitsFor("team-a"))
}
