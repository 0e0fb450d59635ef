// Package scrub removes secrets from logs and spans before they are stored: the values of
// attributes whose keys name a secret, and secrets inside any text (payment card numbers,
// bearer tokens, URL passwords, "password=..." in a log line), plus the rules a user
// configures (attribute keys or regular expressions, replaced or hashed).
//
// It runs in the ingest pipeline, in the receiving goroutine, on every record: the default
// rules are hand-written scanners, not regular expressions, and a value without '=', ':',
// '@', "earer " or 13 digits costs one pass over its bytes.
package scrub

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
)

// Filtered replaces a scrubbed value, as in Sentry.
const Filtered = "[Filtered]"

// The names of the default rules, as counted in loupe_scrubbed_values_total{rule}.
const (
	RuleSecretKey      = "secret_key"      // an attribute whose key names a secret
	RuleSecretKeyValue = "secret_key_text" // "password=x", "token: x" inside a text
	RuleCardNumber     = "card_number"     // 13-19 digits passing the Luhn check
	RuleBearer         = "bearer_token"    // "Bearer x", "Basic x"
	RuleURLPassword    = "url_password"    // scheme://user:password@host
)

// Rule is a configured scrubbing rule. Exactly one of Keys and Regexp is set.
type Rule struct {
	Name string
	// Keys are attribute keys (compared case-insensitively, whole) whose values the rule
	// replaces, at any depth of maps.
	Keys []string
	// Regexp matches text in every string value and log body; each match is replaced.
	Regexp *regexp.Regexp
	// Hash replaces with "sha256:" and 16 hex digits of SHA-256(HashSalt + value) instead of
	// Replacement, so equal values stay equal (and countable) without being readable.
	Hash bool
	// Replacement is the text put in place of a match when not hashing; "" means Filtered.
	Replacement string
}

// Options configure a Scrubber.
type Options struct {
	// NoDefaults turns off the built-in rules (the RuleXxx constants).
	NoDefaults bool
	Rules      []Rule
	// HashSalt is prepended to values before hashing, so that hashes of guessable values
	// (e-mail addresses) cannot be looked up in a table built elsewhere.
	HashSalt string
}

// Scrubber applies the rules. Safe for concurrent use.
type Scrubber struct {
	defaults bool
	keyRules map[string]*Rule // lower-cased key -> rule
	regexps  []*Rule
	salt     string
	counts   *prometheus.CounterVec

	// known caches SecretKey by key: attribute keys and the words before '=' in log
	// lines come from a small set, and splitting them into words costs more than a lookup.
	mu    sync.RWMutex
	known map[string]bool
}

// maxKnownKeys bounds the cache, against data whose keys are all distinct.
const maxKnownKeys = 100_000

// secretKey is SecretKey, cached.
func (s *Scrubber) secretKey(key string) bool {
	s.mu.RLock()
	secret, ok := s.known[key]
	s.mu.RUnlock()
	if ok {
		return secret
	}
	secret = SecretKey(key)
	s.mu.Lock()
	if len(s.known) < maxKnownKeys {
		s.known[strings.Clone(key)] = secret
	}
	s.mu.Unlock()
	return secret
}

// New returns a Scrubber for opts, registering loupe_scrubbed_values_total on reg (which
// may be nil).
func New(opts Options, reg prometheus.Registerer) (*Scrubber, error) {
	s := &Scrubber{defaults: !opts.NoDefaults, keyRules: map[string]*Rule{}, salt: opts.HashSalt, known: map[string]bool{}}
	for i := range opts.Rules {
		r := &opts.Rules[i]
		switch {
		case r.Name == "":
			return nil, fmt.Errorf("scrub rule %d: no name", i)
		case (len(r.Keys) > 0) == (r.Regexp != nil):
			return nil, fmt.Errorf("scrub rule %q: give either keys or a regex", r.Name)
		case r.Regexp != nil:
			s.regexps = append(s.regexps, r)
		}
		for _, k := range r.Keys {
			s.keyRules[strings.ToLower(k)] = r
		}
	}
	s.counts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loupe_scrubbed_values_total",
		Help: "Values replaced before storage by scrubbing rules, by signal and rule.",
	}, []string{"signal", "rule"})
	if reg != nil {
		if err := reg.Register(s.counts); err != nil {
			return nil, fmt.Errorf("register scrub metrics: %w", err)
		}
	}
	return s, nil
}

// counter counts the rules applied to one batch of one signal; flush adds them to the
// metric once, so that the per-value path takes no lock.
type counter struct {
	signal string
	n      map[string]float64
}

func (c *counter) add(rule string) {
	if c.n == nil {
		c.n = map[string]float64{}
	}
	c.n[rule]++
}

