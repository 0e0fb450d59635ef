package jaeger

import (
	"encoding/json"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The JSON model of Jaeger's query service (jaeger model/json), as the Jaeger UI and
// Grafana's Jaeger data source read it. Times and durations are microseconds.

type jTrace struct {
	TraceID   string              `json:"traceID"`
	Spans     []jSpan             `json:"spans"`
	Processes map[string]jProcess `json:"processes"`
	Warnings  []string            `json:"warnings"`
}

type jSpan struct {
	TraceID       string       `json:"traceID"`
	SpanID        string       `json:"spanID"`
	Flags         uint32       `json:"flags,omitempty"`
	OperationName string       `json:"operationName"`
	References    []jReference `json:"references"`
	StartTime     int64        `json:"startTime"`
	Duration      int64        `json:"duration"`
	Tags          []jKeyValue  `json:"tags"`
	Logs          []jLog       `json:"logs"`
	ProcessID     string       `json:"processID"`
	Warnings      []string     `json:"warnings"`
}

type jReference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jKeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jLog struct {
	Timestamp int64       `json:"timestamp"`
	Fields    []jKeyValue `json:"fields"`
}

type jProcess struct {
	ServiceName string      `json:"serviceName"`
	Tags        []jKeyValue `json:"tags"`
}

// toJaeger converts one trace to the Jaeger model, the way Jaeger's own OTLP translator
// does: the parent becomes a CHILD_OF reference and links FOLLOWS_FROM references; kind,
// status and scope become tags (span.kind, otel.status_code, error=true,
// otel.scope.name); events become logs with the name in an "event" field; each distinct
// resource is a process (p1, p2, ...) named by service.name.
//
// Ids are 32 hex digits (Jaeger prints 64-bit ids as 16; Loupe keeps the OTLP form so the
// id matches the one in logs and in the Tempo API).
func toJaeger(td ptrace.Traces) jTrace {
	t := jTrace{Spans: []jSpan{}, Processes: map[string]jProcess{}, Warnings: []string{}}
	seen := map[string]string{} // process JSON -> id
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		pid := processID(t.Processes, seen, rs.Resource())
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				sp := ss.Spans().At(k)
				if t.TraceID == "" {
					t.TraceID = sp.TraceID().String()
				}
				t.Spans = append(t.Spans, toJaegerSpan(sp, ss.Scope(), pid))
			}
		}
	}
	return t
}

// processID returns the id of the process for res, adding it to procs when new.
// Resources with equal attributes share one process.
func processID(procs map[string]jProcess, seen map[string]string, res pcommon.Resource) string {
	p := jProcess{ServiceName: "unknown_service", Tags: []jKeyValue{}}
	res.Attributes().Range(func(k string, v pcommon.Value) bool {
		if k == "service.name" {
			p.ServiceName = v.AsString()
		} else {
			p.Tags = append(p.Tags, keyValue(k, v))
		}
		return true
	})
	b, _ := json.Marshal(p) // plain values: cannot fail
	if id, ok := seen[string(b)]; ok {
		return id
	}
	id := "p" + strconv.Itoa(len(procs)+1)
	procs[id] = p
	seen[string(b)] = id
	return id
}

