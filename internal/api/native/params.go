package native

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/internal/store"
)

// Times must fit in int64 nanoseconds since the Unix epoch, which is how the stores keep
// them; outside that range time.Time.UnixNano is undefined.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// params reads the query parameters of one request. Every getter returns an *apiError that
// names the parameter and the offending value, so handlers can return it as is.
//
// An empty value is the same as leaving the parameter out: forms and UIs often send
// `service=&q=`, and that must not filter on the empty string.
type params struct {
	values url.Values
}

// requestParams parses the query string of r, which may only hold the known parameters.
// A malformed query string is an error rather than silently losing the pairs that do not
// parse, as r.URL.Query() would.
func requestParams(r *http.Request, known ...string) (params, *apiError) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return params{}, badData(fmt.Errorf("malformed query string: %w", err))
	}
	p := params{values}
	return p, p.checkKnown(known...)
}

// checkKnown rejects parameters the route does not take: a typo such as `serivce=api` would
// otherwise silently return unfiltered results.
func (p params) checkKnown(known ...string) *apiError {
	var unknown []string
	for name := range p.values {
		if !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	takes := "no parameters"
	if len(known) > 0 {
		takes = strings.Join(known, ", ")
	}
	return badData(fmt.Errorf("unknown parameter %q (this endpoint takes %s)", unknown[0], takes))
}

// one returns the single value of a parameter, "" when absent or empty.
func (p params) one(name string) (string, *apiError) {
	var got []string
	for _, v := range p.values[name] {
		if v != "" {
			got = append(got, v)
		}
	}
	switch len(got) {
	case 0:
		return "", nil
	case 1:
		return got[0], nil
	default:
		return "", badParam(name, fmt.Errorf("given %d times (%q), want at most one value", len(got), got))
	}
}

// has reports whether the parameter has a non-empty value.
func (p params) has(name string) bool {
	return len(p.many(name)) > 0
}

// many returns the non-empty values of a repeatable parameter.
func (p params) many(name string) []string {
	var got []string
	for _, v := range p.values[name] {
		if v != "" {
			got = append(got, v)
		}
	}
	return got
}

// timeRange reads start and end. Defaults: end is now, start is one hour before end.
func (p params) timeRange(now time.Time) (start, end time.Time, _ *apiError) {
	end = now
	if s, aerr := p.one("end"); aerr != nil {
		return start, end, aerr
	} else if s != "" {
		t, err := parseTime(s, now)
		if err != nil {
			return start, end, badParam("end", err)
		}
		end = t
	}
	start = end.Add(-time.Hour)
	if s, aerr := p.one("start"); aerr != nil {
		return start, end, aerr
	} else if s != "" {
		t, err := parseTime(s, now)
		if err != nil {
			return start, end, badParam("start", err)
		}
		start = t
	}
	if !start.Before(end) {
		if !p.has("end") { // blame the parameter the client gave
			return start, end, badParam("start", fmt.Errorf("%s is not before end %s (now)",
				start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano)))
		}
		return start, end, badParam("end", fmt.Errorf("%s is not after start %s",
			end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano)))
	}
	return start, end, nil
}

// duration reads an optional non-negative duration; 0 when absent.
func (p params) duration(name string) (time.Duration, *apiError) {
	s, aerr := p.one(name)
	if aerr != nil || s == "" {
		return 0, aerr
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, badParam(name, err)
	}
	return d, nil
}

// limit reads a positive integer no larger than maxLimit; def when absent.
func (p params) limit(def, maxLimit int) (int, *apiError) {
	s, aerr := p.one("limit")
	if aerr != nil || s == "" {
		return def, aerr
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badParam("limit", fmt.Errorf("%q is not an integer", s))
	}
	if n < 1 || n > maxLimit {
		return 0, badParam("limit", fmt.Errorf("%d is out of range, want 1 to %d", n, maxLimit))
	}
	return n, nil
}

// attrs reads the repeatable attr parameter.
func (p params) attrs() ([]store.AttrFilter, *apiError) {
	var out []store.AttrFilter
	for _, s := range p.many("attr") {
		f, err := parseAttrFilter(s)
		if err != nil {
			return nil, badParam("attr", err)
		}
		out = append(out, f)
	}
	return out, nil
}

