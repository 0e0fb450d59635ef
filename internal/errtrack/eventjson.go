package errtrack

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends ev as JSON to b: the same bytes as json.Marshal(ev) (field order,
// omitempty and omitzero, sorted map keys, HTML-safe string escapes, float formatting),
// without reflection. Stores encode every event they keep; json.Marshal of a Python SDK
// event (~15 KB, maps of contexts, variables and breadcrumb data) was the largest part of
// the DuckDB store's write path (pprof of the errors bench scenario, ~9 % of the
// server's CPU). Values of the JSON-compatible maps that are not what a JSON decoder makes
// (map[string]any, []any, string, float64, bool, nil) go through json.Marshal. The error
// is json.Marshal's for the same event (a NaN, a time outside years 0-9999, ...).
// TestAppendJSONSameAsMarshal and FuzzAppendJSON hold it to json.Marshal's output.
func AppendJSON(b []byte, ev *Event) ([]byte, error) {
	e := jsonEnc{b: b}
	e.event(ev)
	if e.err != nil {
		return b, e.err
	}
	return e.b, nil
}

type jsonEnc struct {
	b     []byte
	err   error
	first bool // no field written yet in the current object
	// keys is a stack of map keys being sorted and written: each map's keys go on top,
	// and come off once it is written (nested maps push theirs meanwhile).
	keys []string
}

// sortedKeys pushes the keys of m on e.keys, sorted, and returns where they start.
func sortedKeys[V any](e *jsonEnc, m map[string]V) int {
	start := len(e.keys)
	for k := range m {
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys[start:])
	return start
}

func (e *jsonEnc) open()  { e.b = append(e.b, '{'); e.first = true }
func (e *jsonEnc) close() { e.b = append(e.b, '}'); e.first = false }

// key writes a field name (a literal without characters to escape) and its separator.
func (e *jsonEnc) key(k string) {
	if !e.first {
		e.b = append(e.b, ',')
	}
	e.first = false
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *jsonEnc) str(k, v string) {
	if v != "" {
		e.key(k)
		e.b = appendString(e.b, v)
	}
}

func (e *jsonEnc) int(k string, v int64) {
	if v != 0 {
		e.key(k)
		e.b = strconv.AppendInt(e.b, v, 10)
	}
}

func (e *jsonEnc) time(k string, t time.Time) {
	if t.IsZero() {
		return
	}
	if _, off := t.Zone(); t.Year() < 0 || t.Year() > 9999 || off <= -24*60*60 || off >= 24*60*60 {
		if e.err == nil { // what time.Time.MarshalJSON refuses
			_, e.err = json.Marshal(t)
		}
		return
	}
	e.key(k)
	e.b = append(e.b, '"')
	e.b = t.AppendFormat(e.b, time.RFC3339Nano)
	e.b = append(e.b, '"')
}

func (e *jsonEnc) strings(k string, v []string) {
	if len(v) == 0 {
		return
	}
	e.key(k)
	e.b = append(e.b, '[')
	for i, s := range v {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = appendString(e.b, s)
	}
	e.b = append(e.b, ']')
}

func (e *jsonEnc) stringMap(k string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	e.key(k)
	e.b = append(e.b, '{')
	start := sortedKeys(e, m)
	for i := start; i < len(e.keys); i++ {
		if i > start {
			e.b = append(e.b, ',')
		}
		k := e.keys[i]
		e.b = appendString(e.b, k)
		e.b = append(e.b, ':')
		e.b = appendString(e.b, m[k])
	}
	e.keys = e.keys[:start]
	e.b = append(e.b, '}')
}

func (e *jsonEnc) anyMap(k string, m map[string]any) {
	if len(m) == 0 {
		return
	}
	e.key(k)
	e.mapValue(m)
}

func (e *jsonEnc) mapValue(m map[string]any) {
	e.b = append(e.b, '{')
	start, n := sortedKeys(e, m), len(m)
	for i := start; i < start+n; i++ {
		if i > start {
			e.b = append(e.b, ',')
		}
		k := e.keys[i] // e.keys may grow (nested maps) but keeps this map's keys
		e.b = appendString(e.b, k)
		e.b = append(e.b, ':')
		e.value(m[k])
	}
	e.keys = e.keys[:start]
	e.b = append(e.b, '}')
}

// value writes a JSON-compatible value; other types go through json.Marshal.
func (e *jsonEnc) value(v any) {
	switch v := v.(type) {
	case nil:
		e.b = append(e.b, "null"...)
	case string:
		e.b = appendString(e.b, v)
	case bool:
		e.b = strconv.AppendBool(e.b, v)
	case float64:
		e.float(v)
	case map[string]any:
		if v == nil {
			e.b = append(e.b, "null"...)
			return
		}
		e.mapValue(v)
	case []any:
		if v == nil {
			e.b = append(e.b, "null"...)
			return
		}
		e.b = append(e.b, '[')
		for i, x := range v {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.value(x)
		}
		e.b = append(e.b, ']')
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			if e.err == nil {
				e.err = err
			}
			return
		}
		e.b = append(e.b, raw...)
	}
}

