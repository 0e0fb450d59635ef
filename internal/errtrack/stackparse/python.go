package stackparse

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// Python parses a CPython traceback as traceback.format_exception prints it (and so as
// OpenTelemetry Python's record_exception and logging's exc_info write it):
//
//	Traceback (most recent call last):
//	  File "/srv/app/views.py", line 10, in charge
//	    return load(body)
//	myapp.errors.PaymentError: cannot charge
//
// Chained exceptions ("The above exception was the direct cause of the following
// exception:", "During handling of the above exception, another exception occurred:") give
// one exception each, causes first as printed, which is Sentry's order. Of an exception group
// (3.11+) the group itself is kept, not its sub-exceptions. Text before the first
// "Traceback" line (a log message) is ignored.
//
// Frames are as sentry-python reports them: Function is the code object's name as printed
// ("<module>", "<lambda>", "charge"); Module is the dotted module for the standard library and
// installed packages (site-packages, dist-packages), whose paths say it, and empty for the
// application's own files, whose import root the text does not tell.
func Python(text string) Trace {
	if !strings.Contains(text, "Traceback (most recent call last):") {
		return Trace{} // cheap refusal: Parse tries every parser
	}
	var (
		excs    []errtrack.Exception
		cur     *errtrack.Exception // the exception whose traceback or message is being read
		inTrace bool                // reading frames
		inMsg   bool                // reading the lines of a multi-line message
		grouped bool                // inside an exception group's box drawing
		chained bool                // after a chain marker, before the next traceback
	)
	flush := func() {
		if cur != nil {
			cur.Value = strings.TrimRight(cur.Value, "\n ")
			excs = append(excs, *cur)
			cur = nil
		}
		inTrace, inMsg = false, false
	}
scan:
	for _, raw := range lines(text) {
		l := raw
		if strings.HasPrefix(strings.TrimSpace(raw), "+ Exception Group Traceback") {
			grouped = true
		}
		if grouped {
			if strings.HasPrefix(strings.TrimSpace(raw), "+-") {
				// The separator before an exception group's sub-exceptions: keep the group.
				break
			}
			l = unbox(raw)
		}
		trimmed := strings.TrimSpace(l)
		switch {
		case trimmed == "Traceback (most recent call last):" || trimmed == "Exception Group Traceback (most recent call last):":
			if cur != nil && !chained && (cur.Type != "" || len(cur.Frames) > 0) {
				break scan // a second, unrelated traceback: only the first is read
			}
			if cur == nil || cur.Type != "" || len(cur.Frames) > 0 {
				flush()
				cur = &errtrack.Exception{}
			}
			chained, inTrace = false, true
			continue
		case trimmed == "The above exception was the direct cause of the following exception:" ||
			trimmed == "During handling of the above exception, another exception occurred:":
			flush()
			// The next exception may come without a traceback of its own.
			cur = &errtrack.Exception{}
			chained = true
			continue
		}
		if cur == nil {
			continue // text before the first traceback
		}
		if inTrace {
			if f, ok := pythonFrame(l); ok {
				cur.Frames = append(cur.Frames, f)
				continue
			}
			if strings.HasPrefix(l, " ") || l == "" {
				// Source line, caret markers or "[Previous line repeated N more times]".
				if n := len(cur.Frames); n > 0 && cur.Frames[n-1].ContextLine == "" && !isCaretLine(trimmed) &&
					!strings.HasPrefix(trimmed, "[Previous line repeated") {
					cur.Frames[n-1].ContextLine = trimmed
				}
				continue
			}
			inTrace = false // a line at column 0 ends the frames: the exception line
		}
		if inMsg {
			cur.Value += "\n" + l
			continue
		}
		if cur.Type != "" || l == "" {
			continue
		}
		if typ, msg, ok := pythonExceptionLine(l); ok {
			cur.Module, cur.Type = splitDotted(typ)
			cur.Value = msg
			inMsg = true
		}
	}
	flush()
	// Drop exceptions that had neither frames nor a type (a chain marker at the end).
	kept := excs[:0]
	for _, e := range excs {
		if e.Type != "" || len(e.Frames) > 0 {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		return Trace{}
	}
	return Trace{Platform: PlatformPython, Exceptions: capExceptions(kept)}
}

// unbox removes the box drawing that Python 3.11+ prints around exception groups ("  | ",
// "  + ").
func unbox(l string) string {
	t := strings.TrimLeft(l, " ")
	switch {
	case strings.HasPrefix(t, "| "), strings.HasPrefix(t, "+ "):
		return t[2:]
	case t == "|":
		return ""
	}
	return l
}

func isCaretLine(s string) bool {
	return s != "" && strings.Trim(s, "^~ ") == ""
}

// pythonFrame parses `  File "path", line 12, in func`.
func pythonFrame(l string) (errtrack.Frame, bool) {
	t := strings.TrimLeft(l, " ")
	if !strings.HasPrefix(t, `File "`) {
		return errtrack.Frame{}, false
	}
	t = t[len(`File "`):]
	q := strings.Index(t, `", line `)
	if q < 0 {
		return errtrack.Frame{}, false
	}
	path := t[:q]
	rest := t[q+len(`", line `):]
	lineStr, fn, _ := strings.Cut(rest, ", in ")
	f := errtrack.Frame{AbsPath: path, Filename: path, Lineno: atoi(lineStr), Function: fn}
	if fn == "" {
		f.Function = "<unknown>" // sentry-python's name for a frame without code
	}
	f.Module, f.Filename, f.InApp = pythonModule(path)
	return f, true
}

// pythonModule derives the module, the filename relative to its import root and in_app
// from a path. Installed packages and the standard library say their root
// (site-packages/, dist-packages/, lib/pythonX.Y/), which gives sentry-python's dotted
// module; the application's own files do not, so their module stays empty.
func pythonModule(path string) (module, filename string, inApp bool) {
	if strings.HasPrefix(path, "<") {
		// <frozen importlib._bootstrap>, <string>, <stdin>
		if m, ok := strings.CutPrefix(strings.TrimSuffix(path, ">"), "<frozen "); ok {
			return m, path, false
		}
		return "", path, true
	}
	p := strings.ReplaceAll(path, `\`, "/")
	for _, root := range []string{"/site-packages/", "/dist-packages/"} {
		if i := strings.LastIndex(p, root); i >= 0 {
			rel := p[i+len(root):]
			return dottedModule(rel), rel, false
		}
	}
	if rel, ok := afterStdlibRoot(p); ok {
		return dottedModule(rel), rel, false
	}
	return "", path, true
}

// afterStdlibRoot returns the part of p after ".../lib/pythonX.Y/" or Windows' "/Lib/".
func afterStdlibRoot(p string) (string, bool) {
	for _, marker := range []string{"/lib/python", "/lib64/python", "/Lib/"} {
		i := strings.LastIndex(p, marker)
		if i < 0 {
			continue
		}
		rest := p[i+len(marker):]
		if marker == "/Lib/" {
			return rest, rest != ""
		}
		// "3.11/json/decoder.py" or "3/..." (Debian's /usr/lib/python3/).
		slash := strings.IndexByte(rest, '/')
		if slash <= 0 || strings.Trim(rest[:slash], "0123456789.") != "" {
			continue
		}
		return rest[slash+1:], rest[slash+1:] != ""
	}
	return "", false
}

// dottedModule turns "json/decoder.py" into "json.decoder" and "pkg/__init__.py" into "pkg".
func dottedModule(rel string) string {
	rel = strings.TrimSuffix(strings.TrimSuffix(rel, ".py"), "/__init__")
	return strings.ReplaceAll(rel, "/", ".")
}

// pythonExceptionLine parses "module.Type: message" or "Type".
func pythonExceptionLine(l string) (typ, msg string, ok bool) {
	typ, msg, _ = strings.Cut(l, ": ")
	if typ == "" || !isDottedName(typ, "") {
		return "", "", false
	}
	return typ, msg, true
}
