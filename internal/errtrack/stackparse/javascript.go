package stackparse

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// JavaScript parses an Error.stack as V8 (Node.js, Chrome, Deno, Bun) prints it, which is
// what OpenTelemetry JS writes in exception.stacktrace:
//
//	TypeError: Cannot read properties of undefined (reading 'price')
//	    at Cart.checkout (/srv/app/cart.js:4:17)
//	    at /srv/app/cart.js:4:35
//	    at async handler (file:///srv/app/server.mjs:9:35)
//	    at Array.map (<anonymous>)
//
// and the Firefox and Safari form ("checkout@https://shop.example/cart.js:4:17"), which has
// no header line. Only the first trace of the text is read. Frames are as Sentry's
// JavaScript SDKs report them: Function is the name V8 prints ("Cart.checkout",
// "Object.<anonymous>", "new Foo") without "async " and " [as alias]", or "?" for an
// anonymous function; Module is @sentry/node's: "pkg.dir:file" under node_modules, the
// file's name without extension otherwise (its path relative to the application's root is
// not in the text).
func JavaScript(text string) Trace {
	if !strings.Contains(text, "at ") && !strings.Contains(text, "@") {
		return Trace{} // cheap refusal: Parse tries every parser
	}
	var (
		exc    errtrack.Exception
		frames []errtrack.Frame
	)
	for _, l := range lines(text) {
		t := strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(t, "at "); ok && l != t {
			if f, ok := v8Frame(rest); ok {
				frames = append(frames, f)
				continue
			}
		} else if f, ok := geckoFrame(t); ok {
			frames = append(frames, f)
			continue
		}
		if len(frames) > 0 {
			break // the end of the first trace
		}
		if t == "" {
			continue
		}
		// The header, "Type: message", whose message may span lines.
		if exc.Type == "" {
			name, msg, _ := strings.Cut(t, ": ")
			if isDottedName(name, "") && !strings.Contains(name, ".") {
				exc.Type, exc.Value = name, msg
			}
		} else {
			exc.Value += "\n" + l
		}
	}
	if len(frames) == 0 {
		return Trace{}
	}
	reverse(frames)
	exc.Frames = frames
	return Trace{Platform: PlatformNode, Exceptions: capExceptions([]errtrack.Exception{exc})}
}

// v8Frame parses what follows "at ": "fn (location)" or "location".
func v8Frame(s string) (errtrack.Frame, bool) {
	fn, loc := "", s
	if strings.HasSuffix(s, ")") {
		if i := strings.Index(s, " ("); i > 0 {
			fn, loc = s[:i], s[i+2:len(s)-1]
		}
	}
	fn = strings.TrimPrefix(fn, "async ")
	if i := strings.Index(fn, " [as "); i >= 0 && strings.HasSuffix(fn, "]") {
		fn = fn[:i]
	}
	if fn == "" {
		fn = "?"
	}
	// "eval at <anonymous> (/srv/app.js:14:9), <anonymous>:1:6": the file that called eval.
	if strings.HasPrefix(loc, "eval at ") {
		if i := strings.IndexByte(loc, '('); i >= 0 {
			if j := strings.IndexByte(loc[i:], ')'); j > 0 {
				loc = loc[i+1 : i+j]
			}
		}
	}
	path, line, col, ok := splitLineCol(loc, true)
	if !ok {
		// "<anonymous>", "native", "index 0": no location, but still a frame when it has a
		// function name (a built-in such as Array.map or JSON.parse).
		if fn == "?" || strings.ContainsAny(loc, "/\\") {
			return errtrack.Frame{}, false
		}
		return errtrack.Frame{Function: fn, Filename: loc, AbsPath: loc}, true
	}
	if strings.ContainsAny(fn, "\t") || strings.Contains(path, " ") && !strings.ContainsAny(path, "/\\") {
		return errtrack.Frame{}, false
	}
	return jsFrame(fn, path, line, col), true
}

// geckoFrame parses Firefox's and Safari's "fn@url:line:col" (fn may be empty).
func geckoFrame(t string) (errtrack.Frame, bool) {
	at := strings.IndexByte(t, '@')
	if at < 0 || strings.ContainsAny(t[:at], " \t") {
		return errtrack.Frame{}, false
	}
	path, line, col, ok := splitLineCol(t[at+1:], true)
	if !ok || path == "" || strings.ContainsAny(path, " \t") {
		return errtrack.Frame{}, false
	}
	fn := t[:at]
	if fn == "" {
		fn = "?"
	}
	return jsFrame(fn, path, line, col), true
}

func jsFrame(fn, path string, line, col int) errtrack.Frame {
	path = strings.TrimPrefix(path, "file://")
	return errtrack.Frame{
		Function: fn, Module: NodeModule(path), Filename: path, AbsPath: path,
		Lineno: line, Colno: col, InApp: JSInApp(path),
	}
}

// NodeModule is @sentry/node's module name for a file: "express.lib.router:index" for
// ".../node_modules/express/lib/router/index.js", the file's name without extension
// otherwise.
func NodeModule(path string) string {
	p := strings.ReplaceAll(path, `\`, "/")
	dir, file := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, file = p[:i], p[i+1:]
	}
	for _, ext := range []string{".js", ".mjs", ".cjs"} {
		if strings.HasSuffix(file, ext) {
			file = strings.TrimSuffix(file, ext)
			break
		}
	}
	if i := strings.LastIndex(dir, "/node_modules"); i >= 0 {
		pkg := strings.TrimPrefix(dir[i+len("/node_modules"):], "/")
		return strings.ReplaceAll(pkg, "/", ".") + ":" + file
	}
	return file
}

// JSInApp decides whether a JavaScript frame is the application's: not a dependency
// (node_modules), not Node's own code (node:, internal/) and not a built-in (<anonymous>,
// native).
func JSInApp(path string) bool {
	p := strings.ReplaceAll(path, `\`, "/")
	return !(strings.Contains(p, "/node_modules/") || strings.HasPrefix(p, "node:") || strings.HasPrefix(p, "internal/") ||
		strings.HasPrefix(p, "<") || p == "native" || p == "")
}
