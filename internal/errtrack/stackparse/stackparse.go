// Package stackparse turns the stack trace texts that runtimes print (Python tracebacks, Go
// panics and runtime/debug.Stack, Java's printStackTrace, V8's Error.stack) into
// errtrack.Exceptions with frames, as OpenTelemetry SDKs send them in exception.stacktrace.
//
// Frames come out outermost first (Sentry's order: the crashing frame is last) and chained
// exceptions causes first (the raised exception is last). Function and Module follow what
// the Sentry SDK of each language reports for the same frame, so that an exception recorded
// through OpenTelemetry groups with the same exception sent by a Sentry SDK; the per-language
// files say how. Parsing never fails: text that no parser recognises gives no exceptions.
package stackparse

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// Platforms, as in Sentry's event.platform.
const (
	PlatformPython = "python"
	PlatformGo     = "go"
	PlatformJava   = "java"
	PlatformNode   = "node"
)

// Limits keep a hostile or runaway text (a recursion of 10,000 frames) cheap to parse and
// to store. A trace longer than MaxFrames keeps its outermost and innermost frames, as
// Sentry's SDKs do.
const (
	MaxFrames     = 250
	MaxExceptions = 10
	// MaxInput is the longest text parsed; the rest is ignored (RawStacktrace keeps it).
	MaxInput = 512 << 10
)

// Trace is the result of parsing one stack trace text.
type Trace struct {
	Platform string // Platform* constant; "" when no parser recognised the text
	// Exceptions in Sentry's order (causes first, the raised one last). Type and Value are
	// set when the text names them (Python and Java do, a Go stack does not).
	Exceptions []errtrack.Exception
}

// Frames counts the frames of every exception.
func (t Trace) Frames() int {
	n := 0
	for _, e := range t.Exceptions {
		n += len(e.Frames)
	}
	return n
}

// Parse recognises the format of text and parses it. Every parser is tried and the one
// that finds the most frames wins: the formats' markers are distinct enough that only one
// finds any in practice, and trying all is cheaper to reason about than a detector.
func Parse(text string) Trace {
	if len(text) > MaxInput {
		text = text[:MaxInput]
	}
	var best Trace
	bestFrames := 0
	for _, p := range []func(string) Trace{Python, Go, Java, JavaScript} {
		t := p(text)
		if n := t.Frames(); n > bestFrames {
			best, bestFrames = t, n
		}
	}
	return best
}

// lines splits text into lines without their line endings (\r\n or \n).
func lines(text string) []string {
	ls := strings.Split(text, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}

// reverse reverses frames in place (Go, Java and V8 print the innermost frame first).
func reverse(fs []errtrack.Frame) {
	for i, j := 0, len(fs)-1; i < j; i, j = i+1, j-1 {
		fs[i], fs[j] = fs[j], fs[i]
	}
}

// capFrames keeps the outermost and innermost MaxFrames/2 frames of an outermost-first
// list: the entry point and the crash are what a reader and the grouping need.
func capFrames(fs []errtrack.Frame) []errtrack.Frame {
	if len(fs) <= MaxFrames {
		return fs
	}
	half := MaxFrames / 2
	out := make([]errtrack.Frame, 0, MaxFrames)
	out = append(out, fs[:half]...)
	return append(out, fs[len(fs)-half:]...)
}

// capExceptions keeps the last MaxExceptions exceptions (the raised one and its nearest
// causes).
func capExceptions(es []errtrack.Exception) []errtrack.Exception {
	if len(es) > MaxExceptions {
		es = es[len(es)-MaxExceptions:]
	}
	for i := range es {
		es[i].Frames = capFrames(es[i].Frames)
	}
	return es
}

// atoi parses a small non-negative decimal number; 0 for anything else (including
// overflow), which the frame model reads as "unknown line".
func atoi(s string) int {
	if s == "" || len(s) > 9 {
		return 0
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// splitLineCol splits "path:line:col" or "path:line" from the right; ok is false when the
// text does not end in a line number.
func splitLineCol(s string, withCol bool) (path string, line, col int, ok bool) {
	if withCol {
		i := strings.LastIndexByte(s, ':')
		if i < 0 || atoi(s[i+1:]) == 0 && s[i+1:] != "0" {
			return "", 0, 0, false
		}
		col = atoi(s[i+1:])
		s = s[:i]
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || atoi(s[i+1:]) == 0 {
		return "", 0, 0, false
	}
	return s[:i], atoi(s[i+1:]), col, true
}

// isDottedName reports whether s looks like a (dotted) name, as exception types and JVM
// classes are: letters, digits, '_', '.' and the bytes of extra ("$" of the JVM's nested
// classes), not starting with a digit or a dot.
func isDottedName(s, extra string) bool {
	if s == "" || s[0] == '.' || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 ||
			strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// splitDotted splits "pkg.mod.Type" into module "pkg.mod" and "Type", as Sentry SDKs report
// an exception's module and type separately (Python, Java).
func splitDotted(typ string) (module, name string) {
	if i := strings.LastIndexByte(typ, '.'); i > 0 && i < len(typ)-1 {
		return typ[:i], typ[i+1:]
	}
	return "", typ
}
