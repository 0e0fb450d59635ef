package sentry

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ScopeName is the instrumentation scope of the spans made from Sentry transactions, so
// that they can be told from OTLP spans.
const ScopeName = "loupe/sentry"

const (
	maxSpansPerTransaction = 1000
	maxSpanAttributes      = 64
)

var errNoTrace = errors.New("transaction has no contexts.trace with a trace_id (32 hex digits) and span_id (16 hex digits)")

// DecodeTransaction turns a Sentry transaction payload into OTLP spans
// (https://develop.sentry.dev/sdk/data-model/event-payloads/transaction/): the root span
// from contexts.trace (its trace_id is the trace, the transaction name is the span name)
// and one span per entry of "spans". The resource names the project as service.name, with
// the release and environment. Spans without a valid span id or start time are skipped;
// a transaction without a trace context is an error.
func DecodeTransaction(payload []byte, meta eventMeta) (ptrace.Traces, error) {
	m, err := decodeObject(payload)
	if err != nil {
		return ptrace.Traces{}, err
	}
	return mapTransaction(m, meta)
}

func mapTransaction(m map[string]any, meta eventMeta) (ptrace.Traces, error) {
	trace := obj(obj(m["contexts"])["trace"])
	traceID := hexID(trace["trace_id"], 32)
	rootID := hexID(trace["span_id"], 16)
	if traceID == "" || rootID == "" {
		return ptrace.Traces{}, errNoTrace
	}
	end, ok := timestamp(m["timestamp"])
	if !ok {
		end = meta.Received
	}
	start, ok := timestamp(m["start_timestamp"])
	if !ok || start.After(end) {
		start = end
	}

	td, res, spans := newTraces(meta)
	for key, attr := range map[string]string{"release": "service.version", "environment": "deployment.environment.name", "server_name": "host.name", "platform": "telemetry.sdk.language"} {
		if v := str(m[key], maxShortBytes); v != "" {
			res.PutStr(attr, v)
		}
	}
	if sdk := obj(m["sdk"]); sdk != nil {
		if v := str(sdk["name"], maxShortBytes); v != "" {
			res.PutStr("telemetry.sdk.name", v)
		}
		if v := str(sdk["version"], maxShortBytes); v != "" {
			res.PutStr("telemetry.sdk.version", v)
		}
	}

	root := spans.AppendEmpty()
	fillSpan(root, traceID, rootID, hexID(trace["parent_span_id"], 16), start, end)
	name := str(m["transaction"], maxShortBytes)
	if name == "" {
		name = str(trace["op"], maxShortBytes)
	}
	root.SetName(name)
	setKindStatus(root, str(trace["op"], maxShortBytes), str(trace["status"], 64))
	attrs := root.Attributes()
	putAttr(attrs, "sentry.op", trace["op"])
	putAttr(attrs, "sentry.event_id", eventID(m["event_id"], meta.EventID))
	if src := obj(m["transaction_info"]); src != nil {
		putAttr(attrs, "sentry.transaction.source", src["source"])
	}
	putAttrs(attrs, stringMapAny(m["tags"]))
	putAttrs(attrs, obj(trace["data"]))

	n := 1
	for _, e := range arr(m["spans"]) {
		if n > maxSpansPerTransaction {
			break
		}
		s := obj(e)
		spanID := hexID(s["span_id"], 16)
		st, ok := timestamp(s["start_timestamp"])
		if spanID == "" || !ok {
			continue
		}
		et, ok := timestamp(s["timestamp"])
		if !ok || et.Before(st) {
			et = st
		}
		tid := hexID(s["trace_id"], 32)
		if tid == "" {
			tid = traceID
		}
		parent := hexID(s["parent_span_id"], 16)
		if parent == "" {
			parent = rootID
		}
		sp := spans.AppendEmpty()
		fillSpan(sp, tid, spanID, parent, st, et)
		op := str(s["op"], maxShortBytes)
		desc := str(s["description"], maxShortBytes)
		switch {
		case desc != "":
			sp.SetName(desc)
		case op != "":
			sp.SetName(op)
		default:
			sp.SetName("span")
		}
		setKindStatus(sp, op, str(s["status"], 64))
		putAttr(sp.Attributes(), "sentry.op", s["op"])
		putAttrs(sp.Attributes(), stringMapAny(s["tags"]))
		putAttrs(sp.Attributes(), obj(s["data"]))
		n++
	}
	return td, nil
}