// bool reads an optional true/false parameter.
func (p params) bool(name string) (bool, *apiError) {
	s, aerr := p.one(name)
	if aerr != nil || s == "" {
		return false, aerr
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, badParam(name, fmt.Errorf("%q is not true or false", s))
	}
	return b, nil
}

// parseTime accepts RFC3339 (with optional fraction), Unix seconds with an optional
// fraction (as Prometheus does), and times relative to now: "now", "now-1h", "now+5m".
func parseTime(s string, now time.Time) (time.Time, error) {
	t, err := parseTimeUnchecked(s, now)
	if err != nil {
		return time.Time{}, err
	}
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, fmt.Errorf("%q is out of range, want a time from %s to %s",
			s, minTime.Format(time.RFC3339), maxTime.Format(time.RFC3339))
	}
	return t.UTC(), nil
}

func parseTimeUnchecked(s string, now time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "now"); ok {
		if rest == "" {
			return now, nil
		}
		sign := rest[0]
		if sign != '-' && sign != '+' {
			return time.Time{}, fmt.Errorf("cannot parse %q as a time: want now, now-<duration> or now+<duration>", s)
		}
		d, err := parseDuration(rest[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("cannot parse %q as a time: %w", s, err)
		}
		if sign == '-' {
			d = -d
		}
		return addClamped(now, d), nil
	}
	if t, ok := parseUnixSeconds(s); ok {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as a time: want RFC3339 (2006-01-02T15:04:05Z), Unix seconds (1700000000.5) or now-<duration>", s)
}

// addClamped adds d to t, keeping the result inside [minTime, maxTime] instead of
// overflowing, so that "now-1000y" is an out-of-range error rather than a wrapped time.
func addClamped(t time.Time, d time.Duration) time.Time {
	if d < 0 && t.Sub(minTime) < -d {
		return minTime.Add(-1)
	}
	if d > 0 && maxTime.Sub(t) < d {
		return maxTime.Add(1)
	}
	return t.Add(d)
}

// parseUnixSeconds parses decimal Unix seconds such as 1700000000 or 1700000000.123456789
// exactly (a float64 would lose the nanoseconds), falling back to strconv.ParseFloat for
// forms like 1.7e9.
func parseUnixSeconds(s string) (time.Time, bool) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if isDigits(intPart) && len(intPart) <= 12 && (!hasFrac || (isDigits(frac) && len(frac) <= 9)) {
		sec, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		var nsec int64
		if hasFrac {
			padded := frac + strings.Repeat("0", 9-len(frac))
			nsec, err = strconv.ParseInt(padded, 10, 64)
			if err != nil {
				return time.Time{}, false
			}
		}
		return time.Unix(sec, nsec), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false
	}
	// Outside this window the conversion to int64 below is not defined; parseTime rejects
	// it as out of range anyway.
	if f < -1e12 || f > 1e12 {
		return time.Unix(int64(math.Copysign(1e12, f)), 0), true
	}
	sec, fr := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(fr*1e9))), true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseDuration accepts Go durations ("1.5s", "100ms", "1h30m"), Prometheus durations
