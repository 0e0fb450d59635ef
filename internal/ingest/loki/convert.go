package loki

import (
	"encoding/hex"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// serviceLabels are the stream labels that name the service, in order of preference.
// The first one present becomes the resource attribute service.name.
var serviceLabels = []string{"service_name", "service", "job", "app"}

// unknownService is service.name when no service label is present, as OpenTelemetry
// SDKs and Loki itself name it.
const unknownService = "unknown_service"

// levelKeys are the structured metadata keys, then stream labels, that give an entry its
// severity, in order of preference.
var levelKeys = []string{"level", "detected_level", "severity", "lvl"}

// toLogs converts decoded streams to OTLP logs, one ResourceLogs per stream:
//
//   - every stream label becomes a resource attribute of the same name, and service.name
//     is set from the first of service_name, service, job, app (else "unknown_service");
//   - the line is the body (a string), the entry timestamp the record timestamp, and the
//     time of receipt the observed timestamp;
//   - structured metadata become record attributes, except trace_id and span_id with
//     valid hex ids, which set the record's trace and span ids;
//   - the severity comes from a level, detected_level, severity or lvl key in structured
//     metadata, else in the stream labels: its text is kept as sent and mapped to an OTLP
//     severity number when it is a known level name.
func toLogs(streams []stream, observed time.Time) plog.Logs {
	ld := plog.NewLogs()
	obs := pcommon.NewTimestampFromTime(observed)
	for _, s := range streams {
		rl := ld.ResourceLogs().AppendEmpty()
		attrs := rl.Resource().Attributes()
		attrs.EnsureCapacity(len(s.labels) + 1)
		service := ""
		for _, l := range s.labels {
			attrs.PutStr(l.name, l.value)
		}
		for _, name := range serviceLabels {
			if v, ok := labelValue(s.labels, name); ok && v != "" {
				service = v
				break
			}
		}
		if service == "" {
			service = unknownService
		}
		attrs.PutStr("service.name", service)
		streamLevel, _ := firstLevel(s.labels)

		recs := rl.ScopeLogs().AppendEmpty().LogRecords()
		recs.EnsureCapacity(len(s.entries))
		for _, e := range s.entries {
			r := recs.AppendEmpty()
			r.SetTimestamp(pcommon.NewTimestampFromTime(e.ts))
			r.SetObservedTimestamp(obs)
			r.Body().SetStr(e.line)
			level := streamLevel
			if l, ok := firstLevel(e.metadata); ok {
				level = l
			}
			if level != "" {
				r.SetSeverityText(level)
				r.SetSeverityNumber(severityNumber(level))
			}
			ra := r.Attributes()
			ra.EnsureCapacity(len(e.metadata))
			for _, m := range e.metadata {
				var tid pcommon.TraceID
				var sid pcommon.SpanID
				switch {
				case m.name == "trace_id" && parseHexID(m.value, tid[:]):
					r.SetTraceID(tid)
				case m.name == "span_id" && parseHexID(m.value, sid[:]):
					r.SetSpanID(sid)
				default:
					ra.PutStr(m.name, m.value)
				}
			}
		}
	}
	return ld
}

func labelValue(ls []label, name string) (string, bool) {
	for _, l := range ls {
		if l.name == name {
			return l.value, true
		}
	}
	return "", false
}

func firstLevel(ls []label) (string, bool) {
	for _, k := range levelKeys {
		if v, ok := labelValue(ls, k); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// parseHexID decodes s into dst when s is exactly len(dst) bytes in hex and not all
// zeros, and reports whether it did.
func parseHexID(s string, dst []byte) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return false
	}
	for _, b := range dst {
		if b != 0 {
			return true
		}
	}
	return false
}

// severityNumber maps common level names (as Loki's detected_level, logrus, zap, pino,
// winston and syslog write them) to OTLP severity numbers; unknown names map to 0.
func severityNumber(level string) plog.SeverityNumber {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "trace", "trc":
		return plog.SeverityNumberTrace
	case "debug", "dbg", "verbose", "silly":
		return plog.SeverityNumberDebug
	case "info", "inf", "information", "informational", "notice", "http":
		return plog.SeverityNumberInfo
	case "warn", "warning", "wrn":
		return plog.SeverityNumberWarn
	case "error", "err", "eror":
		return plog.SeverityNumberError
	case "fatal", "critical", "crit", "panic", "emerg", "emergency", "alert":
		return plog.SeverityNumberFatal
	}
	return plog.SeverityNumberUnspecified
}
