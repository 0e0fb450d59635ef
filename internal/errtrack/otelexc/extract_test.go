package otelexc

import (
	"context"
	"errors"
	"go/build"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/stackparse"
)

var received = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// recordWithSDK records err on a span with the real OpenTelemetry Go SDK, as a program
// does, and returns the span converted to pdata the way an OTLP exporter would carry it.
// It also returns the frames sentry-go would send for a CaptureException at the same
// place.
func recordWithSDK(t *testing.T, err error) (ptrace.Traces, []errtrack.Frame) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	_, span := tp.Tracer("test").Start(context.Background(), "GET /orders/{id}")
	sentryFrames := checkout(span, err)
	span.End()
	require.Len(t, exp.GetSpans(), 1)
	return toPdata(exp.GetSpans()[0], map[string]string{
		"service.name": "shop", "service.version": "1.4.2", "deployment.environment.name": "prod",
		"host.name": "web-1", "telemetry.sdk.language": "go",
	}), sentryFrames
}

// checkout is the "application" function that reports err both ways: span.RecordError
// and (an imitation of) sentry.CaptureException.
func checkout(span trace.Span, err error) []errtrack.Frame {
	span.RecordError(err, trace.WithStackTrace(true))
	return sentryGoFrames()
}

func toPdata(s tracetest.SpanStub, resource map[string]string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	for k, v := range resource {
		rs.Resource().Attributes().PutStr(k, v)
	}
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName(s.Name)
	tid, sid := s.SpanContext.TraceID(), s.SpanContext.SpanID()
	sp.SetTraceID(pcommon.TraceID(tid))
	sp.SetSpanID(pcommon.SpanID(sid))
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.StartTime))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.EndTime))
	sp.Attributes().PutStr("http.route", "/orders/{id}")
	for _, e := range s.Events {
		pe := sp.Events().AppendEmpty()
		pe.SetName(e.Name)
		pe.SetTimestamp(pcommon.NewTimestampFromTime(e.Time))
		for _, a := range e.Attributes {
			pe.Attributes().PutStr(string(a.Key), a.Value.String())
		}
	}
	return td
}

func TestFromTracesGoRecordError(t *testing.T) {
	td, _ := recordWithSDK(t, errors.New("card declined"))
	events, failures := FromTraces(td, received)
	require.Empty(t, failures)
	require.Len(t, events, 1)
	ev := events[0]
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	tid, sid := sp.TraceID(), sp.SpanID()

	require.Equal(t, errtrack.SourceOTelSpan, ev.Source)
	require.Len(t, ev.EventID, 32)
	require.Equal(t, "shop", ev.Service)
	require.Equal(t, "1.4.2", ev.Release)
	require.Equal(t, "prod", ev.Environment)
	require.Equal(t, "web-1", ev.ServerName)
	require.Equal(t, "error", ev.Level)
	require.Equal(t, "go", ev.Platform)
	require.Equal(t, "/orders/{id}", ev.Transaction)
	require.Equal(t, received, ev.Received)
	require.False(t, ev.Timestamp.IsZero())
	require.Equal(t, tid.String(), ev.TraceID)
	require.Equal(t, sid.String(), ev.SpanID)
	require.Equal(t, map[string]string{"http.route": "/orders/{id}", "host.name": "web-1", "telemetry.sdk.language": "go"}, ev.Tags)

	require.Len(t, ev.Exceptions, 1)
	ex := ev.Exceptions[0]
	require.Equal(t, "*errors.errorString", ex.Type, "reflect's String(), as sentry-go reports it")
	require.Equal(t, "card declined", ex.Value)
	require.Contains(t, ex.RawStacktrace, "goroutine ")
	last := ex.Frames[len(ex.Frames)-1]
	require.Equal(t, "github.com/loupe-dev/loupe/internal/errtrack/otelexc", last.Module)
	require.Equal(t, "checkout", last.Function, "the stack ends where the program called RecordError")
	require.True(t, last.InApp)
	for _, f := range ex.Frames {
		require.NotEqual(t, "testing", f.Module)
		require.NotContains(t, f.Module, "go.opentelemetry.io")
	}
}

