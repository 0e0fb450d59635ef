package tempo

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"
)

const (
	contentTypeProtobuf = "application/protobuf"
	contentTypeJSON     = "application/json"
)

// traceByID serves GET /api/traces/<id> (v2=false) and /api/v2/traces/<id> (v2=true).
//
// Tempo's tempopb.Trace is `repeated ResourceSpans batches = 1`, the same wire format as
// OTLP's ExportTraceServiceRequest (`resource_spans = 1`), so the protobuf answer is the
// OTLP request encoding as pdata writes it. Grafana asks for protobuf. The JSON answer is
// OTLP JSON (hex ids, as the OTLP specification says) with the top-level key "batches",
// as Tempo's v1 route keeps it for compatibility. v2 wraps the trace as
// TraceByIDResponse: {"trace": {"resourceSpans": [...]}, "status": "COMPLETE"} in JSON
// (Tempo 2.6 renamed the field and kept "batches" only on v1), field 1 in protobuf.
func (a *API) traceByID(v2 bool) apiFunc {
	return func(r *http.Request) result {
		id, err := parseTraceID(r.PathValue("id"))
		if err != nil {
			return result{err: badRequest("%v", err)}
		}
		td, err := a.traces.GetTrace(r.Context(), id)
		if err != nil {
			return result{err: fmt.Errorf("get trace %s: %w", id, err)}
		}
		if wantsProtobuf(r.Header.Get("Accept")) {
			b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
			if err != nil {
				return result{err: fmt.Errorf("encode trace: %w", err)}
			}
			if v2 {
				b = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), b)
			}
			return result{raw: b, contentType: contentTypeProtobuf}
		}
		if v2 {
			// Tempo 2.6+ writes the v2 trace as OTLP JSON (resourceSpans) and says
			// whether the answer is partial; Loupe's answer is always the whole trace.
			b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
			if err != nil {
				return result{err: fmt.Errorf("encode trace: %w", err)}
			}
			b = append(append([]byte(`{"trace":`), b...), `,"status":"COMPLETE"}`...)
			return result{raw: b, contentType: contentTypeJSON}
		}
		b, err := traceJSON(td)
		if err != nil {
			return result{err: err}
		}
		return result{raw: b, contentType: contentTypeJSON}
	}
}

// traceJSON encodes td as Tempo's JSON trace: OTLP JSON with "batches" in place of
// "resourceSpans".
func traceJSON(td ptrace.Traces) ([]byte, error) {
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return nil, fmt.Errorf("encode trace: %w", err)
	}
	const otlpKey, tempoKey = `{"resourceSpans":`, `{"batches":`
	if !bytes.HasPrefix(b, []byte(otlpKey)) {
		// pdata always writes this key first; if that ever changes, fail loudly in tests
		// rather than answer a trace Grafana cannot read.
		return nil, fmt.Errorf("encode trace: unexpected OTLP JSON prefix %.20q", b)
	}
	return append([]byte(tempoKey), b[len(otlpKey):]...), nil
}

// wantsProtobuf reports whether the Accept header asks for protobuf before JSON.
// Tempo recognises application/protobuf; application/x-protobuf is accepted too.
func wantsProtobuf(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/protobuf", "application/x-protobuf":
			return true
		case "application/json", "*/*", "application/*":
			return false
		}
	}
	return false
}

// parseTraceID accepts 1 to 32 hex digits and left-pads them with zeros, as Tempo does
// (64-bit Jaeger or Zipkin ids are 16 digits).
func parseTraceID(s string) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	if s == "" || len(s) > 32 {
		return id, fmt.Errorf("trace id %q: want 1 to 32 hex digits", clip(s))
	}
	padded := strings.Repeat("0", 32-len(s)) + s
	if _, err := hex.Decode(id[:], []byte(padded)); err != nil {
		return id, fmt.Errorf("trace id %q: want 1 to 32 hex digits", clip(s))
	}
	if id.IsEmpty() {
		return id, fmt.Errorf("trace id %q is all zeros", clip(s))
	}
	return id, nil
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
