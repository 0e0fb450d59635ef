// Package otelexc turns the exceptions that OpenTelemetry SDKs record into error events:
// span events named "exception" and log records carrying exception.* attributes
// (semantic conventions: exception.type, exception.message, exception.stacktrace,
// exception.escaped). The Tap extracts them from the batches on their way to the stores.
package otelexc

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/stackparse"
)

// Attribute names (OpenTelemetry semantic conventions).
const (
	attrType       = "exception.type"
	attrMessage    = "exception.message"
	attrStacktrace = "exception.stacktrace"
	attrEscaped    = "exception.escaped"
	exceptionEvent = "exception"
	exceptionPfx   = "exception."
)

// tagKeys are the span, log and resource attributes copied into an event's tags: the ones
// that tell occurrences of one issue apart (which route, which host, which pod). Request
// URLs and bodies are left out on purpose: they carry user data and ids.
var tagKeys = []string{
	"http.route", "http.request.method", "http.method", "http.response.status_code", "http.status_code",
	"rpc.service", "rpc.method", "db.system", "messaging.system",
	"host.name", "service.namespace", "service.instance.id", "k8s.namespace.name", "k8s.pod.name",
	"cloud.region", "telemetry.sdk.language",
}

// Failure is an exception that could not be turned into an event. It never fails the
// batch carrying it.
type Failure struct {
	Source string // errtrack.SourceOTelSpan or SourceOTelLog
	Err    error
}

// resourceInfo is what an event takes from its resource.
type resourceInfo struct {
	service, release, environment, host, language string
	attrs                                         pcommon.Map
}

func newResourceInfo(res pcommon.Resource) resourceInfo {
	a := res.Attributes()
	env := str(a, "deployment.environment.name")
	if env == "" {
		env = str(a, "deployment.environment")
	}
	return resourceInfo{
		service: str(a, "service.name"), release: str(a, "service.version"), environment: env,
		host: str(a, "host.name"), language: str(a, "telemetry.sdk.language"), attrs: a,
	}
}

// FromTraces returns an event for every span event named "exception" in td, with
// received as their receive time. Spans without events cost one length check.
func FromTraces(td ptrace.Traces, received time.Time) ([]errtrack.Event, []Failure) {
	var (
		events   []errtrack.Event
		failures []Failure
	)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		var res *resourceInfo
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				evs := span.Events()
				for e := 0; e < evs.Len(); e++ {
					se := evs.At(e)
					if se.Name() != exceptionEvent {
						continue
					}
					if res == nil {
						r := newResourceInfo(rs.Resource())
						res = &r
					}
					ev, err := safely(func() (errtrack.Event, bool) { return fromSpanEvent(*res, span, se, e, received) })
					if err != nil {
						failures = append(failures, Failure{Source: errtrack.SourceOTelSpan, Err: err})
					} else if ev != nil {
						events = append(events, *ev)
					}
				}
			}
		}
	}
	return events, failures
}

// FromLogs returns an event for every log record in ld carrying an exception.* attribute.
// Records without one cost a scan of their attribute keys.
func FromLogs(ld plog.Logs, received time.Time) ([]errtrack.Event, []Failure) {
	var (
		events   []errtrack.Event
		failures []Failure
	)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var res *resourceInfo
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			recs := sl.LogRecords()
			for k := 0; k < recs.Len(); k++ {
				lr := recs.At(k)
				if !hasExceptionAttr(lr.Attributes()) {
					continue
				}
				if res == nil {
					r := newResourceInfo(rl.Resource())
					res = &r
				}
				ev, err := safely(func() (errtrack.Event, bool) { return fromLogRecord(*res, sl.Scope().Name(), lr, received) })
				if err != nil {
					failures = append(failures, Failure{Source: errtrack.SourceOTelLog, Err: err})
				} else if ev != nil {
					events = append(events, *ev)
				}
			}
		}
	}
	return events, failures
}

// hasExceptionAttr reports whether attrs has a key starting with "exception.". One pass
// over the keys, no allocation: this runs for every log record ingested.
func hasExceptionAttr(attrs pcommon.Map) bool {
	found := false
	attrs.Range(func(k string, _ pcommon.Value) bool {
		if strings.HasPrefix(k, exceptionPfx) {
			found = true
			return false
		}
		return true
	})
	return found
}

