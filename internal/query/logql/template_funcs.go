package logql

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Helpers of templateFuncs. They follow Loki, whose functions are its own or Sprig's:
// numbers given as strings are converted as Sprig (spf13/cast) does, and a value that
// does not convert counts as 0.

// toInt64 converts a template value to an integer; "12", "12.0" and 12.7 give 12.
func toInt64(v any) int64 {
	switch x := v.(type) {
	case nil:
		return 0
	case int:
		return int64(x)
	case int64:
		return x
	case int32:
		return int64(x)
	case uint64:
		return int64(x)
	case float64:
		return int64(x)
	case float32:
		return int64(x)
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		s := strings.TrimSpace(x)
		if i := strings.IndexByte(s, '.'); i >= 0 && strings.Trim(s[i+1:], "0") == "" {
			s = s[:i] // cast trims a zero decimal part: "12.0" is 12
		}
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return 0
		}
		return n
	case time.Duration:
		return int64(x)
	}
	return 0
}

// toFloat64 converts a template value to a float; strings that are not numbers give 0.
func toFloat64(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0
		}
		return f
	}
	return float64(toInt64(v))
}

func foldFloat(a any, v []any, f func(x, y float64) float64) float64 {
	r := toFloat64(a)
	for _, x := range v {
		r = f(r, toFloat64(x))
	}
	return r
}

// round rounds a to p decimals; the fraction rounds up from roundOn (default .5).
func round(a any, p int, roundOn ...float64) float64 {
	on := .5
	if len(roundOn) > 0 {
		on = roundOn[0]
	}
	pow := math.Pow(10, float64(p))
	digit := pow * toFloat64(a)
	if _, frac := math.Modf(digit); frac >= on {
		return math.Ceil(digit) / pow
	}
	return math.Floor(digit) / pow
}

// substr is Sprig's: start < 0 takes s[:end]; end < 0 or past the end takes s[start:].
func substr(start, end int, s string) (string, error) {
	switch {
	case start < 0:
		if end < 0 || end > len(s) {
			return "", fmt.Errorf("substr: end %d out of range", end)
		}
		return s[:end], nil
	case start > len(s):
		return "", fmt.Errorf("substr: start %d out of range", start)
	case end < 0 || end > len(s):
		return s[start:], nil
	case start > end:
		return "", fmt.Errorf("substr: start %d after end %d", start, end)
	}
	return s[start:end], nil
}

// trunc keeps the first c bytes, or with c < 0 the last -c bytes.
func trunc(c int, s string) string {
	if c < 0 && len(s)+c > 0 {
		return s[len(s)+c:]
	}
	if c >= 0 && len(s) > c {
		return s[:c]
	}
	return s
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", max(0, min(n, 1000)))
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// alignLeft pads s with spaces to count runes, or cuts it to its first count runes.
func alignLeft(count int, s string) string {
	r := []rune(s)
	if count < 0 || count == len(r) {
		return s
	}
	if pad := count - len(r); pad > 0 {
		return s + strings.Repeat(" ", min(pad, 1000))
	}
	return string(r[:count])
}

// alignRight pads s on the left to count runes, or keeps its last count runes.
func alignRight(count int, s string) string {
	r := []rune(s)
	if count < 0 || count == len(r) {
		return s
	}
	if pad := count - len(r); pad > 0 {
		return strings.Repeat(" ", min(pad, 1000)) + s
	}
	return string(r[len(r)-count:])
}

// defaultValue is Sprig's default: def when the value is missing or empty ("", 0,
// false, nil, an empty list or map).
func defaultValue(def any, given ...any) any {
	if len(given) == 0 || isEmpty(given[0]) {
		return def
	}
	return given[0]
}

func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return rv.Len() == 0
	case reflect.Bool:
		return !rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return rv.Float() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// b64dec returns the decoded string, or the decoding error's text as Sprig does.
func b64dec(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// fromJSON decodes a JSON document; text that is not JSON gives nil.
func fromJSON(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil
	}
	return v
}

// dateFormat formats a time (or unix seconds) in UTC; other values format the current
// time, as Sprig's date does.
func dateFormat(layout string, v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x != nil {
			t = *x
		}
	case int64:
		t = time.Unix(x, 0)
	case int:
		t = time.Unix(int64(x), 0)
	case int32:
		t = time.Unix(int64(x), 0)
	default:
		t = time.Now()
	}
	return t.UTC().Format(layout)
}

func toDateInZone(layout, zone, s string) time.Time {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	t, _ := time.ParseInLocation(layout, s, loc)
	return t
}

// unixToTime reads an epoch in days, seconds, milliseconds, microseconds or nanoseconds,
// told apart by the number of digits as Loki does.
func unixToTime(epoch string) (time.Time, error) {
	n, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("unable to parse time '%v': %w", epoch, err)
	}
	switch len(epoch) {
	case 5:
		return time.Unix(n*86400, 0).UTC(), nil
	case 10:
		return time.Unix(n, 0).UTC(), nil
	case 13:
		return time.UnixMilli(n).UTC(), nil
	case 16:
		return time.UnixMicro(n).UTC(), nil
	case 19:
		return time.Unix(0, n).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unable to parse time '%v': unknown epoch length", epoch)
}

// durationSeconds converts a Go duration ("1m30s") to seconds.
func durationSeconds(s string) (float64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return d.Seconds(), nil
}
