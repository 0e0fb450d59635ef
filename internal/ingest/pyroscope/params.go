package pyroscope

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/loupe-dev/loupe/internal/profile/pprofconv"
)

// appName is a parsed name parameter: "app.cpu{env=prod,region=x}".
type appName struct {
	service string
	suffix  string            // "cpu", "alloc_space", ... or ""
	labels  map[string]string // sanitized names; service_name included
}

// parseName reads Pyroscope's application name: the service name, an optional type
// suffix, and labels in braces. Label names are made Prometheus names as pprof labels are
// (pyroscope-go sends otel.scope.name); names starting "__" are dropped (its
// __session_id__), as Pyroscope does.
func parseName(s string) (appName, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return appName{}, fmt.Errorf("missing; want app_name or app_name{label=value,...}")
	}
	base, rest, hasLabels := strings.Cut(s, "{")
	base = strings.TrimSpace(base)
	if base == "" {
		return appName{}, fmt.Errorf("%.128q has no application name before '{'", s)
	}
	for _, r := range base {
		if unicode.IsControl(r) || r == '}' || r == '=' || r == ',' {
			return appName{}, fmt.Errorf("application name %.128q has the character %q", base, r)
		}
	}
	n := appName{labels: map[string]string{}}
	n.service, n.suffix = pprofconv.SplitAppName(base)
	if hasLabels {
		body, ok := strings.CutSuffix(strings.TrimSpace(rest), "}")
		if !ok || strings.ContainsAny(body, "{}") {
			return appName{}, fmt.Errorf("%.128q: labels must be one {...} at the end", s)
		}
		for _, kv := range strings.Split(body, ",") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" {
				return appName{}, fmt.Errorf("%.128q: label %.64q is not name=value", s, kv)
			}
			if name := pprofconv.SanitizeLabelName(k); name != "" && name != pprofconv.ServiceLabel {
				n.labels[name] = v
			} else if name == pprofconv.ServiceLabel && v != "" {
				n.service = v // an explicit service_name wins, as in Pyroscope
			}
		}
	}
	n.labels[pprofconv.ServiceLabel] = n.service
	return n, nil
}

// parseTime reads from/until as Pyroscope does: unix time in seconds, milliseconds,
// microseconds or nanoseconds (told apart by size), RFC 3339, "now" or "now-<duration>".
// Empty is now.
func parseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "now":
		return now, nil
	case strings.HasPrefix(s, "now-"):
		d, err := time.ParseDuration(s[len("now-"):])
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("%.64q: want now-<duration> like now-1h", s)
		}
		return now.Add(-d), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n < 0:
			return time.Time{}, fmt.Errorf("%d is before 1970", n)
		case n >= 1e17:
			return time.Unix(0, n), nil
		case n >= 1e14:
			return time.UnixMicro(n), nil
		case n >= 1e11:
			return time.UnixMilli(n), nil
		}
		return time.Unix(n, 0), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%.64q: want unix time (s, ms, µs or ns), RFC 3339, or now-<duration>", s)
}

// format is what the body holds.
type format int

const (
	formatAuto   format = iota // pprof when multipart or gzip, else folded
	formatPprof                // pprof, multipart (pyroscope-go) or raw
	formatFolded               // "a;b;c 12" lines (Pyroscope's folded and groups)
	formatLines                // one stack per line, value 1
)

// errUnsupportedFormat is a Pyroscope format Loupe does not read (415).
type errUnsupportedFormat string

func (e errUnsupportedFormat) Error() string {
	return fmt.Sprintf("format %q is not supported; send pprof, folded or lines", string(e))
}

func parseFormat(s string) (format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return formatAuto, nil
	case "pprof":
		return formatPprof, nil
	case "folded", "groups", "collapsed":
		return formatFolded, nil
	case "lines":
		return formatLines, nil
	case "trie", "tree", "jfr", "speedscope":
		return 0, errUnsupportedFormat(s)
	}
	return 0, fmt.Errorf("unknown %.32q; want pprof, folded or lines", s)
}
