package errtrack

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/loupe-dev/loupe/internal/scrub"
)

// Filtered replaces a scrubbed value, as in Sentry.
const Filtered = scrub.Filtered

// DefaultSensitiveKeys are the key substrings whose values the Scrubber replaces, matched
// case-insensitively with '-' read as '_' (so "X-Auth-Token" and "set-cookie" match).
// Like Sentry's data scrubbers, a substring matches anywhere in the key: "auth" also
// filters "oauth_state" and "author".
var DefaultSensitiveKeys = []string{
	"password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "auth",
	"authorization", "cookie", "set_cookie", "session", "csrf", "xsrf", "private_key",
	"privatekey", "credentials", "credit_card", "card_number",
}

// ScrubOptions configure the Scrubber. The zero value scrubs with the defaults and drops
// client IP addresses.
type ScrubOptions struct {
	// Disabled turns key and card scrubbing off (client IPs are still dropped unless
	// KeepClientIP).
	Disabled bool
	// ExtraKeys are more key substrings to filter, on top of DefaultSensitiveKeys.
	ExtraKeys []string
	// KeepClientIP keeps user.ip_address (and the X-Forwarded-For / X-Real-IP headers).
	KeepClientIP bool
	// Rules, when set, are the ingest scrubbing rules of logs and spans (the scrub
	// section): every string value then also goes through them, so that their secret
	// texts, configured keys and regular expressions apply to error events too. Without
	// them, only card numbers are looked for in strings.
	Rules *scrub.Scrubber
}

// Scrubber removes secrets from events before they are stored, like Sentry's server-side
// data scrubbers: the values of sensitive keys (DefaultSensitiveKeys and ExtraKeys) in
// extra, contexts, tags, request headers, cookies, query string and body, breadcrumb data
// and frame variables become "[Filtered]", and numbers that look like payment card numbers
// (13 to 19 digits, spaces or dashes allowed, passing the Luhn check) are replaced in
// every string value, messages and exception values included. Safe for concurrent use.
type Scrubber struct {
	keys         []string
	disabled     bool
	keepClientIP bool
	rules        *scrub.Scrubber
}

// NewScrubber returns a Scrubber for opts.
func NewScrubber(opts ScrubOptions) *Scrubber {
	s := &Scrubber{disabled: opts.Disabled, keepClientIP: opts.KeepClientIP, rules: opts.Rules}
	for _, k := range append(append([]string{}, DefaultSensitiveKeys...), opts.ExtraKeys...) {
		if k = normKey(k); k != "" {
			s.keys = append(s.keys, k)
		}
	}
	return s
}

func normKey(k string) string {
	// Most keys are already lower case without dashes or spaces: then k itself, without
	// the allocations of the functions below (Sensitive runs for every key of an event).
	plain := true
	for i := 0; i < len(k) && plain; i++ {
		c := k[i]
		plain = c < utf8.RuneSelf && !('A' <= c && c <= 'Z') && c != '-' && c > ' '
	}
	if plain {
		return k
	}
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "-", "_")
}

// Sensitive reports whether the value of key is filtered.
func (s *Scrubber) Sensitive(key string) bool {
	k := normKey(key)
	for _, p := range s.keys {
		if strings.Contains(k, p) {
			return true
		}
	}
	return false
}

// text scrubs a string value found under key ("" when none).
func (s *Scrubber) text(key, v string) string {
	if s.rules != nil {
		return s.rules.String("errors", key, v)
	}
	v, _ = scrub.Cards(v)
	return v
}

// Scrub filters ev in place. It owns ev's maps and slices while it runs.
func (s *Scrubber) Scrub(ev *Event) {
	if !s.keepClientIP && ev.User != nil {
		ev.User.IPAddress = ""
	}
	if !s.keepClientIP && ev.Request != nil {
		for k := range ev.Request.Headers {
			switch strings.ToLower(k) {
			case "x-forwarded-for", "x-real-ip", "forwarded", "cf-connecting-ip", "true-client-ip":
				delete(ev.Request.Headers, k)
			}
		}
	}
	if s.disabled {
		return
	}
	ev.Message = s.text("", ev.Message)
	for i := range ev.Exceptions {
		ex := &ev.Exceptions[i]
		ex.Value = s.text("", ex.Value)
		ex.RawStacktrace = s.text("", ex.RawStacktrace)
		for j := range ex.Frames {
			s.scrubMap(ex.Frames[j].Vars)
		}
	}
	for k, v := range ev.Tags {
		if s.Sensitive(k) {
			ev.Tags[k] = Filtered
		} else {
			ev.Tags[k] = s.text(k, v)
		}
	}
	s.scrubMap(ev.Extra)
	s.scrubMap(ev.Contexts)
	for i := range ev.Breadcrumbs {
		b := &ev.Breadcrumbs[i]
		b.Message = s.text("", b.Message)
		s.scrubMap(b.Data)
	}
	if r := ev.Request; r != nil {
		s.scrubStrings(r.Headers)
		s.scrubStrings(r.Cookies)
		r.QueryString = s.scrubQuery(r.QueryString)
		if before, query, ok := strings.Cut(r.URL, "?"); ok {
			r.URL = before + "?" + s.scrubQuery(query)
		}
		r.Data = s.scrubValue("", r.Data)
	}
	if u := ev.User; u != nil {
		u.ID, u.Username, u.Email = s.text("id", u.ID), s.text("username", u.Username), s.text("email", u.Email)
	}
}

func (s *Scrubber) scrubStrings(m map[string]string) {
	for k, v := range m {
		if s.Sensitive(k) {
			m[k] = Filtered
		} else {
			m[k] = s.text(k, v)
		}
	}
}

func (s *Scrubber) scrubMap(m map[string]any) {
	for k, v := range m {
		// scrubValue returns v itself or a string: the entry is written only when that
		// string differs from v (a map assignment per key was most of this loop).
		if ns, ok := s.scrubValue(k, v).(string); ok {
			if vs, ok := v.(string); !ok || vs != ns {
				m[k] = ns
			}
		}
	}
}

// scrubValue filters one JSON-compatible value found under key, recursively.
func (s *Scrubber) scrubValue(key string, v any) any {
	if key != "" && s.Sensitive(key) && v != nil {
		return Filtered
	}
	switch x := v.(type) {
	case string:
		return s.text(key, x)
	case map[string]any:
		s.scrubMap(x)
	case map[string]string:
		s.scrubStrings(x)
	case []any:
		for i := range x {
			x[i] = s.scrubValue("", x[i])
		}
	case []string:
		for i := range x {
			x[i] = s.text(key, x[i])
		}
	}
	return v
}

// scrubQuery filters the values of sensitive parameters of a query string, keeping its
// order and the encoding of the rest. Parameters are compared decoded.
func (s *Scrubber) scrubQuery(q string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && s.Sensitive(name) {
			parts[i] = k + "=" + url.QueryEscape(Filtered)
			continue
		}
		parts[i] = s.text("", p)
	}
	return strings.Join(parts, "&")
}
