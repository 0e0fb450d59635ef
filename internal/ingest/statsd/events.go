package statsd

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Event is a DogStatsD event:
//
//	_e{<title length>,<text length>}:<title>|<text>[|d:<unix>][|h:<host>][|k:<key>][|p:<priority>][|s:<source>][|t:<alert type>][|#tags]
type Event struct {
	Title, Text    string
	Timestamp      time.Time // zero when absent
	Host           string
	AggregationKey string
	Priority       string // normal or low
	SourceType     string
	AlertType      string // error, warning, info or success
	Tags           []Tag
}

// ServiceCheck is a DogStatsD service check:
//
//	_sc|<name>|<status>[|d:<unix>][|h:<host>][|#tags][|m:<message>]
type ServiceCheck struct {
	Name      string
	Status    int // 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
	Timestamp time.Time
	Host      string
	Message   string
	Tags      []Tag
}

var checkStatusText = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// ParseEvent parses a line starting with "_e{". Title and text lengths are in bytes, as
// DogStatsD clients send them; "\n" in the text stands for a newline.
func ParseEvent(line []byte) (Event, error) {
	var e Event
	if !utf8.Valid(line) {
		return e, perr(reasonInvalidUTF8, "line is not valid UTF-8")
	}
	b, ok := bytes.CutPrefix(line, []byte("_e{"))
	if !ok {
		return e, perr(reasonBadEvent, "event does not start with _e{")
	}
	lens, b, ok := bytes.Cut(b, []byte("}:"))
	if !ok {
		return e, perr(reasonBadEvent, "event has no {title length,text length}: header")
	}
	tl, xl, ok := bytes.Cut(lens, []byte{','})
	titleLen, err1 := strconv.Atoi(string(tl))
	textLen, err2 := strconv.Atoi(string(xl))
	if !ok || err1 != nil || err2 != nil || titleLen <= 0 || textLen < 0 {
		return e, perr(reasonBadEvent, "event lengths "+strconv.Quote(string(lens))+" are not two numbers")
	}
	if titleLen+1+textLen > len(b) || b[titleLen] != '|' {
		return e, perr(reasonBadEvent, "event title and text do not match their lengths")
	}
	e.Title = string(b[:titleLen])
	e.Text = strings.ReplaceAll(string(b[titleLen+1:titleLen+1+textLen]), `\n`, "\n")
	rest := b[titleLen+1+textLen:]
	if len(rest) > 0 {
		if rest[0] != '|' {
			return e, perr(reasonBadEvent, "event text is longer than its length")
		}
		rest = rest[1:]
	}
	for len(rest) > 0 {
		var f []byte
		f, rest = cutPipe(rest)
		switch {
		case bytes.HasPrefix(f, []byte("d:")):
			ts, err := parseUnix(f[2:])
			if err != nil {
				return e, perr(reasonBadEvent, "event timestamp "+strconv.Quote(string(f[2:]))+" is not a unix time")
			}
			e.Timestamp = ts
		case bytes.HasPrefix(f, []byte("h:")):
			e.Host = string(f[2:])
		case bytes.HasPrefix(f, []byte("k:")):
			e.AggregationKey = string(f[2:])
		case bytes.HasPrefix(f, []byte("p:")):
			e.Priority = string(f[2:])
		case bytes.HasPrefix(f, []byte("s:")):
			e.SourceType = string(f[2:])
		case bytes.HasPrefix(f, []byte("t:")):
			e.AlertType = string(f[2:])
		case bytes.HasPrefix(f, []byte("#")):
			tags, err := parseTags(f[1:])
			if err != nil {
				return e, err
			}
			e.Tags = append(e.Tags, tags...)
		case bytes.HasPrefix(f, []byte("c:")), bytes.HasPrefix(f, []byte("e:")):
			// container id and external data: ignored
		default:
			return e, perr(reasonBadEvent, "unknown event field "+strconv.Quote(string(f)))
		}
	}
	return e, nil
}

