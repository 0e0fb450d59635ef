package errtrack

import (
	"regexp"
	"strings"
)

// maskPatterns find the variable parts of a message, one alternative per kind. Go's
// regexp takes the first alternative that matches at a position, so the order matters:
// an e-mail before its digits, a UUID before hex, a date before a number. \b is an ASCII
// word boundary.
//
// The e-mail alternative is only in the pattern used for messages containing an '@': in
// "1.1.1.1..." every number had to wait for it to fail at the end of the text, which made
// masking quadratic (4 KiB: ~30 ms with it, ~1-1.7 ms without; `go test -run '^$'
// -bench BenchmarkMaskDottedNumbers -benchtime 10x -count 2 ./internal/errtrack/`, load
// 0.8 on 2 cores). Bounding its repetitions instead slowed every other case down.
var (
	maskPattern     = regexp.MustCompile(`(?i)` + maskEmail + `|` + maskRest)
	maskPatternNoAt = regexp.MustCompile(`(?i)` + maskRest)
	maskNames       = maskPattern.SubexpNames()
	maskNamesNoAt   = maskPatternNoAt.SubexpNames()
)

const maskEmail = `(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)`

const maskRest = `(?P<url>\b[a-z][a-z0-9+.-]*://[^\s'"<>]+)` +
	`|(?P<uuid>\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b)` +
	`|(?P<date>\b\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?\b)` +
	`|(?P<time>\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b)` +
	`|(?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b|\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|\b(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?)` +
	`|(?P<hex>\b0x[0-9a-f]+\b)` +
	`|(?P<quoted>'[^'\n]*'|"[^"\n]*"|` + "`[^`\\n]*`" + `)` +
	`|(?P<float>\b\d+\.\d+(?:e[-+]?\d+)?\b)` +
	`|(?P<word>\b\w*\d\w*\b)`

// MaskMessage replaces the variable parts of a message with placeholders, so that
// messages that differ only in them group together: e-mail addresses (<email>), URLs
// (<url>), UUIDs (<uuid>), dates and times (<date>), IPv4 and IPv6 addresses (<ip>), 0x
// numbers (<hex>), quoted values ('...', "...", `...`: <quoted>), decimal numbers
// (<float>, <int>), and words that contain a digit: long hex runs (<hex>) and ids such as
// user_1234 or a1b2c3 (<id>). The result contains no ASCII digit. Masking a masked
// message changes nothing.
func MaskMessage(s string) string {
	if !strings.ContainsAny(s, "0123456789@'\"`:/") {
		return s // nothing to mask (the usual message without numbers or quotes)
	}
	re, names := maskPatternNoAt, maskNamesNoAt
	if strings.IndexByte(s, '@') >= 0 {
		re, names = maskPattern, maskNames
	}
	locs := re.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, loc := range locs {
		start, end := loc[0], loc[1]
		kind := ""
		for g := 1; g < len(names); g++ {
			if loc[2*g] >= 0 {
				kind = names[g]
				break
			}
		}
		text := s[start:end]
		repl := maskReplacement(kind, text)
		b.WriteString(s[last:start])
		b.WriteString(repl)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

func maskReplacement(kind, text string) string {
	switch kind {
	case "ip":
		if !hasDigit(text) {
			return text // "dead::beef" without digits is more likely a name than an address
		}
		return "<ip>"
	case "time":
		return "<date>"
	case "word":
		if allDigits(text) {
			return "<int>"
		}
		if len(text) >= 8 && allHex(text) {
			return "<hex>"
		}
		return "<id>"
	}
	return "<" + kind + ">"
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return s != ""
}
