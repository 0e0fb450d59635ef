package sentry

import (
	"errors"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

var errNoSpans = errors.New(`span item has no span with a trace_id (32 hex digits), span_id (16 hex digits) and start_timestamp`)

// DecodeSpans turns a "span" item into OTLP spans. Newer SDKs (@sentry/node 10+, with span
// streaming) send spans alone instead of a transaction: version 2 is
// {"version": 2, "items": [span, ...]} (content type
// application/vnd.sentry.items.span.v2+json) with attributes as {"key": {"value": v,
// "type": t}}; version 1 is one span object as in a transaction's "spans". Spans without
// valid ids or start are skipped; an item with none is an error.
func DecodeSpans(payload []byte, meta eventMeta) (ptrace.Traces, error) {
	m, err := decodeObject(payload)
	if err != nil {
		return ptrace.Traces{}, err
	}
	list := arr(m["items"])
	if list == nil {
		list = []any{m}
	}
	td, res, spans := newTraces(meta)
	n := 0
	for _, e := range list {
		if n >= maxSpansPerTransaction {
			break
		}
		s := obj(e)
		traceID, spanID := hexID(s["trace_id"], 32), hexID(s["span_id"], 16)
		start, ok := timestamp(s["start_timestamp"])
		if traceID == "" || spanID == "" || !ok {
			continue
		}
		end, ok := timestamp(s["end_timestamp"])
		if !ok {
			end, ok = timestamp(s["timestamp"])
		}
		if !ok || end.Before(start) {
			end = start
		}
		attrs := spanAttributes(s["attributes"])
		if attrs == nil {
			attrs = obj(s["data"])
		}
		sp := spans.AppendEmpty()
		fillSpan(sp, traceID, spanID, hexID(s["parent_span_id"], 16), start, end)
		op := str(attrs["sentry.op"], maxShortBytes)
		if op == "" {
			op = str(s["op"], maxShortBytes)
		}
		name := str(s["name"], maxShortBytes)
		if name == "" {
			name = str(s["description"], maxShortBytes)
		}
		if name == "" {
			name = op
		}
		sp.SetName(name)
		status := str(s["status"], 64)
		if status == "error" {
			status = "internal_error"
		}
		setKindStatus(sp, op, status)
		for key, attr := range map[string]string{"sentry.release": "service.version", "sentry.environment": "deployment.environment.name"} {
			if v := str(attrs[key], maxShortBytes); v != "" {
				if _, exists := res.Get(attr); !exists {
					res.PutStr(attr, v)
				}
			}
		}
		putAttrs(sp.Attributes(), attrs)
		n++
	}
	if n == 0 {
		return ptrace.Traces{}, errNoSpans
	}
	return td, nil
}

// spanAttributes reads version 2 attributes, {"key": {"value": v, "type": t}}, as plain
// values; a value that is not so wrapped is taken as it is.
func spanAttributes(v any) map[string]any {
	m := obj(v)
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		if w := obj(val); w != nil {
			if inner, ok := w["value"]; ok {
				out[k] = inner
				continue
			}
		}
		out[k] = val
	}
	return out
}
