package jobs

import (
	"regexp"
	"strings"

	"github.com/loupe-dev/loupe/internal/scrub"
)

// Redacted replaces a secret in what Loupe records.
const Redacted = scrub.Redacted

// ScrubURLs removes credentials from every URL in s: the password of user:password@ becomes
// [REDACTED] (https://bob:[REDACTED]@host/x), and so does a lone user name in an http(s)
// URL, where it is a token as often as not (https://ghp_xxx@github.com/o/r).
func ScrubURLs(s string) string {
	s, _ = scrub.URLCredentials(s, Redacted, true)
	return s
}

// flagWords are secret words in option names on top of scrub's: --db-pwd, --auth.
var flagWords = map[string]bool{"pwd": true, "auth": true}

// isSecretFlag reports whether an option or key name ("--db-password", "db.password",
// "API_KEY") names a secret: scrub's secret-key words, whole words only, so that
// --max-tokens and --author stay.
func isSecretFlag(name string) bool { return scrub.SecretKeyWith(name, flagWords) }

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