// safely runs one extraction and turns a panic (a bug, or input no test imagined) into a
// failure of that one exception instead of a failed batch or a crashed server.
func safely(f func() (errtrack.Event, bool)) (ev *errtrack.Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("extract exception: panic: %v", r)
		}
	}()
	e, ok := f()
	if !ok {
		return nil, nil
	}
	return &e, nil
}

func fromSpanEvent(res resourceInfo, span ptrace.Span, se ptrace.SpanEvent, index int, received time.Time) (errtrack.Event, bool) {
	a := se.Attributes()
	typ, msg, stack := str(a, attrType), str(a, attrMessage), str(a, attrStacktrace)
	if typ == "" && msg == "" && stack == "" {
		return errtrack.Event{}, false // the conventions require a type or a message
	}
	ts := se.Timestamp().AsTime()
	if se.Timestamp() == 0 {
		ts = span.EndTimestamp().AsTime()
	}
	traceID, spanID := span.TraceID(), span.SpanID()
	ev := errtrack.Event{
		EventID:     eventID(errtrack.SourceOTelSpan, traceID[:], spanID[:], uint64(index), uint64(se.Timestamp()), res.service, typ, msg),
		Source:      errtrack.SourceOTelSpan,
		Service:     res.service,
		Timestamp:   ts.UTC(),
		Received:    received,
		Level:       "error",
		Release:     res.release,
		Environment: res.environment,
		ServerName:  res.host,
		Transaction: str(span.Attributes(), "http.route"),
		TraceID:     hexOrEmpty(traceID[:]),
		SpanID:      hexOrEmpty(spanID[:]),
		Tags:        tags(res.attrs, span.Attributes(), a),
	}
	if ev.Transaction == "" {
		ev.Transaction = span.Name()
	}
	ev.Platform, ev.Exceptions = exceptions(typ, msg, stack, res.language)
	if v, ok := a.Get(attrEscaped); ok && v.Type() == pcommon.ValueTypeBool {
		handled := !v.Bool() // escaped the span's scope: not handled there
		ev.Exceptions[len(ev.Exceptions)-1].Handled = &handled
	}
	return ev, true
}

func fromLogRecord(res resourceInfo, scope string, lr plog.LogRecord, received time.Time) (errtrack.Event, bool) {
	a := lr.Attributes()
	typ, msg, stack := str(a, attrType), str(a, attrMessage), str(a, attrStacktrace)
	if typ == "" && msg == "" && stack == "" {
		return errtrack.Event{}, false
	}
	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	traceID, spanID := lr.TraceID(), lr.SpanID()
	body := lr.Body().AsString()
	ev := errtrack.Event{
		EventID: eventID(errtrack.SourceOTelLog, traceID[:], spanID[:], uint64(lr.Timestamp()), uint64(lr.ObservedTimestamp()),
			res.service, body, typ, msg, stack),
		Source:      errtrack.SourceOTelLog,
		Service:     res.service,
		Timestamp:   ts.AsTime().UTC(),
		Received:    received,
		Level:       level(lr.SeverityNumber(), lr.SeverityText()),
		Release:     res.release,
		Environment: res.environment,
		ServerName:  res.host,
		Logger:      scope,
		Transaction: str(a, "http.route"),
		TraceID:     hexOrEmpty(traceID[:]),
		SpanID:      hexOrEmpty(spanID[:]),
		Tags:        tags(res.attrs, a),
	}
	if body != "" && body != msg {
		ev.Message = body
	}
	if ts == 0 {
		ev.Timestamp = received
	}
	ev.Platform, ev.Exceptions = exceptions(typ, msg, stack, res.language)
	return ev, true
}