// float writes f as encoding/json does (its floatEncoder for 64 bits).
func (e *jsonEnc) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		if e.err == nil {
			_, e.err = json.Marshal(f)
		}
		e.b = append(e.b, "null"...) // discarded: the error fails the encoding
		return
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(e.b)
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(e.b) - start
		if n >= 4 && e.b[len(e.b)-4] == 'e' && e.b[len(e.b)-3] == '-' && e.b[len(e.b)-2] == '0' {
			e.b[len(e.b)-2] = e.b[len(e.b)-1]
			e.b = e.b[:len(e.b)-1]
		}
	}
}

func (e *jsonEnc) event(ev *Event) {
	e.open()
	e.str("event_id", ev.EventID)
	e.str("source", ev.Source)
	e.str("project", ev.Project)
	e.str("service", ev.Service)
	e.time("timestamp", ev.Timestamp)
	e.time("received", ev.Received)
	e.str("level", ev.Level)
	e.str("platform", ev.Platform)
	e.str("release", ev.Release)
	e.str("environment", ev.Environment)
	e.str("server_name", ev.ServerName)
	e.str("logger", ev.Logger)
	e.str("transaction", ev.Transaction)
	e.str("message", ev.Message)
	if len(ev.Exceptions) > 0 {
		e.key("exceptions")
		e.b = append(e.b, '[')
		for i := range ev.Exceptions {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.exception(&ev.Exceptions[i])
		}
		e.b = append(e.b, ']')
	}
	e.strings("fingerprint", ev.Fingerprint)
	e.stringMap("tags", ev.Tags)
	if u := ev.User; u != nil {
		e.key("user")
		e.open()
		e.str("id", u.ID)
		e.str("email", u.Email)
		e.str("username", u.Username)
		e.str("ip_address", u.IPAddress)
		e.close()
	}
	if r := ev.Request; r != nil {
		e.key("request")
		e.open()
		e.str("method", r.Method)
		e.str("url", r.URL)
		e.str("query_string", r.QueryString)
		e.stringMap("headers", r.Headers)
		e.stringMap("cookies", r.Cookies)
		if r.Data != nil {
			e.key("data")
			e.value(r.Data)
		}
		e.close()
	}
	if len(ev.Breadcrumbs) > 0 {
		e.key("breadcrumbs")
		e.b = append(e.b, '[')
		for i := range ev.Breadcrumbs {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			bc := &ev.Breadcrumbs[i]
			e.open()
			e.time("timestamp", bc.Timestamp)
			e.str("type", bc.Type)
			e.str("category", bc.Category)
			e.str("level", bc.Level)
			e.str("message", bc.Message)
			e.anyMap("data", bc.Data)
			e.close()
		}
		e.b = append(e.b, ']')
	}
	e.anyMap("contexts", ev.Contexts)
	e.anyMap("extra", ev.Extra)
	e.str("trace_id", ev.TraceID)
	e.str("span_id", ev.SpanID)
	e.str("group_id", ev.GroupID)
	e.str("grouping_key", ev.GroupingKey)
	e.close()
}

func (e *jsonEnc) exception(ex *Exception) {
	e.open()
	e.str("type", ex.Type)
	e.str("value", ex.Value)
	e.str("module", ex.Module)
	if ex.Handled != nil {
		e.key("handled")
		e.b = strconv.AppendBool(e.b, *ex.Handled)
	}
	e.str("mechanism", ex.Mechanism)
	if len(ex.Frames) > 0 {
		e.key("frames")
		e.b = append(e.b, '[')
		for i := range ex.Frames {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			f := &ex.Frames[i]
			e.open()
			e.str("function", f.Function)
			e.str("module", f.Module)
			e.str("filename", f.Filename)
			e.str("abs_path", f.AbsPath)
			e.int("lineno", int64(f.Lineno))
			e.int("colno", int64(f.Colno))
			if f.InApp {
				e.key("in_app")
				e.b = append(e.b, "true"...)
			}
			e.str("context_line", f.ContextLine)
			e.strings("pre_context", f.PreContext)
			e.strings("post_context", f.PostContext)
			e.anyMap("vars", f.Vars)
			e.close()
		}
		e.b = append(e.b, ']')
	}
	e.str("raw_stacktrace", ex.RawStacktrace)
	e.close()
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does with HTML escaping on:
// <, > and & as \u003c..., U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
