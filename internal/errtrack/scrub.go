package errtrack

import (
	"net/url"
	"strings"
)

// Filtered replaces a scrubbed value, as in Sentry.
const Filtered = "[Filtered]"

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
}

// NewScrubber returns a Scrubber for opts.
func NewScrubber(opts ScrubOptions) *Scrubber {
	s := &Scrubber{disabled: opts.Disabled, keepClientIP: opts.KeepClientIP}
	for _, k := range append(append([]string{}, DefaultSensitiveKeys...), opts.ExtraKeys...) {
		if k = normKey(k); k != "" {
			s.keys = append(s.keys, k)
		}
	}
	return s
}

func normKey(k string) string {
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
	ev.Message = scrubCards(ev.Message)
	for i := range ev.Exceptions {
		ex := &ev.Exceptions[i]
		ex.Value = scrubCards(ex.Value)
		ex.RawStacktrace = scrubCards(ex.RawStacktrace)
		for j := range ex.Frames {
			s.scrubMap(ex.Frames[j].Vars)
		}
	}
	for k, v := range ev.Tags {
		if s.Sensitive(k) {
			ev.Tags[k] = Filtered
		} else {
			ev.Tags[k] = scrubCards(v)
		}
	}
	s.scrubMap(ev.Extra)
	s.scrubMap(ev.Contexts)
	for i := range ev.Breadcrumbs {
		b := &ev.Breadcrumbs[i]
		b.Message = scrubCards(b.Message)
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
		u.ID, u.Username, u.Email = scrubCards(u.ID), scrubCards(u.Username), scrubCards(u.Email)
	}
}

func (s *Scrubber) scrubStrings(m map[string]string) {
	for k, v := range m {
		if s.Sensitive(k) {
			m[k] = Filtered
		} else {
			m[k] = scrubCards(v)
		}
	}
}

func (s *Scrubber) scrubMap(m map[string]any) {
	for k, v := range m {
		m[k] = s.scrubValue(k, v)
	}
}

// scrubValue filters one JSON-compatible value found under key, recursively.
func (s *Scrubber) scrubValue(key string, v any) any {
	if key != "" && s.Sensitive(key) && v != nil {
		return Filtered
	}
	switch x := v.(type) {
	case string:
		return scrubCards(x)
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
			x[i] = scrubCards(x[i])
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
		parts[i] = scrubCards(p)
	}
	return strings.Join(parts, "&")
}

// scrubCards replaces every run of 13 to 19 digits (single spaces or dashes between them
// allowed) that passes the Luhn check with "[Filtered]".
func scrubCards(s string) string {
	if len(s) < 13 {
		return s
	}
	// Fast path: fewer than 13 digits in all cannot hold a card number.
	digits := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			digits++
		}
	}
	if digits < 13 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || (i > 0 && isDigit(s[i-1])) {
			i++
			continue
		}
		end, n := cardRun(s, i)
		if n >= 13 && n <= 19 && luhn(s[i:end]) {
			b.WriteString(s[last:i])
			b.WriteString(Filtered)
			last = end
		}
		i = max(end, i+1)
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// cardRun returns the end of the run of digits starting at i, with single spaces or
// dashes between digits, and how many digits it holds.
func cardRun(s string, i int) (end, n int) {
	end = i
	for j := i; j < len(s); j++ {
		c := s[j]
		if isDigit(c) {
			n++
			end = j + 1
			continue
		}
		if (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) && isDigit(s[j-1]) {
			continue
		}
		break
	}
	return end, n
}

// luhn checks the Luhn checksum of the digits in s (other characters skipped).
func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
