package config

import (
	"fmt"

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
	return errs
}