func toJaegerSpan(sp ptrace.Span, scope pcommon.InstrumentationScope, pid string) jSpan {
	traceID := sp.TraceID().String()
	js := jSpan{
		TraceID:       traceID,
		SpanID:        sp.SpanID().String(),
		Flags:         sp.Flags(),
		OperationName: sp.Name(),
		References:    []jReference{},
		StartTime:     int64(sp.StartTimestamp()) / 1000,
		Duration:      max(int64(sp.EndTimestamp())-int64(sp.StartTimestamp()), 0) / 1000,
		Tags:          []jKeyValue{},
		Logs:          []jLog{},
		ProcessID:     pid,
		Warnings:      []string{},
	}
	if !sp.ParentSpanID().IsEmpty() {
		js.References = append(js.References, jReference{RefType: "CHILD_OF", TraceID: traceID, SpanID: sp.ParentSpanID().String()})
	}
	for i := 0; i < sp.Links().Len(); i++ {
		l := sp.Links().At(i)
		js.References = append(js.References, jReference{RefType: "FOLLOWS_FROM", TraceID: l.TraceID().String(), SpanID: l.SpanID().String()})
	}
	sp.Attributes().Range(func(k string, v pcommon.Value) bool {
		js.Tags = append(js.Tags, keyValue(k, v))
		return true
	})
	if kind := spanKind(sp.Kind()); kind != "" {
		js.Tags = append(js.Tags, jKeyValue{Key: "span.kind", Type: "string", Value: kind})
	}
	switch sp.Status().Code() {
	case ptrace.StatusCodeError:
		js.Tags = append(js.Tags,
			jKeyValue{Key: "otel.status_code", Type: "string", Value: "ERROR"},
			jKeyValue{Key: "error", Type: "bool", Value: true})
		if msg := sp.Status().Message(); msg != "" {
			js.Tags = append(js.Tags, jKeyValue{Key: "otel.status_description", Type: "string", Value: msg})
		}
	case ptrace.StatusCodeOk:
		js.Tags = append(js.Tags, jKeyValue{Key: "otel.status_code", Type: "string", Value: "OK"})
	}
	if scope.Name() != "" {
		js.Tags = append(js.Tags, jKeyValue{Key: "otel.scope.name", Type: "string", Value: scope.Name()})
	}
	if scope.Version() != "" {
		js.Tags = append(js.Tags, jKeyValue{Key: "otel.scope.version", Type: "string", Value: scope.Version()})
	}
	if ts := sp.TraceState().AsRaw(); ts != "" {
		js.Tags = append(js.Tags, jKeyValue{Key: "w3c.tracestate", Type: "string", Value: ts})
	}
	for i := 0; i < sp.Events().Len(); i++ {
		ev := sp.Events().At(i)
		l := jLog{Timestamp: int64(ev.Timestamp()) / 1000, Fields: []jKeyValue{}}
		if ev.Name() != "" {
			l.Fields = append(l.Fields, jKeyValue{Key: "event", Type: "string", Value: ev.Name()})
		}
		ev.Attributes().Range(func(k string, v pcommon.Value) bool {
			l.Fields = append(l.Fields, keyValue(k, v))
			return true
		})
		js.Logs = append(js.Logs, l)
	}
	return js
}

func spanKind(k ptrace.SpanKind) string {
	switch k {
	case ptrace.SpanKindServer:
		return "server"
	case ptrace.SpanKindClient:
		return "client"
	case ptrace.SpanKindProducer:
		return "producer"
	case ptrace.SpanKindConsumer:
		return "consumer"
	case ptrace.SpanKindInternal:
		return "internal"
	}
	return ""
}

// keyValue converts an attribute to a Jaeger tag. Arrays and maps, which Jaeger tags
// cannot hold, become their JSON text as a string; non-finite doubles become strings
// because JSON has no NaN.
func keyValue(k string, v pcommon.Value) jKeyValue {
	switch v.Type() {
	case pcommon.ValueTypeBool:
		return jKeyValue{Key: k, Type: "bool", Value: v.Bool()}
	case pcommon.ValueTypeInt:
		return jKeyValue{Key: k, Type: "int64", Value: v.Int()}
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
			return jKeyValue{Key: k, Type: "string", Value: v.AsString()}
		}
		return jKeyValue{Key: k, Type: "float64", Value: f}
	case pcommon.ValueTypeBytes:
		return jKeyValue{Key: k, Type: "binary", Value: v.Bytes().AsRaw()} // base64 in JSON
	default:
		return jKeyValue{Key: k, Type: "string", Value: v.AsString()}
	}
}
