package storetest

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/store"
)

// testLog is one generated log record with the fields the reference filter needs.
type testLog struct {
	id       int64 // also the "i" attribute, to identify results
	ts       time.Time
	service  string
	host     string
	severity plog.SeverityNumber
	sevText  string
	body     string
	attrs    map[string]string // string forms, as filters compare them
	traceID  pcommon.TraceID
	spanID   pcommon.SpanID
}

var (
	logServices = []string{"api", "db", "web"}
	severities  = []struct {
		num  plog.SeverityNumber
		text string
	}{
		{plog.SeverityNumberDebug, "DEBUG"},
		{plog.SeverityNumberInfo, "INFO"},
		{plog.SeverityNumberInfo, "info"},
		{plog.SeverityNumberWarn, "WARN"},
		{plog.SeverityNumberError, "ERROR"},
		{plog.SeverityNumberInfo2, ""},
	}
	methods = []string{"GET", "POST", "PUT"}
)

// makeLogs generates n records spread over three days, every 8.6 minutes or so, with
// unique timestamps so that newest-first order is fully determined.
func makeLogs(n int) []testLog {
	step := 3 * 24 * time.Hour / time.Duration(n)
	out := make([]testLog, n)
	for i := range out {
		sev := severities[i%len(severities)]
		l := testLog{
			id:       int64(i),
			ts:       base.Add(time.Duration(i)*step + 1234),
			service:  logServices[i%len(logServices)],
			host:     fmt.Sprintf("h%d", i%4),
			severity: sev.num,
			sevText:  sev.text,
			body:     fmt.Sprintf("request %d handled in %dms", i, i%97),
			attrs: map[string]string{
				"i":                fmt.Sprint(i),
				"http.method":      methods[i%len(methods)],
				"http.status_code": fmt.Sprint([]int{200, 200, 404, 500}[i%4]),
				"retry":            fmt.Sprint(i%5 == 0),
			},
		}
		if i%10 == 3 {
			l.body = fmt.Sprintf("found the NeEdLe in request %d", i)
		}
		if i%3 == 0 {
			binary.BigEndian.PutUint64(l.traceID[:8], uint64(i)+1)
			binary.BigEndian.PutUint64(l.traceID[8:], 0xfeedface)
			binary.BigEndian.PutUint64(l.spanID[:], uint64(i)+100)
		}
		out[i] = l
	}
	return out
}

// toPlog builds OTLP logs, one ResourceLogs per service and host.
func toPlog(logs []testLog) plog.Logs {
	ld := plog.NewLogs()
	scopes := map[string]plog.ScopeLogs{}
	for _, l := range logs {
		key := l.service + "/" + l.host
		sl, ok := scopes[key]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", l.service)
			rl.Resource().Attributes().PutStr("host.name", l.host)
			sl = rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName("storetest")
			sl.Scope().SetVersion("1.0")
			scopes[key] = sl
		}
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(l.ts))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(l.ts.Add(time.Millisecond)))
		lr.SetSeverityNumber(l.severity)
		lr.SetSeverityText(l.sevText)
		lr.Body().SetStr(l.body)
		lr.Attributes().PutInt("i", l.id)
		lr.Attributes().PutStr("http.method", l.attrs["http.method"])
		code := int64(200)
		fmt.Sscan(l.attrs["http.status_code"], &code)
		lr.Attributes().PutInt("http.status_code", code)
		lr.Attributes().PutBool("retry", l.attrs["retry"] == "true")
		lr.SetTraceID(l.traceID)
		lr.SetSpanID(l.spanID)
	}
	return ld
}

// matchLog is the reference implementation of store.LogFilter.
func matchLog(l testLog, f store.LogFilter) bool {
	if !f.Start.IsZero() && l.ts.Before(f.Start) {
		return false
	}
	if !f.End.IsZero() && !l.ts.Before(f.End) {
		return false
	}
	if len(f.Services) > 0 && !slices.Contains(f.Services, l.service) {
		return false
	}
	if f.MinSeverity > 0 && int32(l.severity) < f.MinSeverity {
		return false
	}
	if f.Contains != "" && !strings.Contains(strings.ToLower(l.body), strings.ToLower(f.Contains)) {
		return false
	}
	if !f.TraceID.IsEmpty() && l.traceID != f.TraceID {
		return false
	}
	if !f.SpanID.IsEmpty() && l.spanID != f.SpanID {
		return false
	}
	for _, a := range f.Attrs {
		v, ok := l.attrs[a.Key]
		if !ok {
			switch a.Key {
			case "service.name":
				v = l.service
			case "host.name":
				v = l.host
			}
		}
		if !matchAttr(a, v) {
			return false
		}
	}
	return true
}

func matchAttr(a store.AttrFilter, v string) bool {
	switch a.Op {
	case store.MatchEqual:
		return v == a.Value
	case store.MatchNotEqual:
		return v != a.Value
	case store.MatchRegexp:
		return regexp.MustCompile("^(?:" + a.Value + ")$").MatchString(v)
	case store.MatchNotRegexp:
		return !regexp.MustCompile("^(?:" + a.Value + ")$").MatchString(v)
	}
	return false
}

// wantLogIDs returns the ids of matching records, newest first.
func wantLogIDs(logs []testLog, f store.LogFilter) []int64 {
	var ids []int64
	for i := len(logs) - 1; i >= 0; i-- {
		if matchLog(logs[i], f) {
			ids = append(ids, logs[i].id)
		}
	}
	return ids
}

// normSeverity mirrors the severity text normalisation CountLogs documents.
func normSeverity(l testLog) string {
	if l.sevText != "" {
		return strings.ToUpper(l.sevText)
	}
	switch n := l.severity; {
	case n >= 1 && n <= 4:
		return "TRACE"
	case n >= 5 && n <= 8:
		return "DEBUG"
	case n >= 9 && n <= 12:
		return "INFO"
	case n >= 13 && n <= 16:
		return "WARN"
	case n >= 17 && n <= 20:
		return "ERROR"
	case n >= 21 && n <= 24:
		return "FATAL"
	}
	return ""
}
