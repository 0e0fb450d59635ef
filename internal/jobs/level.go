package jobs

import (
	"bytes"
	"encoding/json"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"
)

// parseLevel finds the log level a line of a job's output declares, in the formats jobs
// commonly print: JSON lines (level, severity, levelname, lvl, ...; Go's slog, pino,
// bunyan, zap, GCP), logfmt (level=, lvl=, severity=; Go's slog text handler), glog and klog
// (E0102 15:04:05.000000 ...), a level word starting the line (Python logging's default
// "ERROR:root:msg", "WARNING:", "error:" of compilers, "[ERROR]", Julia's "┌ Warning:"), and
// an upper-case level among the first words after a timestamp or logger name (Python's
// "2024-01-01 12:00:00,123 - name - ERROR - msg", log4j, loguru, Rust's env_logger and
// tracing, zerolog's console "ERR"). A Python traceback's first line and the lines that
// chain two tracebacks are errors. ok is false when the line declares no level.
func parseLevel(line []byte) (sev plog.SeverityNumber, ok bool) {
	line = bytes.TrimRight(line, " \t\r")
	trimmed := bytes.TrimLeft(line, " \t")
	if len(trimmed) == 0 {
		return 0, false
	}
	if trimmed[0] == '{' {
		return jsonLevel(trimmed)
	}
	if isTracebackLine(line) {
		return plog.SeverityNumberError, true
	}
	if sev, ok := glogLevel(line); ok {
		return sev, true
	}
	if sev, ok := logfmtLevel(line); ok {
		return sev, true
	}
	if sev, ok := prefixLevel(trimmed); ok {
		return sev, true
	}
	for _, p := range fixedPrefixes {
		if bytes.HasPrefix(line, []byte(p.prefix)) {
			return p.sev, true
		}
	}
	return fieldLevel(line)
}

// tracebackHeader starts a Python traceback; the chain lines join two tracebacks.
const tracebackHeader = "Traceback (most recent call last):"

var tracebackChain = []string{
	"During handling of the above exception, another exception occurred:",
	"The above exception was the direct cause of the following exception:",
}

// fixedPrefixes are the start of messages of R, which has no level word of its own.
var fixedPrefixes = []struct {
	prefix string
	sev    plog.SeverityNumber
}{
	{"Error in ", plog.SeverityNumberError},
	{"Execution halted", plog.SeverityNumberError},
	{"Warning message", plog.SeverityNumberWarn},
	{"In addition: Warning message", plog.SeverityNumberWarn},
}

func isTracebackLine(line []byte) bool {
	if string(line) == tracebackHeader {
		return true
	}
	for _, c := range tracebackChain {
		if string(line) == c {
			return true
		}
	}
	return false
}

// levelName maps a level name in any case to a severity number: the names of Python's
// logging, Go's slog, log4j, syslog, zerolog and friends.
func levelName(name string) (plog.SeverityNumber, bool) {
	// slog writes levels between the named ones as "INFO+2" or "DEBUG-4".
	if i := strings.IndexAny(name, "+-"); i > 0 {
		name = name[:i]
	}
	switch strings.ToLower(name) {
	case "trace", "trc":
		return plog.SeverityNumberTrace, true
	case "debug", "dbg", "verbose":
		return plog.SeverityNumberDebug, true
	case "info", "inf", "information", "informational", "notice":
		return plog.SeverityNumberInfo, true
	case "warn", "warning", "wrn":
		return plog.SeverityNumberWarn, true
	case "error", "err", "eror", "severe":
		return plog.SeverityNumberError, true
	case "fatal", "ftl", "critical", "crit", "panic", "pnc", "emerg", "emergency":
		return plog.SeverityNumberFatal, true
	}
	return 0, false
}

// severityText is the OTLP short name of a severity number's range.
func severityText(n plog.SeverityNumber) string {
	switch {
	case n <= 0:
		return ""
	case n < plog.SeverityNumberDebug:
		return "TRACE"
	case n < plog.SeverityNumberInfo:
		return "DEBUG"
	case n < plog.SeverityNumberWarn:
		return "INFO"
	case n < plog.SeverityNumberError:
		return "WARN"
	case n < plog.SeverityNumberFatal:
		return "ERROR"
	default:
		return "FATAL"
	}
}

// jsonLevelFields are the keys that name the level in JSON log lines, in order of
// preference. encoding/json matches keys in any case.
type jsonLevelFields struct {
	Level     json.RawMessage `json:"level"`
	Severity  json.RawMessage `json:"severity"`
	Levelname json.RawMessage `json:"levelname"`
	Lvl       json.RawMessage `json:"lvl"`
	LogLevel  json.RawMessage `json:"loglevel"`
	ECSLevel  json.RawMessage `json:"log.level"`
	Serilog   json.RawMessage `json:"@l"`
}

func jsonLevel(line []byte) (plog.SeverityNumber, bool) {
	var f jsonLevelFields
	if json.Unmarshal(line, &f) != nil {
		return 0, false
	}
	for _, raw := range []json.RawMessage{f.Level, f.Severity, f.Levelname, f.Lvl, f.LogLevel, f.ECSLevel, f.Serilog} {
		if len(raw) == 0 {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if sev, ok := levelName(strings.TrimSpace(s)); ok {
				return sev, true
			}
			continue
		}
		var n float64
		if json.Unmarshal(raw, &n) == nil {
			if sev, ok := numericLevel(n); ok {
				return sev, true
			}
		}
	}
	return 0, false
}