// exceptions builds the exception chain of an event from the three attributes: the
// stack trace text parsed (stackparse), with exception.type and exception.message
// describing the raised exception, the last of the chain. Text that does not parse still
// gives one exception, keeping the text as RawStacktrace.
func exceptions(typ, msg, stack, language string) (string, []errtrack.Exception) {
	tr := stackparse.Parse(stack)
	platform := tr.Platform
	if platform == "" {
		platform = sdkPlatform(language)
	}
	excs := tr.Exceptions
	if len(excs) == 0 {
		excs = []errtrack.Exception{{}}
	}
	last := &excs[len(excs)-1]
	last.RawStacktrace = stack
	if typ != "" {
		switch {
		case platform == stackparse.PlatformGo:
			// The Go SDK writes the package path ("example.com/shop/svc.NotFound"); sentry-go
			// writes reflect's String() ("svc.NotFound", "*errors.errorString").
			last.Module, last.Type = "", goTypeName(typ)
		case last.Type == "":
			last.Type = typ
			if platform == stackparse.PlatformJava || platform == stackparse.PlatformPython {
				last.Module, last.Type = splitDotted(typ)
			}
		}
	}
	if msg != "" {
		last.Value = msg
	}
	if last.Type == "" && last.Value == "" {
		last.Type = "Error" // frames alone; an exception needs a title
	}
	return platform, excs
}

// goTypeName turns a Go type as reflect's PkgPath()+"."+Name() ("example.com/x/svc.T")
// into reflect.Type.String()'s form ("svc.T").
func goTypeName(t string) string {
	star := ""
	if strings.HasPrefix(t, "*") {
		star, t = "*", t[1:]
	}
	if i := strings.LastIndexByte(t, '/'); i >= 0 {
		t = t[i+1:]
	}
	return star + t
}

func splitDotted(t string) (module, name string) {
	if i := strings.LastIndexByte(t, '.'); i > 0 && i < len(t)-1 {
		return t[:i], t[i+1:]
	}
	return "", t
}

// sdkPlatform maps telemetry.sdk.language to Sentry's platform names.
func sdkPlatform(lang string) string {
	switch lang {
	case "nodejs":
		return stackparse.PlatformNode
	case "webjs":
		return "javascript"
	case "dotnet":
		return "csharp"
	case "cpp":
		return "native"
	}
	return lang
}

// level maps an OpenTelemetry severity to Sentry's levels; a record without a severity
// that carries an exception is an error.
func level(n plog.SeverityNumber, text string) string {
	switch {
	case n >= plog.SeverityNumberFatal:
		return "fatal"
	case n >= plog.SeverityNumberError:
		return "error"
	case n >= plog.SeverityNumberWarn:
		return "warning"
	case n >= plog.SeverityNumberInfo:
		return "info"
	case n >= plog.SeverityNumberTrace:
		return "debug"
	}
	switch strings.ToLower(text) {
	case "fatal", "critical", "panic", "emergency", "alert":
		return "fatal"
	case "warn", "warning":
		return "warning"
	case "info", "information", "notice":
		return "info"
	case "debug", "trace":
		return "debug"
	}
	return "error"
}

// tags copies tagKeys from the maps, later maps winning.
func tags(maps ...pcommon.Map) map[string]string {
	var out map[string]string
	for _, m := range maps {
		if m.Len() == 0 {
			continue
		}
		for _, k := range tagKeys {
			if v := str(m, k); v != "" {
				if out == nil {
					out = make(map[string]string, 4)
				}
				out[k] = v
			}
		}
	}
	return out
}

// str returns an attribute as a string ("" when absent); non-string values are rendered
// (a status code sent as an int is still a tag).
func str(m pcommon.Map, k string) string {
	v, ok := m.Get(k)
	if !ok {
		return ""
	}
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return v.AsString()
}

func hexOrEmpty(id []byte) string {
	for _, b := range id {
		if b != 0 {
			return hex.EncodeToString(id)
		}
	}
	return ""
}

// eventID derives an event id from what identifies the exception in its batch, so that a
// client that sends the same batch again (a retry after a timeout) produces the same ids
// and the store skips the duplicates.
func eventID(source string, traceID, spanID []byte, n1, n2 uint64, strs ...string) string {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write(traceID)
	h.Write(spanID)
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], n1)
	binary.BigEndian.PutUint64(b[8:], n2)
	h.Write(b[:])
	for _, s := range strs {
		binary.BigEndian.PutUint64(b[:8], uint64(len(s)))
		h.Write(b[:8])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
