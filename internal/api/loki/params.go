package loki

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// parseTime accepts what Loki accepts: RFC3339(Nano), unix seconds with a fraction
// ("1700000000.5"), or an integer in nanoseconds (what Grafana and logcli send). Small
// integers are taken as seconds (< 1e11) or milliseconds (< 1e14), which no nanosecond
// time after 1970-01-02 is.
func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch a := max(n, -n); {
		case a < 1e11:
			return time.Unix(n, 0).UTC(), nil
		case a < 1e14:
			return time.UnixMilli(n).UTC(), nil
		case a < 1e17:
			return time.UnixMicro(n).UTC(), nil
		}
		return time.Unix(0, n).UTC(), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e11 {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as a timestamp: want RFC3339, unix seconds or unix nanoseconds", s)
}

// parseDuration accepts a Prometheus duration ("15s", "1h30m") or float seconds ("15").
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 || math.IsNaN(f) || f > 1e10 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("cannot parse %q as a duration: want 15s, 1m, ... or seconds", s)
}

// form returns a request parameter from the query string or a form body (POST).
func form(r *http.Request, name string) string {
	return r.FormValue(name)
}

// timeRange reads start/end (with since as an alternative to start) and defaults to
// the last defaultSpan before now.
func timeRange(r *http.Request, now time.Time, defaultSpan time.Duration) (time.Time, time.Time, error) {
	end, err := parseTime(form(r, "end"), now)
	if err != nil {
		return end, end, fmt.Errorf("end: %w", err)
	}
	span := defaultSpan
	if s := form(r, "since"); s != "" {
		if span, err = parseDuration(s); err != nil {
			return end, end, fmt.Errorf("since: %w", err)
		}
	}
	start, err := parseTime(form(r, "start"), end.Add(-span))
	if err != nil {
		return start, end, fmt.Errorf("start: %w", err)
	}
	if end.Before(start) {
		return start, end, fmt.Errorf("end (%s) must not be before start (%s)", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	}
	return start, end, nil
}

func parseLimit(r *http.Request, def int) (int, error) {
	s := form(r, "limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("limit: %q is not a positive integer", s)
	}
	return n, nil
}

func parseDirection(r *http.Request) (bool, error) {
	switch d := strings.ToLower(form(r, "direction")); d {
	case "", "backward":
		return false, nil
	case "forward":
		return true, nil
	default:
		return false, fmt.Errorf("direction: %q is neither forward nor backward", d)
	}
}

// defaultStep is Loki's: the range over 250 points, at least one second.
func defaultStep(start, end time.Time) time.Duration {
	return max(time.Second, end.Sub(start)/250/time.Second*time.Second)
}
