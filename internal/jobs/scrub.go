package jobs

import (
	"regexp"
	"strings"
)

// Redacted replaces a secret in what Loupe records.
const Redacted = "[REDACTED]"

// urlUserinfo matches the scheme and userinfo of URLs inside any text. The userinfo runs
// to the last '@' before the host's end, so a password with a raw '@' is caught whole.
var urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#\s]*)@`)

// ScrubURLs removes credentials from every URL in s: the password of user:password@ becomes
// [REDACTED] (https://bob:[REDACTED]@host/x), and so does a lone user name in an http(s)
// URL, where it is a token as often as not (https://ghp_xxx@github.com/o/r).
func ScrubURLs(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s // the common case, without the regexp
	}
	return urlUserinfo.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlUserinfo.FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		switch user, _, hasPass := strings.Cut(info, ":"); {
		case info == "":
			return m
		case hasPass:
			return scheme + user + ":" + Redacted + "@"
		case strings.EqualFold(scheme, "http://") || strings.EqualFold(scheme, "https://"):
			return scheme + Redacted + "@"
		default:
			return m
		}
	})
}

// secretFlagWords are words that make an option or key name secret when the name, split
// at '-', '_' and '.', contains one of them: --password, --db-pass, --hf-token,
// db.password=..., --auth. Whole words only, so that --max-tokens and --author stay.
var secretFlagWords = map[string]bool{
	"PASS": true, "PASSWORD": true, "PASSWD": true, "PASSPHRASE": true, "PWD": true, "TOKEN": true,
	"SECRET": true, "APIKEY": true, "CREDENTIAL": true, "CREDENTIALS": true, "AUTH": true, "BEARER": true,
}

// secretKeyQualifiers make a following KEY word secret: --api-key, --access-key, --private-key.
var secretKeyQualifiers = map[string]bool{"API": true, "ACCESS": true, "PRIVATE": true, "SECRET": true, "SIGNING": true, "ENCRYPTION": true}

// isSecretFlag reports whether an option or key name ("--db-password", "db.password",
// "API_KEY") names a secret.
func isSecretFlag(name string) bool {
	words := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	for i, w := range words {
		if secretFlagWords[w] || w == "KEY" && i > 0 && secretKeyQualifiers[words[i-1]] {
			return true
		}
	}
	return false
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ScrubArgs returns argv as Loupe records it: credentials removed from URLs, the value of
// an option that names a secret redacted ("--password x", "--token=x", "db.password=x"), and
// the value of a secret-looking variable assignment ("env DB_PASS=x cmd"). The child still
// gets argv unchanged.
func ScrubArgs(argv []string) []string {
	out := make([]string, len(argv))
	redactNext := false
	for i, a := range argv {
		if redactNext {
			// Even a value that starts with '-': a password may.
			out[i], redactNext = Redacted, false
			continue
		}
		redactNext = false
		out[i] = ScrubURLs(a)
		key, _, hasValue := strings.Cut(a, "=")
		bare := strings.TrimLeft(key, "-")
		switch {
		case hasValue && (isSecretFlag(bare) || envName.MatchString(key) && IsSecretName(key)):
			out[i] = key + "=" + Redacted
		case !hasValue && strings.HasPrefix(a, "-") && isSecretFlag(bare):
			redactNext = true
		}
	}
	return out
}

// scrubEnv records an environment variable: a secret-looking name keeps its name with the
// value [REDACTED], any other value loses the credentials of the URLs in it.
func scrubEnv(name, value string) string {
	if IsSecretName(name) {
		return Redacted
	}
	return ScrubURLs(value)
}

// scrubTags removes URL credentials from tag values (--tag db=postgres://u:p@h/x).
func scrubTags(tags map[string]string) map[string]string {
	if tags == nil {
		return nil
	}
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = ScrubURLs(v)
	}
	return out
}
