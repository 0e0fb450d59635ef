package sentry

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loupe-dev/loupe/internal/ingest/jsondepth"
)

// Bounds on what one event may carry. SDKs trim their events too (the Python SDK cuts
// strings at 1,024 characters and data at 10 levels); these only make sure that a crafted
// or broken event cannot make the server hold or store much more than a real one.
const (
	maxJSONDepth     = 64 // nesting of a payload; deeper is refused (400)
	maxStoredDepth   = 10 // nesting kept of extra, contexts and breadcrumb data; deeper becomes "[...]"
	maxStringBytes   = 8 << 10
	maxShortBytes    = 1 << 10 // names, tags, frame fields
	maxExceptions    = 32
	maxFrames        = 256 // per exception: the outermost and innermost halves are kept
	maxContextLines  = 10  // pre_context / post_context lines per frame
	maxBreadcrumbs   = 100 // the latest are kept
	maxTags          = 128
	maxMapEntries    = 256 // entries per object of extra, contexts and data
	maxFingerprint   = 32
	maxArrayElements = 256
)

// errTooDeep is returned for a payload nested deeper than maxJSONDepth.
var errTooDeep = fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)

// decodeObject decodes a JSON object payload, refusing invalid JSON, a value that is not
// an object and nesting deeper than maxJSONDepth (checked first, by a scan that does not
// recurse, so that a deeply nested body costs no more than its length).
func decodeObject(b []byte) (map[string]any, error) {
	if jsondepth.Exceeds(b, maxJSONDepth) {
		return nil, errTooDeep
	}
	v, err := parseJSON(b)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON at byte %d: %v", err.Offset, err.msg)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, found %s", jsonKind(v))
	}
	return m, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// The accessors below read a decoded JSON value liberally: a field of an unexpected type
// reads as absent, never as an error, because SDKs disagree on shapes and a
// half-understood event is worth more than none.

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func arr(v any) []any {
	a, _ := v.([]any)
	return a
}

// str reads a string, or a number or boolean as its text, clipped to max bytes.
func str(v any, max int) string {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		s = strconv.FormatBool(x)
	default:
		return ""
	}
	return clipUTF8(s, max)
}

// num reads a number, or a string holding one.
func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// integer reads a number as an int, 0 when absent or out of range.
func integer(v any) int {
	f, ok := num(v)
	if !ok || f < math.MinInt32 || f > math.MaxInt32 {
		return 0
	}
	return int(f)
}

func boolean(v any) (bool, bool) {
	b, ok := v.(bool)
	return b, ok
}

// clipUTF8 cuts s to at most max bytes without splitting a character, and replaces
// invalid UTF-8 (json.Unmarshal already did for strings; this covers the rest).
func clipUTF8(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Times outside this range are not representable as int64 nanoseconds (the stores' unit).
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// timestamp reads Sentry's timestamps: seconds since the epoch as a number (fractions
// allowed) or a string, or an RFC 3339 string, with or without a zone (no zone is UTC, as
// Sentry reads it).
func timestamp(v any) (time.Time, bool) {
	if f, ok := num(v); ok {
		if f < -1e10 || f > 1e11 {
			return time.Time{}, false
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), true
	}
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			if t.Before(minTime) || t.After(maxTime) {
				return time.Time{}, false
			}
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// bounded copies a JSON value for storage: strings clipped, at most maxMapEntries entries
// per object and maxArrayElements per array, and "[...]" below depth levels.
func bounded(v any, depth int) any {
	switch x := v.(type) {
	case string:
		return clipUTF8(x, maxStringBytes)
	case map[string]any:
		if depth <= 0 {
			return "[...]"
		}
		out := make(map[string]any, min(len(x), maxMapEntries))
		for k, val := range x {
			if len(out) >= maxMapEntries {
				break
			}
			out[clipUTF8(k, maxShortBytes)] = bounded(val, depth-1)
		}
		return out
	case []any:
		if depth <= 0 {
			return "[...]"
		}
		n := min(len(x), maxArrayElements)
		out := make([]any, n)
		for i := range n {
			out[i] = bounded(x[i], depth-1)
		}
		return out
	}
	return v // numbers, booleans, null
}

// boundedMap is bounded for an object field; nil when v is not an object or is empty.
func boundedMap(v any) map[string]any {
	m := obj(v)
	if len(m) == 0 {
		return nil
	}
	return bounded(m, maxStoredDepth).(map[string]any)
}

// stringMap reads an object of scalars, or a list of [key, value] pairs or of
// {"key":..., "value":...} objects (Sentry accepts all three for tags and headers).
func stringMap(v any, maxEntries int) map[string]string {
	out := map[string]string{}
	put := func(k, val any) {
		ks := str(k, maxShortBytes)
		if ks == "" || len(out) >= maxEntries {
			return
		}
		out[ks] = str(val, maxShortBytes)
	}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			put(k, val)
		}
	case []any:
		for _, e := range x {
			if pair := arr(e); len(pair) == 2 {
				put(pair[0], pair[1])
			} else if o := obj(e); o != nil {
				put(o["key"], o["value"])
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// values reads an interface that Sentry sends either as a list or as {"values": [...]}
// (exception, threads, breadcrumbs), or as a single object.
func values(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case map[string]any:
		if vs, ok := x["values"]; ok {
			return arr(vs)
		}
		return []any{x}
	}
	return nil
}

// hexID normalises a trace, span or event id: lower case, dashes of a UUID removed; ""
// unless it is n hex digits and not all zeros.
func hexID(v any, n int) string {
	s, _ := v.(string)
	if len(s) > 2*n {
		return ""
	}
	s = strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if len(s) != n {
		return ""
	}
	zero := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
		if c != '0' {
			zero = false
		}
	}
	if zero {
		return ""
	}
	return s
}