type notFound struct{ key string }

func (e notFound) Error() string { return "not found: " + e.key }

func TestGoTypeNames(t *testing.T) {
	// The SDK writes PkgPath()+"."+Name() for named types; sentry-go reflect's String().
	td, _ := recordWithSDK(t, notFound{"k"})
	events, _ := FromTraces(td, received)
	require.Equal(t, "otelexc.notFound", events[0].Exceptions[0].Type)
	require.Equal(t, "*errors.errorString", goTypeName("*errors.errorString"))
	require.Equal(t, "svc.NotFound", goTypeName("example.com/shop/svc.NotFound"))
}

// sentryGoFrames builds the frames sentry-go (v0.2x: NewStacktrace, createFrames) sends
// for a CaptureException at its caller: runtime.Callers, the package split of
// splitQualifiedFunctionName, runtime and testing frames dropped, in_app unless in GOROOT,
// vendor or third_party.
func sentryGoFrames() []errtrack.Frame {
	root := build.Default.GOROOT
	pcs := make([]uintptr, 100)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var out []errtrack.Frame
	for {
		f, more := frames.Next()
		pkg, fn := stackparse.SplitGoFunction(f.Function)
		if pkg != "runtime" && pkg != "testing" {
			out = append([]errtrack.Frame{{
				Function: fn, Module: pkg, AbsPath: f.File, Lineno: f.Line,
				InApp: !strings.HasPrefix(f.File, root) && !strings.Contains(pkg, "vendor") && !strings.Contains(pkg, "third_party"),
			}}, out...)
		}
		if !more {
			break
		}
	}
	return out
}

func TestGoGroupsWithSentryGo(t *testing.T) {
	err := errors.New("card declined")
	td, frames := recordWithSDK(t, err)
	events, _ := FromTraces(td, received)
	otel := events[0]
	sentry := errtrack.Event{Source: errtrack.SourceSentry, Platform: "go", Exceptions: []errtrack.Exception{{
		Type: "*errors.errorString", Value: err.Error(), Frames: frames,
	}}}
	require.Equal(t, errtrack.Components(&sentry), errtrack.Components(&otel))
	require.Equal(t, errtrack.GroupID(errtrack.GroupingVersion, errtrack.Components(&sentry)),
		errtrack.GroupID(errtrack.GroupingVersion, errtrack.Components(&otel)))
}

func TestFromLogsPython(t *testing.T) {
	stack, err := os.ReadFile("../stackparse/testdata/python_chained.txt")
	require.NoError(t, err)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "billing")
	rl.Resource().Attributes().PutStr("deployment.environment", "staging")
	rl.Resource().Attributes().PutStr("telemetry.sdk.language", "python")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("myapp.views")
	plain := sl.LogRecords().AppendEmpty()
	plain.Body().SetStr("GET /charge 200")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(received.Add(-time.Second)))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.Body().SetStr("request failed")
	lr.Attributes().PutStr("exception.type", "RuntimeError")
	lr.Attributes().PutStr("exception.message", "request failed: order 1234")
	lr.Attributes().PutStr("exception.stacktrace", string(stack))
	lr.Attributes().PutStr("http.route", "/charge")

	events, failures := FromLogs(ld, received)
	require.Empty(t, failures)
	require.Len(t, events, 1, "only the record with exception.* attributes")
	ev := events[0]
	require.Equal(t, errtrack.SourceOTelLog, ev.Source)
	require.Equal(t, "billing", ev.Service)
	require.Equal(t, "staging", ev.Environment)
	require.Equal(t, "error", ev.Level)
	require.Equal(t, "myapp.views", ev.Logger)
	require.Equal(t, "request failed", ev.Message)
	require.Equal(t, "python", ev.Platform)
	require.Equal(t, "/charge", ev.Transaction)
	require.Equal(t, received.Add(-time.Second), ev.Timestamp)
	require.Empty(t, ev.TraceID)
	require.Len(t, ev.Exceptions, 3, "the chain: causes first")
	require.Equal(t, "JSONDecodeError", ev.Exceptions[0].Type)
	require.Equal(t, "json.decoder", ev.Exceptions[0].Module)
	require.Equal(t, "PaymentError", ev.Exceptions[1].Type)
	last := ev.Exceptions[2]
	require.Equal(t, "RuntimeError", last.Type)
	require.Equal(t, "request failed: order 1234", last.Value, "exception.message wins")
	require.Equal(t, string(stack), last.RawStacktrace)
	require.Equal(t, "handle", last.Frames[len(last.Frames)-1].Function)
}

