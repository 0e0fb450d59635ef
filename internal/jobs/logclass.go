package jobs

import (
	"bytes"

	"go.opentelemetry.io/collector/pdata/plog"
)

// logEntry is one log record made of output: one line, or the lines of a Python traceback.
type logEntry struct {
	Line
	Severity plog.SeverityNumber
	// Lines is how many output lines the entry holds (1 but for tracebacks).
	Lines int
}

// Bounds of one traceback record: past maxTracebackLines the record is sent and the
// following lines are records of their own; past maxTracebackBytes its body is cut (and
// marked truncated, like a long line).
const (
	maxTracebackLines = 500
	maxTracebackBytes = 64 << 10
)

// logClassifier turns the lines of a job's output into log entries with a severity: the
// level the line declares (parseLevel), else INFO for stdout and none for stderr (a line
// on stderr is as often progress or a warning as an error; log.iostream says where it came
// from). The lines of a Python traceback, from "Traceback (most recent call last):" to the
// exception line, become one ERROR entry. Not safe for concurrent use: the ship loop owns it.
type logClassifier struct {
	open map[string]*logEntry // the traceback being gathered, per stream
}

func newLogClassifier() *logClassifier {
	return &logClassifier{open: map[string]*logEntry{}}
}

// add classifies l and appends what is complete to out. A traceback is held until its
// exception line (or the next line that does not belong to it) arrives.
func (c *logClassifier) add(l Line, out []logEntry) []logEntry {
	body := bytes.TrimRight(l.Body, "\r")
	if tb := c.open[l.Stream]; tb != nil {
		indented := len(body) > 0 && (body[0] == ' ' || body[0] == '\t')
		switch {
		case string(body) == tracebackHeader:
			// A new traceback without the exception line of the last one.
			out = append(out, *tb)
			delete(c.open, l.Stream)
		case indented:
			appendLine(tb, l)
			if tb.Lines >= maxTracebackLines {
				out = append(out, *tb)
				delete(c.open, l.Stream)
			}
			return out
		default:
			// The exception line ("ValueError: bad value") ends the traceback.
			appendLine(tb, l)
			delete(c.open, l.Stream)
			return append(out, *tb)
		}
	}
	if string(body) == tracebackHeader && !l.Truncated {
		e := logEntry{Line: l, Severity: plog.SeverityNumberError, Lines: 1}
		e.Body = bytes.Clone(body)
		c.open[l.Stream] = &e
		return out
	}
	sev, ok := parseLevel(body)
	if !ok && l.Stream == "stdout" {
		sev = plog.SeverityNumberInfo
	}
	return append(out, logEntry{Line: l, Severity: sev, Lines: 1})
}

// flush appends the tracebacks still being gathered: the output ended.
func (c *logClassifier) flush(out []logEntry) []logEntry {
	for _, s := range []string{"stdout", "stderr"} {
		if tb := c.open[s]; tb != nil {
			out = append(out, *tb)
			delete(c.open, s)
		}
	}
	return out
}

func appendLine(tb *logEntry, l Line) {
	tb.Lines++
	tb.Size += 1 + l.Size
	room := maxTracebackBytes - len(tb.Body) - 1
	if room <= 0 {
		tb.Truncated = true
		return
	}
	tb.Body = append(tb.Body, '\n')
	part := bytes.TrimRight(l.Body, "\r")
	if len(part) > room {
		part = part[:room]
		tb.Truncated = true
	}
	tb.Body = append(tb.Body, part...)
	tb.Truncated = tb.Truncated || l.Truncated
}
