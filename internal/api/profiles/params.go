package profiles

import (
	"encoding/hex"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/loupe-dev/loupe/internal/store"
)

// params reads one request's query parameters. Every getter returns an error naming the
// parameter and the value, answered as a 400. An empty value is the same as none, as in
// the rest of the native API (forms send `query=`).
type params struct{ values url.Values }

func newParams(rawQuery string, known ...string) (params, error) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return params{}, badRequest(fmt.Errorf("malformed query string: %w", err))
	}
	for name := range values {
		if !slices.Contains(known, name) {
			return params{}, badRequest(fmt.Errorf("unknown parameter %q (this endpoint takes %s)", name, strings.Join(known, ", ")))
		}
	}
	return params{values}, nil
}

func badParam(name string, err error) error {
	return badRequest(fmt.Errorf("parameter %q: %w", name, err))
}

// many returns the non-empty values of a repeatable parameter.
func (p params) many(name string) []string {
	var out []string
	for _, v := range p.values[name] {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// one returns a parameter given at most once, "" when absent.
func (p params) one(name string) (string, error) {
	vs := p.many(name)
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", badParam(name, fmt.Errorf("given %d times, want at most one value", len(vs)))
}

// profileType reads a required profile type ID.
func (p params) profileType(name string) (store.ProfileType, error) {
	s, err := p.one(name)
	if err != nil {
		return store.ProfileType{}, err
	}
	if s == "" {
		return store.ProfileType{}, badParam(name, fmt.Errorf("required: a profile type ID such as process_cpu:cpu:nanoseconds:cpu:nanoseconds (see /api/loupe/v1/profiles/types)"))
	}
	t, err := store.ParseProfileType(s)
	if err != nil {
		return t, badParam(name, err)
	}
	return t, nil
}

// optionalType reads an optional profile type ID; "" selects every type.
func (p params) optionalType(name string) (string, error) {
	s, err := p.one(name)
	if err != nil || s == "" {
		return "", err
	}
	if _, err := store.ParseProfileType(s); err != nil {
		return "", badParam(name, err)
	}
	return s, nil
}

// matchers reads a label selector.
func (p params) matchers(name string) ([]*labels.Matcher, error) {
	s, err := p.one(name)
	if err != nil {
		return nil, err
	}
	ms, err := ParseSelector(s)
	if err != nil {
		return nil, badParam(name, err)
	}
	return ms, nil
}

// ParseSelector parses a Prometheus-style selector on series labels, such as
// {service_name="api"}, with Prometheus' parser. "" and "{}" select every series; unlike
// in PromQL, a selector whose matchers all match the empty string ({env=~".*"}) is
// allowed, as Pyroscope allows it. A metric name (process_cpu{...}) is a __name__ matcher.
func ParseSelector(s string) ([]*labels.Matcher, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "{}" {
		return nil, nil
	}
	ms, err := parser.ParseMetricSelector(s)
	if err == nil {
		return ms, nil
	}
	// PromQL wants one matcher that does not match "". Parse again with one that does
	// not, and drop it: the selector's syntax is still checked by Prometheus' parser.
	const guard = "__loupe_guard__"
	if i := strings.IndexByte(s, '{'); i >= 0 && strings.HasSuffix(s, "}") {
		inner := strings.TrimSpace(s[i+1 : len(s)-1])
		if ms2, err2 := parser.ParseMetricSelector(s[:i] + "{" + guard + `="1"` + sep(inner) + inner + "}"); err2 == nil {
			return slices.DeleteFunc(ms2, func(m *labels.Matcher) bool { return m.Name == guard }), nil
		}
	}
	return nil, err
}

func sep(inner string) string {
	if inner == "" {
		return ""
	}
	return ","
}

// timeRange reads start and end (named by prefix: "" or "left_"/"right_"). Default: the
// hour before now.
func (p params) timeRange(prefix string, now time.Time) (start, end time.Time, _ error) {
	end = now
	if s, err := p.one(prefix + "end"); err != nil {
		return start, end, err
	} else if s != "" {
		if end, err = parseTime(s, now); err != nil {
			return start, end, badParam(prefix+"end", err)
		}
	}
	start = end.Add(-time.Hour)
	if s, err := p.one(prefix + "start"); err != nil {
		return start, end, err
	} else if s != "" {
		if start, err = parseTime(s, now); err != nil {
			return start, end, badParam(prefix+"start", err)
		}
	}
	if !start.Before(end) {
		return start, end, badParam(prefix+"end", fmt.Errorf("%s is not after start %s",
			end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano)))
	}
	return start, end, nil
}

// Times must fit in int64 nanoseconds since the epoch, as the store keeps them.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// parseTime accepts RFC 3339, Unix seconds (with a fraction), Unix milliseconds (an
// integer of 13 digits or more, as Grafana sends) and now, now-1h, now+5m, from 1970 to
// 2262.
func parseTime(s string, now time.Time) (time.Time, error) {
	t, err := parseAnyTime(s, now)
	if err == nil && (t.Before(minTime) || t.After(maxTime)) {
		err = fmt.Errorf("%q is out of range, want a time from %s to %s", s, minTime.Format(time.RFC3339), maxTime.Format(time.RFC3339))
	}
	return t, err
}

func parseAnyTime(s string, now time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "now"); ok {
		if rest == "" {
			return now, nil
		}
		d, err := model.ParseDuration(rest[1:])
		if err != nil || (rest[0] != '-' && rest[0] != '+') {
			return time.Time{}, fmt.Errorf("cannot parse %q as a time: want now, now-<duration> or now+<duration>", s)
		}
		if rest[0] == '-' {
			return now.Add(-time.Duration(d)), nil
		}
		return now.Add(time.Duration(d)), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if len(strings.TrimLeft(s, "-")) >= 13 {
			return time.UnixMilli(n).UTC(), nil
		}
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return time.Time{}, fmt.Errorf("%q is out of range", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		if math.Abs(f) > 1e11 {
			return time.Time{}, fmt.Errorf("%q is out of range for Unix seconds", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as a time: want RFC 3339 (2006-01-02T15:04:05Z), Unix seconds, Unix milliseconds or now-<duration>", s)
}

// intParam reads an optional integer in [lo, hi]; def when absent.
func (p params) intParam(name string, def, lo, hi int) (int, error) {
	s, err := p.one(name)
	if err != nil || s == "" {
		return def, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badParam(name, fmt.Errorf("%q is not an integer", s))
	}
	if n < lo || n > hi {
		return 0, badParam(name, fmt.Errorf("%d is out of range, want %d to %d", n, lo, hi))
	}
	return n, nil
}

// spanIDs reads the repeatable span_id parameter: 16 hex digits each.
func (p params) spanIDs() ([]string, error) {
	ids := p.many("span_id")
	for i, id := range ids {
		if err := CheckSpanID(id); err != nil {
			return nil, badParam("span_id", err)
		}
		ids[i] = strings.ToLower(id)
	}
	return ids, nil
}

// CheckSpanID accepts 16 hex digits, the form pyroscope-go's span profiles store; the
// Pyroscope querier checks its span selectors with it too.
func CheckSpanID(id string) error {
	if b, err := hex.DecodeString(id); err != nil || len(b) != 8 {
		return fmt.Errorf("%q is not 16 hex digits", id)
	}
	return nil
}

// step reads the series step: a Prometheus or Go duration, or seconds. Default: the range
// in about 200 buckets, at least 10 s.
func (p params) step(start, end time.Time) (time.Duration, error) {
	s, err := p.one("step")
	if err != nil {
		return 0, err
	}
	if s == "" {
		return max(10*time.Second, (end.Sub(start) / 200).Truncate(time.Second)), nil
	}
	var d time.Duration
	if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f > 0 && f < 1e9 {
		d = time.Duration(f * float64(time.Second))
	} else if md, merr := model.ParseDuration(s); merr == nil {
		d = time.Duration(md)
	} else if gd, gerr := time.ParseDuration(s); gerr == nil {
		d = gd
	} else {
		return 0, badParam("step", fmt.Errorf("cannot parse %q as a duration (want 15s, 1m or seconds)", s))
	}
	if d <= 0 {
		return 0, badParam("step", fmt.Errorf("%q is not positive", s))
	}
	if n := end.Sub(start) / d; n > MaxPoints {
		return 0, badParam("step", fmt.Errorf("%s makes %d points over the range, more than %d: use a larger step", d, n, MaxPoints))
	}
	return d, nil
}

// MaxPoints bounds a series' points, as Prometheus does (11,000), here and in the
// Pyroscope querier.
const MaxPoints = 11000
