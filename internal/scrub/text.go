package scrub

import (
	"regexp"
	"strings"
)

// scanText applies the default text rules to s: "key=value" and "key: value" pairs whose
// key names a secret, bearer and basic credentials, URL passwords and payment card numbers.
func (sc *Scrubber) scanText(s string, c *counter) string {
	if len(s) < 6 {
		return s
	}
	digits, seps, at, bearer := 0, false, false, false
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= '0' && b <= '9':
			digits++
		case b == '=' || b == ':':
			seps = true
		case b == '@':
			at = true
		case b == ' ' && i >= 5 && !bearer:
			bearer = hasWordAt(s, i-6, "bearer") || hasWordAt(s, i-5, "basic")
		}
	}
	if digits < 13 && !seps && !bearer {
		return s
	}
	if seps {
		s = sc.keyValues(s, c)
	}
	if bearer {
		s = bearerTokens(s, c)
	}
	if seps && at {
		s = urlPasswords(s, c)
	}
	if digits >= 13 {
		var n int
		if s, n = Cards(s); n > 0 {
			for ; n > 0; n-- {
				c.add(RuleCardNumber)
			}
		}
	}
	return s
}

func isKeyByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.'
}

// authSchemes are the first words of Authorization values that a credential follows.
var authSchemes = []string{"bearer", "basic", "token", "digest", "negotiate", "apikey"}

// keyValues replaces the value of every "key=value", "key: value", `"key": "value"` and
// `key='value'` whose key names a secret (SecretKey). A quoted value is replaced inside its
// quotes; a bare one runs to the next space or one of ,;&)]}. An authorization scheme
// ("Bearer x") is taken with its credential.
func (sc *Scrubber) keyValues(s string, c *counter) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '=' && s[i] != ':' {
			continue
		}
		j := i
		for j > last && s[j-1] == ' ' {
			j--
		}
		if j > last && (s[j-1] == '"' || s[j-1] == '\'') {
			j--
		}
		k := j
		for k > last && isKeyByte(s[k-1]) {
			k--
		}
		if k == j || !sc.secretKey(s[k:j]) {
			continue
		}
		start, end := valueSpan(s, i+1)
		if end <= start || strings.HasPrefix(s[start:], Filtered) || strings.HasPrefix(s[start:], "[REDACTED]") {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Filtered)
		last = end
		c.add(RuleSecretKeyValue)
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// valueSpan returns where the value that starts at or after i (past spaces) begins and
// ends, without its quotes.
func valueSpan(s string, i int) (start, end int) {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) {
		return i, i
	}
	// A value quoted inside a JSON string: password=\"x y\".
	if strings.HasPrefix(s[i:], `\"`) {
		if j := strings.Index(s[i+2:], `\"`); j >= 0 {
			return i + 2, i + 2 + j
		}
		return i, i
	}
	if q := s[i]; q == '"' || q == '\'' {
		for j := i + 1; j < len(s); j++ {
			if s[j] == '\\' && q == '"' {
				j++
				continue
			}
			if s[j] == q {
				return i + 1, j
			}
		}
		// No closing quote: a value cut short (password="abc) runs as a bare one. The
		// quote may also end the JSON string the pair sits in ({"k":"pass="}), which must
		// stay JSON.
		return i + 1, bareEnd(s, i+1)
	}
	end = bareEnd(s, i)
	word := strings.ToLower(s[i:end])
	for _, scheme := range authSchemes {
		if word == scheme && end+1 < len(s) && s[end] == ' ' {
			return i, bareEnd(s, end+1)
		}
	}
	return i, end
}

func bareEnd(s string, i int) int {
	for j := i; j < len(s); j++ {
		switch s[j] {
		case ' ', '\t', '\n', '\r', ',', ';', '&', ')', ']', '}', '"', '\'', '\\':
			return j
		}
	}
	return len(s)
}

// bearerTokens replaces the credential after "Bearer " or "Basic " (any case of the first
// letter, at the start of a word), when it looks like one: 8 or more token characters.
func bearerTokens(s string, c *counter) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		var n int
		switch {
		case hasWordAt(s, i, "bearer "):
			n = len("bearer ")
		case hasWordAt(s, i, "basic "):
			n = len("basic ")
		default:
			continue
		}
		start := i + n
		end := start
		for end < len(s) && isTokenByte(s[end]) {
			end++
		}
		if end-start < 8 {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Filtered)
		last = end
		c.add(RuleBearer)
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// hasWordAt reports whether s has word (lower case) at i, case-insensitively, at the start
// of a word.
func hasWordAt(s string, i int, word string) bool {
	if i < 0 || i+len(word) > len(s) || i > 0 && isKeyByte(s[i-1]) {
		return false
	}
	return strings.EqualFold(s[i:i+len(word)], word)
}

