package stackparse

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// Go parses a Go stack as the runtime prints it: a panic or fatal error, runtime/debug.Stack
// and runtime.Stack (which is what the OpenTelemetry Go SDK's span.RecordError writes with
// trace.WithStackTrace(true), cut at 2,048 bytes), and zap-style stacks without a goroutine
// header or arguments:
//
//	panic: negative amount
//
//	goroutine 1 [running]:
//	example.com/shop/svc.(*Order).Charge(...)
//		/src/shop/svc/svc.go:12
//	main.main()
//		/src/shop/main.go:25 +0x113
//
// Only the first goroutine is read (the one that panicked or captured the stack). Frames are
// as sentry-go reports them: Module is the package path, Function the rest of the symbol
// ("(*Order).Charge", "main.func1"); frames of the packages runtime and testing are dropped as
// sentry-go drops them, and so are the innermost frames that only captured the stack
// (runtime/debug.Stack, the OpenTelemetry SDK's RecordError), as sentry-go drops its own: the
// stack then ends where the program called RecordError, as a sentry-go event's does where it
// called CaptureException. "created by" lines are skipped (sentry-go has no such frame).
//
// A panic gives Type "panic" (or "fatal error") and the panic value; a plain stack gives
// neither, the caller has them from exception.type and exception.message.
func Go(text string) Trace {
	if !strings.Contains(text, "\n\t") {
		return Trace{} // no location line: cheap refusal, Parse tries every parser
	}
	var (
		exc      errtrack.Exception
		frames   []errtrack.Frame
		pending  string // a function line waiting for its location line
		inFrames bool
	)
scan:
	for _, l := range lines(text) {
		switch {
		case strings.HasPrefix(l, "goroutine ") && strings.HasSuffix(l, "]:"):
			if inFrames {
				break scan // only the first goroutine
			}
			inFrames, pending = true, ""
			continue
		case strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "\tpanic: "):
			// With "[recovered]" the runtime prints every panic; the last is the one raised.
			exc.Type, exc.Value = "panic", trimRecovered(strings.TrimPrefix(strings.TrimPrefix(l, "\t"), "panic: "))
			continue
		case strings.HasPrefix(l, "fatal error: "):
			exc.Type, exc.Value = "fatal error", strings.TrimPrefix(l, "fatal error: ")
			continue
		}
		if strings.HasPrefix(l, "\t") {
			if pending == "" {
				continue
			}
			f, ok := goFrame(pending, l[1:])
			pending = ""
			if ok {
				frames = append(frames, f)
				inFrames = true
			}
			continue
		}
		pending = ""
		if l != "" && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "created by ") &&
			!strings.HasPrefix(l, "[") && !strings.HasPrefix(l, "...") {
			pending = l
		}
	}
	frames = dropGoMachinery(frames)
	if len(frames) == 0 {
		return Trace{}
	}
	reverse(frames)
	exc.Frames = frames
	return Trace{Platform: PlatformGo, Exceptions: capExceptions([]errtrack.Exception{exc})}
}

// trimRecovered removes the " [recovered]" (Go 1.23+: " [recovered, repanicked]") suffix.
func trimRecovered(v string) string {
	if i := strings.LastIndex(v, " [recovered"); i >= 0 && strings.HasSuffix(v, "]") {
		return v[:i]
	}
	return v
}

// goFrame parses a function line ("pkg.(*T).M(0x1, ...)", "pkg.F" in zap's format) and its
// location line without the tab ("/path/file.go:12 +0x85").
func goFrame(fn, loc string) (errtrack.Frame, bool) {
	if i := strings.Index(loc, " +0x"); i >= 0 {
		loc = loc[:i]
	}
	path, line, _, ok := splitLineCol(strings.TrimSpace(loc), false)
	if !ok || strings.ContainsAny(path, " \t") && !strings.Contains(path, "/") {
		return errtrack.Frame{}, false
	}
	// Drop the argument list: the last "(" of a line ending in ")". Arguments never contain
	// parentheses ("{0x1, 0x2}", "0xc0?", "...").
	if strings.HasSuffix(fn, ")") {
		if i := strings.LastIndexByte(fn, '('); i > 0 {
			fn = fn[:i]
		}
	}
	if fn == "" || strings.ContainsAny(fn, " \t") {
		return errtrack.Frame{}, false
	}
	module, function := SplitGoFunction(fn)
	f := errtrack.Frame{Function: function, Module: module, Filename: path, AbsPath: path, Lineno: line}
	f.InApp = GoInApp(module, path)
	return f, true
}