// ("1d", "2w", "1d12h") and bare seconds ("90", "0.5") as Prometheus' step does. Negative
// durations are rejected.
func parseDuration(s string) (time.Duration, error) {
	d, goErr := time.ParseDuration(s)
	if goErr == nil {
		if d < 0 {
			return 0, fmt.Errorf("duration %q is negative", s)
		}
		return d, nil
	}
	pd, promErr := model.ParseDuration(s)
	if promErr == nil {
		return time.Duration(pd), nil
	}
	if promErr.Error() == "duration out of range" { // "1000y": valid form, too long
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) {
		if f < 0 {
			return 0, fmt.Errorf("duration %q is negative", s)
		}
		ns := f * float64(time.Second)
		if ns >= math.MaxInt64 {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		return time.Duration(ns), nil
	}
	// The Go error names the value ("time: invalid duration \"abc\""), which is what the
	// caller shows.
	return 0, goErr
}

// parseAttrFilter parses key=value, key!=value, key=~regex and key!~regex. The key ends at
// the first operator, so values may contain any character, including '='.
func parseAttrFilter(s string) (store.AttrFilter, error) {
	for i := 0; i < len(s); i++ {
		var op store.MatchOp
		var opLen int
		switch {
		case strings.HasPrefix(s[i:], "!="):
			op, opLen = store.MatchNotEqual, 2
		case strings.HasPrefix(s[i:], "!~"):
			op, opLen = store.MatchNotRegexp, 2
		case strings.HasPrefix(s[i:], "=~"):
			op, opLen = store.MatchRegexp, 2
		case s[i] == '=':
			op, opLen = store.MatchEqual, 1
		default:
			continue
		}
		key := strings.TrimSpace(s[:i])
		if key == "" {
			return store.AttrFilter{}, fmt.Errorf("%q has an empty key, want key=value, key!=value, key=~regex or key!~regex", s)
		}
		if strings.HasSuffix(key, "!") {
			// "key! =x" is almost surely a mistyped "key!=x"; reading it as key "key!" would
			// also not survive printing the filter back.
			return store.AttrFilter{}, fmt.Errorf("%q: key ends with '!'; for not-equal write key!=value without a space", s)
		}
		value := s[i+opLen:]
		if op == store.MatchRegexp || op == store.MatchNotRegexp {
			// Anchored like Prometheus matchers, which is how the stores apply it.
			if _, err := regexp.Compile("^(?:" + value + ")$"); err != nil {
				return store.AttrFilter{}, fmt.Errorf("%q: invalid regular expression: %w", s, err)
			}
		}
		return store.AttrFilter{Key: key, Op: op, Value: value}, nil
	}
	return store.AttrFilter{}, fmt.Errorf("%q has no operator, want key=value, key!=value, key=~regex or key!~regex", s)
}

// severityNames maps OTLP short names (and a few common aliases) to the lowest severity
// number of their range, e.g. "warn" to 13 (WARN) and "warn3" to 15.
var severityNames = func() map[string]int32 {
	m := map[string]int32{}
	for i, name := range []string{"trace", "debug", "info", "warn", "error", "fatal"} {
		base := int32(1 + 4*i)
		m[name] = base
		for n := int32(2); n <= 4; n++ {
			m[name+strconv.Itoa(int(n))] = base + n - 1
		}
	}
	m["warning"] = m["warn"]
	m["err"] = m["error"]
	m["critical"] = m["fatal"]
	return m
}()

var errSeverity = errors.New("want a name (trace, debug, info, warn, error, fatal, optionally with 2-4 as in warn2) or a number 1 to 24")

// parseSeverity parses a minimum severity: an OTLP severity name, case-insensitive, or a
// severity number 1 to 24.
func parseSeverity(s string) (int32, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 24 {
			return 0, fmt.Errorf("severity number %d is out of range: %w", n, errSeverity)
		}
		return int32(n), nil
	}
	if n, ok := severityNames[strings.ToLower(s)]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("unknown severity %q: %w", s, errSeverity)
}

// parseTraceID parses 32 hex digits (either case). The all-zero id is invalid in OTLP and
// W3C trace context, and the store treats it as "no filter", so it is rejected.
func parseTraceID(s string) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	if err := decodeHexID(s, id[:]); err != nil {
		return id, err
	}
	if id.IsEmpty() {
		return id, fmt.Errorf("trace id %q is all zeros", s)
	}
	return id, nil
}

// parseSpanID parses 16 hex digits; see parseTraceID.
func parseSpanID(s string) (pcommon.SpanID, error) {
	var id pcommon.SpanID
	if err := decodeHexID(s, id[:]); err != nil {
		return id, err
	}
	if id.IsEmpty() {
		return id, fmt.Errorf("span id %q is all zeros", s)
	}
	return id, nil
}

func decodeHexID(s string, dst []byte) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%q is not %d hex digits", s, 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%q is not %d hex digits", s, 2*len(dst))
	}
	return nil
}