// isTokenByte: the characters of RFC 6750 tokens and base64.
func isTokenByte(b byte) bool {
	return isKeyByte(b) || b == '~' || b == '+' || b == '/' || b == '='
}

// urlUserinfo matches the scheme and userinfo of URLs inside any text. The userinfo runs
// to the last '@' before the host's end, so a password with a raw '@' is caught whole; it
// never crosses quotes, backslashes or brackets, so that in JSON (a log body, a run
// record) a URL and a later "a@b" in another string are not taken for one userinfo.
var urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#\s"'\\<>{}\[\]|^` + "`" + `]*)@`)

// urlPasswords replaces the password of user:password@ in every URL of s.
func urlPasswords(s string, c *counter) string {
	s, n := URLCredentials(s, Filtered, false)
	for ; n > 0; n-- {
		c.add(RuleURLPassword)
	}
	return s
}

// URLCredentials replaces with marker the password of user:password@ in every URL of s,
// and, when httpUser, a lone user name of an http(s) URL too, which is a token as often as
// not (https://ghp_xxx@github.com/o/r). It says how many it replaced.
func URLCredentials(s, marker string, httpUser bool) (string, int) {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s, 0 // the common case, without the regexp
	}
	n := 0
	s = urlUserinfo.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlUserinfo.FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		user, pass, hasPass := strings.Cut(info, ":")
		switch {
		case info == "" || redacted(pass) || redacted(info):
			return m
		case hasPass && pass != "":
			n++
			return scheme + user + ":" + marker + "@"
		case !hasPass && httpUser && (strings.EqualFold(scheme, "http://") || strings.EqualFold(scheme, "https://")):
			n++
			return scheme + marker + "@"
		}
		return m
	})
	return s, n
}

// Cards replaces every run of 13 to 19 digits (single spaces or dashes between them
// allowed) that passes the Luhn check with Filtered, and says how many it replaced.
// Digits inside a longer unbroken run (an id, a hash) are not a card number.
func Cards(s string) (string, int) {
	if len(s) < 13 {
		return s, 0
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			digits++
		}
	}
	if digits < 13 {
		return s, 0
	}
	var b strings.Builder
	last, n := 0, 0
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || (i > 0 && isDigit(s[i-1])) {
			i++
			continue
		}
		end, count := cardRun(s, i)
		for _, w := range cardWindows(s[i:end], count) {
			b.WriteString(s[last : i+w[0]])
			b.WriteString(Filtered)
			last = i + w[1]
			n++
		}
		i = max(end, i+1)
	}
	if n == 0 {
		return s, 0
	}
	b.WriteString(s[last:])
	return b.String(), n
}

// cardWindows returns the spans of run (digits with single separators) that are card
// numbers: the whole run when it has 13 to 19 digits and passes the Luhn check; otherwise
// consecutive whole groups of digits that do, so that a number written next to another
// ("1 4111 1111 1111 1111", two cards in a row) is found.
func cardWindows(run string, count int) [][2]int {
	if count < 13 {
		return nil
	}
	if count <= 19 && cardIIN(run, count) && luhn(run) {
		return [][2]int{{0, len(run)}}
	}
	var groups [][2]int // start, end of each group of digits
	start := 0
	for j := 0; j <= len(run); j++ {
		if j == len(run) || !isDigit(run[j]) {
			groups = append(groups, [2]int{start, j})
			start = j + 1
		}
	}
	if len(groups) == 1 {
		return nil // an unbroken run: an id or a hash, not a card
	}
	var out [][2]int
	for g := 0; g < len(groups); g++ {
		digits := 0
		for h := g; h < len(groups); h++ {
			digits += groups[h][1] - groups[h][0]
			if digits > 19 {
				break
			}
			w := [2]int{groups[g][0], groups[h][1]}
			if digits >= 13 && cardIIN(run[w[0]:w[1]], digits) && luhn(run[w[0]:w[1]]) {
				out = append(out, w)
				g = h
				break
			}
		}
	}
	return out
}

// cardIIN reports whether a run of n digits starts and is as long as a payment card
// number can: 2 and 5 (Mastercard) 16; 3 (Amex, Diners) 14-16; 4 (Visa) 13, 16 or 19;
// 6 (Discover, UnionPay) 16-19. Millisecond and nanosecond timestamps (13 and 19 digits,
// starting with 1) are not cards, whatever their checksum.
func cardIIN(run string, n int) bool {
	first := byte(0)
	for i := 0; i < len(run); i++ {
		if isDigit(run[i]) {
			first = run[i]
			break
		}
	}
	switch first {
	case '2', '5':
		return n == 16
	case '3':
		return n >= 14 && n <= 16
	case '4':
		return n == 13 || n == 16 || n == 19
	case '6':
		return n >= 16 && n <= 19
	}
	return false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

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
