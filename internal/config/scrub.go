package config

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loupe-dev/loupe/internal/scrub"
)

// ScrubConfig is scrubbing at ingest: what is removed from logs, spans, error events and
// job runs before they are stored (docs/security.md#scrubbing).
type ScrubConfig struct {
	// Defaults turns on the built-in rules: values of keys that name a secret, and card
	// numbers, bearer tokens, URL passwords and "password=..." inside any text.
	Defaults bool `yaml:"defaults"`
	// Rules are more rules, applied after the built-in ones.
	Rules []ScrubRule `yaml:"rules"`
	// HashSalt is prepended to values that a rule hashes.
	HashSalt string `yaml:"hash_salt"`
}

// ScrubRule is one configured rule: either Keys or Regex.
type ScrubRule struct {
	Name string `yaml:"name"`
	// Keys are attribute keys, compared whole and case-insensitively.
	Keys []string `yaml:"keys"`
	// Regex is an RE2 expression matched in every string value and log body.
	Regex string `yaml:"regex"`
	// Action is "replace" (the default) or "hash".
	Action string `yaml:"action"`
	// Replacement is what replaces a match; "[Filtered]" when empty.
	Replacement string `yaml:"replacement"`
}

// Validate reports every problem of the rules, each naming its key.
func (c ScrubConfig) Validate() error {
	_, err := c.options()
	return err
}

// Scrubber builds the scrubber the ingest paths share, registering its counter on reg.
func (c ScrubConfig) Scrubber(reg prometheus.Registerer) (*scrub.Scrubber, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	return scrub.New(opts, reg)
}

func (c ScrubConfig) options() (scrub.Options, error) {
	opts := scrub.Options{NoDefaults: !c.Defaults, HashSalt: c.HashSalt}
	var errs []error
	names := map[string]bool{}
	for i, r := range c.Rules {
		key := fmt.Sprintf("scrub.rules[%d]", i)
		bad := func(field string, val any, why string) {
			errs = append(errs, fmt.Errorf("%s.%s: %v: %s", key, field, val, why))
		}
		rule := scrub.Rule{Name: r.Name, Keys: r.Keys, Replacement: r.Replacement}
		switch {
		case r.Name == "":
			bad("name", `""`, "every rule needs a name (it labels loupe_scrubbed_values_total)")
		case names[r.Name]:
			bad("name", fmt.Sprintf("%q", r.Name), "used by an earlier rule")
		}
		names[r.Name] = true
		if (len(r.Keys) > 0) == (r.Regex != "") {
			bad("regex", fmt.Sprintf("%q", r.Regex), "give either keys or regex")
		}
		for j, k := range r.Keys {
			if k == "" {
				bad(fmt.Sprintf("keys[%d]", j), `""`, "must not be empty")
			}
		}
		if r.Regex != "" {
			re, err := regexp.Compile(r.Regex)
			if err != nil {
				bad("regex", fmt.Sprintf("%q", r.Regex), err.Error())
			} else if re.MatchString("") {
				bad("regex", fmt.Sprintf("%q", r.Regex), "matches the empty string")
			}
			rule.Regexp = re
		}
		switch r.Action {
		case "", "replace":
		case "hash":
			rule.Hash = true
			if r.Replacement != "" {
				bad("replacement", fmt.Sprintf("%q", r.Replacement), `not used with action "hash"`)
			}
		default:
			bad("action", fmt.Sprintf("%q", r.Action), "want replace or hash")
		}
		opts.Rules = append(opts.Rules, rule)
	}
	return opts, errors.Join(errs...)
}