// SplitGoFunction splits a package path-qualified Go symbol ("example.com/x/svc.(*T).M")
// into the package path ("example.com/x/svc") and the function ("(*T).M"), exactly as
// sentry-go does (its splitQualifiedFunctionName, after debug/gosym's PackageName), so that
// frames from text and from sentry-go compare equal.
func SplitGoFunction(name string) (pkg, fun string) {
	// "go:" and "type:" are compiler-generated symbols (Go 1.20+; "go." before, which would
	// also match go.opentelemetry.io and which modern sentry-go no longer tests).
	for _, p := range []string{"go:", "type:"} {
		if strings.HasPrefix(name, p) {
			return "", name
		}
	}
	end := strings.LastIndexByte(name, '/')
	if end < 0 {
		end = 0
	}
	if i := strings.IndexByte(name[end:], '.'); i >= 0 {
		pkg = name[:end+i]
	}
	if pkg == "" {
		return "", name
	}
	return pkg, strings.TrimPrefix(name, pkg+".")
}

// GoInApp decides whether a Go frame is the application's own code: not the standard
// library (GOROOT), not a dependency from the module cache ("/pkg/mod/", or "module@version"
// in -trimpath builds) and not vendored or third_party code.
func GoInApp(module, path string) bool {
	p := strings.ReplaceAll(path, `\`, "/")
	if strings.Contains(p, "/pkg/mod/") || strings.Contains(p, "/vendor/") || strings.Contains(module, "vendor/") ||
		strings.Contains(p, "/third_party/") || strings.Contains(module, "third_party") {
		return false
	}
	if isModuleVersionPath(p) { // -trimpath: "github.com/x/y@v1.2.3/file.go"
		return false
	}
	if module != "" && module != "main" && isGoStdlib(module) {
		// GOROOT is ".../src/<pkg>/file.go"; with -trimpath the path is "<pkg>/file.go".
		if strings.Contains(p, "/src/"+module+"/") || strings.HasPrefix(p, module+"/") {
			return false
		}
	}
	return true
}

// isModuleVersionPath reports whether p holds "@v<digit>", as a module cache path does.
func isModuleVersionPath(p string) bool {
	for {
		i := strings.Index(p, "@v")
		if i < 0 || i+2 >= len(p) {
			return false
		}
		if c := p[i+2]; c >= '0' && c <= '9' {
			return true
		}
		p = p[i+2:]
	}
}

// isGoStdlib reports whether a package path looks like the standard library's: no dot in
// its first element.
func isGoStdlib(pkg string) bool {
	first, _, _ := strings.Cut(pkg, "/")
	return !strings.Contains(first, ".")
}

// dropGoMachinery removes what sentry-go would not report: frames of the packages runtime
// and testing (and the builtin "panic" frame, runtime.gopanic in sentry-go's terms), and the
// innermost frames that only captured the stack. frames is innermost first.
func dropGoMachinery(frames []errtrack.Frame) []errtrack.Frame {
	i := 0
	for i < len(frames) && isStackCapture(frames[i].Module) {
		i++
	}
	out := frames[:0]
	for _, f := range frames[i:] {
		if f.Module == "runtime" || f.Module == "testing" || f.Module == "" && f.Function == "panic" {
			continue
		}
		out = append(out, f)
	}
	return out
}

func isStackCapture(module string) bool {
	return module == "runtime/debug" || module == "runtime" ||
		strings.HasPrefix(module, "go.opentelemetry.io/otel/sdk/trace") ||
		strings.HasPrefix(module, "go.opentelemetry.io/otel/sdk/log")
}