// newTraces starts the spans of one item: a resource naming the project (service.name is
// its name, sentry.project its id) and the ScopeName scope, whose spans are returned.
func newTraces(meta eventMeta) (ptrace.Traces, pcommon.Map, ptrace.SpanSlice) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	res.PutStr("service.name", meta.Service)
	res.PutStr("sentry.project", meta.Project)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(ScopeName)
	return td, res, ss.Spans()
}

func fillSpan(sp ptrace.Span, traceID, spanID, parentID string, start, end time.Time) {
	var tid pcommon.TraceID
	var sid, pid pcommon.SpanID
	_, _ = hex.Decode(tid[:], []byte(traceID))
	_, _ = hex.Decode(sid[:], []byte(spanID))
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	if parentID != "" {
		_, _ = hex.Decode(pid[:], []byte(parentID))
		sp.SetParentSpanID(pid)
	}
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
}

// setKindStatus derives the OTLP span kind from Sentry's op ("http.server", "http.client",
// "db.query", ...) and the status from Sentry's span status ("ok", "internal_error", ...).
func setKindStatus(sp ptrace.Span, op, status string) {
	switch {
	case op == "http.server" || strings.HasSuffix(op, ".server") || op == "function.aws" || op == "function.gcp":
		sp.SetKind(ptrace.SpanKindServer)
	case op == "http.client" || strings.HasPrefix(op, "db") || strings.HasPrefix(op, "cache") || strings.HasSuffix(op, ".client"):
		sp.SetKind(ptrace.SpanKindClient)
	case strings.HasPrefix(op, "queue.publish"):
		sp.SetKind(ptrace.SpanKindProducer)
	case strings.HasPrefix(op, "queue.process") || strings.HasPrefix(op, "queue.task"):
		sp.SetKind(ptrace.SpanKindConsumer)
	default:
		sp.SetKind(ptrace.SpanKindInternal)
	}
	switch status {
	case "":
	case "ok":
		sp.Status().SetCode(ptrace.StatusCodeOk)
	default:
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(status)
	}
}

// stringMapAny is stringMap as a map[string]any, for putAttrs.
func stringMapAny(v any) map[string]any {
	sm := stringMap(v, maxTags)
	if sm == nil {
		return nil
	}
	out := make(map[string]any, len(sm))
	for k, val := range sm {
		out[k] = val
	}
	return out
}

func putAttrs(attrs pcommon.Map, m map[string]any) {
	for k, v := range m {
		if attrs.Len() >= maxSpanAttributes {
			return
		}
		putAttr(attrs, clipUTF8(k, maxShortBytes), v)
	}
}

// putAttr stores a JSON value as an attribute: scalars as themselves (integral numbers as
// ints), objects and arrays as their JSON text.
func putAttr(attrs pcommon.Map, key string, v any) {
	if key == "" || attrs.Len() >= maxSpanAttributes {
		return
	}
	switch x := v.(type) {
	case string:
		if x != "" {
			attrs.PutStr(key, clipUTF8(x, maxStringBytes))
		}
	case bool:
		attrs.PutBool(key, x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			attrs.PutInt(key, int64(x))
		} else if !math.IsNaN(x) && !math.IsInf(x, 0) {
			attrs.PutDouble(key, x)
		}
	case map[string]any, []any:
		b, err := json.Marshal(bounded(x, 3))
		if err == nil {
			attrs.PutStr(key, clipUTF8(string(b), maxStringBytes))
		}
	}
}
