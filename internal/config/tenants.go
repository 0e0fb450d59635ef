package config

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/loupe-dev/loupe/internal/tenant"
)

// TenantsConfig turns on tenants (docs/security.md, Tenants): data kept apart per tenant,
// each request acting for the tenant its token is bound to or, for tokens bound to none
// and without authentication, the one its X-Scope-OrgID header names.
type TenantsConfig struct {
	// Enabled reads the tenant of each request. Off (the default), every request acts for
	// the default tenant and X-Scope-OrgID is ignored, as in single-tenant Loki.
	Enabled bool `yaml:"enabled"`
	// Default is the tenant of requests that name none; its data is the data directory's
	// own, so turning tenants on keeps what was stored before.
	Default string `yaml:"default"`
	// Max bounds the tenants besides the default one (each has its own stores under
	// data_dir/tenants/); a request for one more is refused with 403.
	Max int `yaml:"max"`
	// Limits bound what each tenant, the default one included, may ingest (429 beyond);
	// zero means no limit (docs/security.md, Limits per tenant).
	Limits tenant.Limits `yaml:"limits"`
	// RulesDir holds the tenants' own recording and alerting rules, a folder per tenant:
	// RulesDir/ID/*.yml (and .yaml) are Prometheus rule files, RulesDir/ID/logql/*.yml
	// LogQL ones, as Loki's ruler keeps a folder per tenant. Relative to the configuration
	// file's directory. Their alerts go to the Alertmanagers of the alerting section with
	// the label tenant="ID". Empty: tenants other than the default one have no rules.
	RulesDir string `yaml:"rules_dir"`
	// Overrides replace Limits key by key for the tenants they name.
	Overrides map[string]LimitsOverride `yaml:"overrides"`
}

// LimitsOverride is one tenant's tenants.overrides entry: the keys it sets replace
// tenants.limits' (0 there means no limit), the others are tenants.limits'.
type LimitsOverride struct {
	IngestRate     *float64 `yaml:"ingest_rate,omitempty"`
	IngestBurst    *int     `yaml:"ingest_burst,omitempty"`
	MaxSeries      *int     `yaml:"max_series,omitempty"`
	MaxBytesPerDay *int64   `yaml:"max_bytes_per_day,omitempty"`
}

// LimitsFor returns tenant id's limits: tenants.limits with its override applied.
func (c TenantsConfig) LimitsFor(id string) tenant.Limits {
	l := c.Limits
	o, ok := c.Overrides[id]
	if !ok {
		return l
	}
	if o.IngestRate != nil {
		l.IngestRate = *o.IngestRate
	}
	if o.IngestBurst != nil {
		l.IngestBurst = *o.IngestBurst
	}
	if o.MaxSeries != nil {
		l.MaxSeries = *o.MaxSeries
	}
	if o.MaxBytesPerDay != nil {
		l.MaxBytesPerDay = *o.MaxBytesPerDay
	}
	return l
}

// DefaultTenants are the tenant settings `loupe serve` runs with when nothing is given.
func DefaultTenants() TenantsConfig {
	return TenantsConfig{Default: "default", Max: 100}
}

func (c TenantsConfig) validate() []error {
	var errs []error
	if err := tenant.Validate(c.Default); err != nil {
		errs = append(errs, fmt.Errorf("tenants.default: %w", err))
	}
	if c.Max < 0 {
		errs = append(errs, fmt.Errorf("tenants.max: %d: must be 0 (only the default tenant) or positive", c.Max))
	}
	errs = append(errs, c.Limits.Validate("tenants.limits")...)
	ids := make([]string, 0, len(c.Overrides))
	for id := range c.Overrides {
		ids = append(ids, id)
	}
	sort.Strings(ids) // errors in a stable order
	for _, id := range ids {
		if err := tenant.Validate(id); err != nil {
			errs = append(errs, fmt.Errorf("tenants.overrides: %w", err))
			continue
		}
		errs = append(errs, c.LimitsFor(id).Validate("tenants.overrides."+id)...)
	}
	return errs
}

// TenantDataDir is where tenant id (not the default one, whose data is DataDir's own)
// keeps its stores and files: DataDir/tenants/ID.
func (c Config) TenantDataDir(id string) string { return filepath.Join(c.DataDir, "tenants", id) }

// SentryKeysPath is the Sentry keys file of tenant id (`loupe sentry-dsn --tenant`): the
// default tenant's is sentry.keys_file, another tenant's is a file of that name in its
// directory. "" when sentry.keys_file is "".
func (c Config) SentryKeysPath(id string) string {
	if id == "" || id == c.Tenants.Default || c.Sentry.KeysFile == "" {
		return c.Sentry.KeysPath(c.DataDir)
	}
	return filepath.Join(c.TenantDataDir(id), filepath.Base(c.Sentry.KeysFile))
}

// TenantRuleGlobs are the rule file globs of tenant id under tenants.rules_dir (none
// without it), Prometheus' and LogQL's, relative as rules.files are.
func (c TenantsConfig) TenantRuleGlobs(id string) (prom, logQL []string) {
	if c.RulesDir == "" {
		return nil, nil
	}
	dir := filepath.Join(c.RulesDir, id)
	return []string{filepath.Join(dir, "*.yml"), filepath.Join(dir, "*.yaml")},
		[]string{filepath.Join(dir, "logql", "*.yml"), filepath.Join(dir, "logql", "*.yaml")}
}
