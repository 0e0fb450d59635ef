// Package testtraces builds the seeded traces the Tempo and Jaeger API tests share.
package testtraces

import (
	"encoding/hex"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Base is the start of the first span. Tests pin their clock to Base + 10 minutes.
var Base = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// Trace ids of the seeded traces.
const (
	// CheckoutID: api "GET /users" (150ms, server, http.route=/users) calls db "SELECT"
	// (120ms, client, status ERROR "timeout", one event, one link).
	CheckoutID = "0af7651916cd43dd8448eb211c80319c"
	// JobID: worker "job" (10ms, internal, OK), 5 minutes later.
	JobID = "00000000000000004bf92f3577b34da6"
)

// Span ids.
const (
	RootSpan  = "b7ad6b7169203331"
	DBSpan    = "00f067aa0ba902b7"
	JobSpan   = "53995c3f42cd8ad8"
	LinkedSpn = "1111111111111111"
)

// TraceID parses a hex trace id; the constants above are valid.
func TraceID(s string) pcommon.TraceID {
	var id pcommon.TraceID
	_, _ = hex.Decode(id[:], []byte(s))
	return id
}

// SpanID parses a hex span id.
func SpanID(s string) pcommon.SpanID {
	var id pcommon.SpanID
	_, _ = hex.Decode(id[:], []byte(s))
	return id
}

func ts(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(Base.Add(d)) }

// Traces returns the two seeded traces in one batch, three resources.
func Traces() ptrace.Traces {
	td := ptrace.NewTraces()

	api := td.ResourceSpans().AppendEmpty()
	api.Resource().Attributes().PutStr("service.name", "api")
	api.Resource().Attributes().PutStr("host.name", "web-1")
	ss := api.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("net/http")
	ss.Scope().SetVersion("1.0.0")
	root := ss.Spans().AppendEmpty()
	root.SetTraceID(TraceID(CheckoutID))
	root.SetSpanID(SpanID(RootSpan))
	root.SetName("GET /users")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(ts(0))
	root.SetEndTimestamp(ts(150 * time.Millisecond))
	root.Attributes().PutStr("http.route", "/users")
	root.Attributes().PutInt("http.status_code", 500)
	root.Attributes().PutBool("retry", false)

	db := td.ResourceSpans().AppendEmpty()
	db.Resource().Attributes().PutStr("service.name", "db")
	dss := db.ScopeSpans().AppendEmpty()
	dss.Scope().SetName("sql")
	sp := dss.Spans().AppendEmpty()
	sp.SetTraceID(TraceID(CheckoutID))
	sp.SetSpanID(SpanID(DBSpan))
	sp.SetParentSpanID(SpanID(RootSpan))
	sp.SetName("SELECT")
	sp.SetKind(ptrace.SpanKindClient)
	sp.SetStartTimestamp(ts(10 * time.Millisecond))
	sp.SetEndTimestamp(ts(130 * time.Millisecond))
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("timeout")
	sp.Attributes().PutStr("db.system", "postgresql")
	sp.Attributes().PutDouble("db.rows", 1.5)
	ev := sp.Events().AppendEmpty()
	ev.SetName("retry")
	ev.SetTimestamp(ts(20 * time.Millisecond))
	ev.Attributes().PutInt("attempt", 2)
	ln := sp.Links().AppendEmpty()
	ln.SetTraceID(TraceID(JobID))
	ln.SetSpanID(SpanID(LinkedSpn))

	worker := td.ResourceSpans().AppendEmpty()
	worker.Resource().Attributes().PutStr("service.name", "worker")
	wss := worker.ScopeSpans().AppendEmpty()
	job := wss.Spans().AppendEmpty()
	job.SetTraceID(TraceID(JobID))
	job.SetSpanID(SpanID(JobSpan))
	job.SetName("job")
	job.SetKind(ptrace.SpanKindInternal)
	job.SetStartTimestamp(ts(5 * time.Minute))
	job.SetEndTimestamp(ts(5*time.Minute + 10*time.Millisecond))
	job.Status().SetCode(ptrace.StatusCodeOk)
	job.Attributes().PutStr("job.queue", "default")
	return td
}