func (s *Scrubber) flush(c *counter) {
	for rule, n := range c.n {
		s.counts.WithLabelValues(c.signal, rule).Add(n)
	}
}

// keyRule returns the rule that replaces the whole value of key: a configured key rule,
// or the default secret-key rule; nil when the value is only scanned as text.
func (s *Scrubber) keyRule(key string) *Rule {
	if len(s.keyRules) > 0 {
		if r, ok := s.keyRules[strings.ToLower(key)]; ok {
			return r
		}
	}
	if s.defaults && s.secretKey(key) {
		return &secretKeyRule
	}
	return nil
}

var secretKeyRule = Rule{Name: RuleSecretKey}

// replacement is what r puts in place of value.
func (s *Scrubber) replacement(r *Rule, value string) string {
	if r.Hash {
		sum := sha256.Sum256([]byte(s.salt + value))
		return "sha256:" + hex.EncodeToString(sum[:8])
	}
	if r.Replacement != "" {
		return r.Replacement
	}
	return Filtered
}

// Text scrubs one string value or log body with the default text rules and the regex
// rules, counting what it replaced in c.
func (s *Scrubber) text(v string, c *counter) string {
	if s.defaults {
		v = s.scanText(v, c)
	}
	for _, r := range s.regexps {
		n := 0
		v = r.Regexp.ReplaceAllStringFunc(v, func(m string) string {
			n++
			return s.replacement(r, m)
		})
		for ; n > 0; n-- {
			c.add(r.Name)
		}
	}
	return v
}

// Redacted is the placeholder `loupe run` puts in place of secrets before it sends them.
const Redacted = "[REDACTED]"

// redacted reports whether v is already a placeholder put in place of a secret, by this
// package or by a sender: replacing it again would only lose the sender's choice of marker.
func redacted(v string) bool { return v == Filtered || v == Redacted }

// String scrubs one value stored under key (key may be empty) for signal, as the
// pipeline does for attributes: the whole value when the key names a secret, else the
// secrets inside it. For callers outside the pipeline (job run metadata).
func (s *Scrubber) String(signal, key, v string) string {
	c := counter{signal: signal}
	defer s.flush(&c)
	if r := s.keyRule(key); key != "" && r != nil {
		if v == "" || redacted(v) {
			return v
		}
		c.add(r.Name)
		return s.replacement(r, v)
	}
	return s.text(v, &c)
}

// secretWords make a key secret when the key, split into words at '-', '_', '.', ' ' and
// lower-to-upper case changes, contains one of them: db.password, X-Api-Token,
// clientSecret. Whole words only, so that gen_ai.usage.input_tokens, author and session.id
// stay readable.
var secretWords = map[string]bool{
	"pass": true, "password": true, "passwd": true, "passphrase": true, "token": true,
	"secret": true, "apikey": true, "credential": true, "credentials": true,
	"authorization": true, "cookie": true, "bearer": true, "jwt": true,
}

// secretKeyQualifiers make a following "key" word secret: api-key, access_key, privateKey.
var secretKeyQualifiers = map[string]bool{"api": true, "access": true, "private": true, "secret": true, "signing": true, "encryption": true}

// SecretKey reports whether an attribute or field named key holds a secret by default.
func SecretKey(key string) bool { return SecretKeyWith(key, nil) }

// SecretKeyWith is SecretKey with more secret words (lower case), for names whose
// conventions differ: command-line options (`loupe run`) also treat "pwd" and "auth" as
// secrets, where telemetry keys must not ("process.pwd", "auth.method").
func SecretKeyWith(key string, extra map[string]bool) bool {
	prev := ""
	found := false
	eachWord(key, func(w string) bool {
		if secretWords[w] || extra[w] || w == "key" && secretKeyQualifiers[prev] ||
			// card_number, credit_card, creditCard, cardnumber
			w == "number" && prev == "card" || w == "card" && prev == "credit" || w == "creditcard" || w == "cardnumber" {
			found = true
			return false
		}
		prev = w
		return true
	})
	return found
}

// eachWord calls f with each lower-cased word of key until f returns false.
func eachWord(key string, f func(string) bool) {
	start := 0
	emit := func(end int) bool {
		if end > start {
			if !f(strings.ToLower(key[start:end])) {
				return false
			}
		}
		start = end
		return true
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ' || c == '/':
			if !emit(i) {
				return
			}
			start = i + 1
		case c < 0x80 && unicode.IsUpper(rune(c)) && i > start && !unicode.IsUpper(rune(key[i-1])):
			if !emit(i) {
				return
			}
		}
	}
	emit(len(key))
}