// numericLevel reads the numeric levels of pino and bunyan (10 trace ... 60 fatal).
func numericLevel(n float64) (plog.SeverityNumber, bool) {
	switch {
	case n < 10:
		return 0, false
	case n < 20:
		return plog.SeverityNumberTrace, true
	case n < 30:
		return plog.SeverityNumberDebug, true
	case n < 40:
		return plog.SeverityNumberInfo, true
	case n < 50:
		return plog.SeverityNumberWarn, true
	case n < 60:
		return plog.SeverityNumberError, true
	default:
		return plog.SeverityNumberFatal, true
	}
}

// glogLevel reads the klog/glog/absl header "Lmmdd hh:mm:ss.uuuuuu ...".
func glogLevel(line []byte) (plog.SeverityNumber, bool) {
	if len(line) < 14 || line[5] != ' ' || line[8] != ':' || line[11] != ':' {
		return 0, false
	}
	for _, i := range []int{1, 2, 3, 4, 6, 7, 9, 10, 12, 13} {
		if line[i] < '0' || line[i] > '9' {
			return 0, false
		}
	}
	switch line[0] {
	case 'I':
		return plog.SeverityNumberInfo, true
	case 'W':
		return plog.SeverityNumberWarn, true
	case 'E':
		return plog.SeverityNumberError, true
	case 'F':
		return plog.SeverityNumberFatal, true
	}
	return 0, false
}

// logfmtKeys name the level in logfmt lines.
var logfmtKeys = [][]byte{[]byte("level="), []byte("lvl="), []byte("severity="), []byte("loglevel=")}

func logfmtLevel(line []byte) (plog.SeverityNumber, bool) {
	for _, key := range logfmtKeys {
		rest := line
		for {
			i := bytes.Index(rest, key)
			if i < 0 {
				break
			}
			// The key must start a field: at the start of the line or after a space.
			if i > 0 && rest[i-1] != ' ' && rest[i-1] != '\t' {
				rest = rest[i+len(key):]
				continue
			}
			val := rest[i+len(key):]
			if end := bytes.IndexAny(val, " \t"); end >= 0 {
				val = val[:end]
			}
			val = bytes.Trim(val, `"'`)
			if sev, ok := levelName(string(val)); ok {
				return sev, true
			}
			break
		}
	}
	return 0, false
}

// prefixLevel reads a level word that starts the line and ends with ':' or ']', in any
// case: "ERROR:root:msg", "Error: no such file", "warning: unused variable", "[error] x",
// and Julia's "┌ Warning: x" and "[ Info: x".
func prefixLevel(line []byte) (plog.SeverityNumber, bool) {
	for _, p := range []string{"┌ ", "[ ", "["} {
		if bytes.HasPrefix(line, []byte(p)) {
			line = line[len(p):]
			break
		}
	}
	end := 0
	for end < len(line) && end < 16 && isLetter(line[end]) {
		end++
	}
	if end == 0 || end == len(line) || (line[end] != ':' && line[end] != ']') {
		return 0, false
	}
	return levelName(string(line[:end]))
}

// maxLevelFields is how many words with letters fieldLevel looks at: enough for
// "2024-01-01 12:00:00,123 - my.logger - ERROR - msg" and "12:00:00.123 [main] ERROR".
const (
	maxLevelFields = 4
	maxLevelBytes  = 200
)

// fieldLevel finds an upper-case level word ("ERROR", "WARNING", "ERR") among the first
// words of the line that contain letters, or a level word in any case between brackets
// ("[error]", "[Warning]"). Words are separated by spaces and the punctuation of log
// prefixes (brackets, '|', ':', ',', ';', parentheses).
func fieldLevel(line []byte) (plog.SeverityNumber, bool) {
	if len(line) > maxLevelBytes {
		line = line[:maxLevelBytes]
	}
	words := 0
	for i := 0; i < len(line) && words < maxLevelFields; {
		if isLevelSep(line[i]) {
			i++
			continue
		}
		start := i
		for i < len(line) && !isLevelSep(line[i]) {
			i++
		}
		word := line[start:i]
		if !hasLetter(word) {
			continue
		}
		words++
		bracketed := start > 0 && line[start-1] == '[' && i < len(line) && line[i] == ']'
		if !bracketed && !isUpperWord(word) {
			continue
		}
		if sev, ok := levelName(string(word)); ok {
			return sev, true
		}
	}
	return 0, false
}

func isLevelSep(c byte) bool {
	switch c {
	case ' ', '\t', '[', ']', '|', ':', ',', ';', '(', ')', '<', '>', '"':
		return true
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func hasLetter(b []byte) bool {
	for _, c := range b {
		if isLetter(c) {
			return true
		}
	}
	return false
}

// isUpperWord: at least 3 upper-case letters and nothing else.
func isUpperWord(b []byte) bool {
	if len(b) < 3 {
		return false
	}
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