// ParseServiceCheck parses a line starting with "_sc|".
func ParseServiceCheck(line []byte) (ServiceCheck, error) {
	var c ServiceCheck
	if !utf8.Valid(line) {
		return c, perr(reasonInvalidUTF8, "line is not valid UTF-8")
	}
	b, ok := bytes.CutPrefix(line, []byte("_sc|"))
	if !ok {
		return c, perr(reasonBadCheck, "service check does not start with _sc|")
	}
	name, b := cutPipe(b)
	if len(name) == 0 {
		return c, perr(reasonBadCheck, "service check has an empty name")
	}
	c.Name = string(name)
	status, b := cutPipe(b)
	st, err := strconv.Atoi(string(status))
	if err != nil || st < 0 || st > 3 {
		return c, perr(reasonBadCheck, "service check status "+strconv.Quote(string(status))+" is not 0, 1, 2 or 3")
	}
	c.Status = st
	for len(b) > 0 {
		var f []byte
		// The message comes last and may contain '|'.
		if bytes.HasPrefix(b, []byte("m:")) {
			c.Message = strings.ReplaceAll(string(b[2:]), `\n`, "\n")
			break
		}
		f, b = cutPipe(b)
		switch {
		case bytes.HasPrefix(f, []byte("d:")):
			ts, err := parseUnix(f[2:])
			if err != nil {
				return c, perr(reasonBadCheck, "service check timestamp "+strconv.Quote(string(f[2:]))+" is not a unix time")
			}
			c.Timestamp = ts
		case bytes.HasPrefix(f, []byte("h:")):
			c.Host = string(f[2:])
		case bytes.HasPrefix(f, []byte("#")):
			tags, err := parseTags(f[1:])
			if err != nil {
				return c, err
			}
			c.Tags = append(c.Tags, tags...)
		case bytes.HasPrefix(f, []byte("c:")), bytes.HasPrefix(f, []byte("e:")):
		default:
			return c, perr(reasonBadCheck, "unknown service check field "+strconv.Quote(string(f)))
		}
	}
	return c, nil
}

func parseUnix(b []byte) (time.Time, error) {
	s, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || s < 0 || s > 1<<40 {
		return time.Time{}, strconv.ErrRange
	}
	return time.Unix(s, 0), nil
}

// Log records made from events and service checks. Each record carries the attribute
// "statsd.type" ("event" or "service_check"); tags become attributes (a tag without a
// value gets the empty string) and the host becomes the resource attribute host.name.
// service.name is the "service" tag when present, else "statsd".

// appendEvent adds e as a log record to ld.
func appendEvent(ld plog.Logs, e Event, now time.Time) {
	lr := newRecord(ld, e.Host, e.Tags)
	setTimes(lr, e.Timestamp, now)
	lr.Body().SetStr(e.Text)
	a := lr.Attributes()
	a.PutStr("statsd.type", "event")
	a.PutStr("event.title", e.Title)
	putIf(a, "event.aggregation_key", e.AggregationKey)
	putIf(a, "event.priority", e.Priority)
	putIf(a, "event.source_type", e.SourceType)
	putIf(a, "event.alert_type", e.AlertType)
	switch e.AlertType {
	case "error":
		lr.SetSeverityNumber(plog.SeverityNumberError)
		lr.SetSeverityText("ERROR")
	case "warning":
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetSeverityText("WARN")
	default: // info, success, absent
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
	}
}

// appendServiceCheck adds c as a log record to ld.
func appendServiceCheck(ld plog.Logs, c ServiceCheck, now time.Time) {
	lr := newRecord(ld, c.Host, c.Tags)
	setTimes(lr, c.Timestamp, now)
	status := checkStatusText[c.Status]
	if c.Message != "" {
		lr.Body().SetStr(c.Message)
	} else {
		lr.Body().SetStr(c.Name + " " + status)
	}
	a := lr.Attributes()
	a.PutStr("statsd.type", "service_check")
	a.PutStr("check.name", c.Name)
	a.PutInt("check.status", int64(c.Status))
	a.PutStr("check.status_text", status)
	switch c.Status {
	case 0:
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
	case 2:
		lr.SetSeverityNumber(plog.SeverityNumberError)
		lr.SetSeverityText("ERROR")
	default: // WARNING, UNKNOWN
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetSeverityText("WARN")
	}
}

func newRecord(ld plog.Logs, host string, tags []Tag) plog.LogRecord {
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	service := "statsd"
	for _, t := range tags {
		if t.Key == "service" && t.Value != "" {
			service = t.Value
		}
	}
	res.PutStr("service.name", service)
	putIf(res, "host.name", host)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("loupe/statsd")
	lr := sl.LogRecords().AppendEmpty()
	for _, t := range tags {
		lr.Attributes().PutStr(t.Key, t.Value)
	}
	return lr
}

func setTimes(lr plog.LogRecord, ts, now time.Time) {
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(now))
	if ts.IsZero() {
		ts = now
	}
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
}

func putIf(m pcommon.Map, k, v string) {
	if v != "" {
		m.PutStr(k, v)
	}
}