func TestUnparseableAndJavaTypes(t *testing.T) {
	platform, excs := exceptions("java.lang.IllegalStateException", "boom", "not a stack trace", "java")
	require.Equal(t, "java", platform)
	require.Equal(t, []errtrack.Exception{{Module: "java.lang", Type: "IllegalStateException", Value: "boom", RawStacktrace: "not a stack trace"}}, excs)

	_, excs = exceptions("", "", "goroutine 1 [running]:\nmain.main()\n\t/src/main.go:3 +0x1\n", "")
	require.Equal(t, "Error", excs[0].Type, "frames alone still make a titled exception")
}

func TestEventIDs(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{1})
	sp.SetSpanID(pcommon.SpanID{2})
	for _, name := range []string{"exception", "retry", "exception"} {
		e := sp.Events().AppendEmpty()
		e.SetName(name)
		e.SetTimestamp(1e18)
		e.Attributes().PutStr("exception.type", "TimeoutError")
	}
	a, _ := FromTraces(td, received)
	b, _ := FromTraces(td, received.Add(time.Hour))
	require.Len(t, a, 2)
	require.Equal(t, a[0].EventID, b[0].EventID, "a retried batch gives the same ids")
	require.Equal(t, a[1].EventID, b[1].EventID)
	require.NotEqual(t, a[0].EventID, a[1].EventID, "two exceptions of one span are two events")

	// Log records: derived from content.
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, msg := range []string{"x", "y"} {
		lr := recs.AppendEmpty()
		lr.SetTimestamp(1e18)
		lr.Attributes().PutStr("exception.message", msg)
	}
	la, _ := FromLogs(ld, received)
	lb, _ := FromLogs(ld, received)
	require.Equal(t, la[0].EventID, lb[0].EventID)
	require.NotEqual(t, la[0].EventID, la[1].EventID)
}

func TestSkipsEmptyExceptionsAndMapsLevels(t *testing.T) {
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	empty := recs.AppendEmpty()
	empty.Attributes().PutStr("exception.type", "") // no type, message or stack
	warn := recs.AppendEmpty()
	warn.SetSeverityText("WARNING")
	warn.Attributes().PutStr("exception.type", "DeprecationWarning")
	events, failures := FromLogs(ld, received)
	require.Empty(t, failures)
	require.Len(t, events, 1)
	require.Equal(t, "warning", events[0].Level)
	require.Equal(t, received, events[0].Timestamp, "no timestamp: the receive time")
	require.Equal(t, "fatal", level(plog.SeverityNumberFatal2, ""))
	require.Equal(t, "info", level(plog.SeverityNumberInfo, "ERROR"))
}

func TestSafelyTurnsPanicsIntoFailures(t *testing.T) {
	ev, err := safely(func() (errtrack.Event, bool) { panic("bug") })
	require.Nil(t, ev)
	require.ErrorContains(t, err, "panic: bug")
}

// FuzzExceptions: any attribute values give a titled exception without panicking.
func FuzzExceptions(f *testing.F) {
	f.Add("*errors.errorString", "boom", "goroutine 1 [running]:\nmain.main()\n\t/a.go:1 +0x1\n", "go")
	f.Add("ValueError", "", "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\nValueError: x\n", "python")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, typ, msg, stack, lang string) {
		_, excs := exceptions(typ, msg, stack, lang)
		require.NotEmpty(t, excs)
		last := excs[len(excs)-1]
		require.Equal(t, stack, last.RawStacktrace)
		require.True(t, last.Type != "" || last.Value != "")
	})
}
