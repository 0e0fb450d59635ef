package stackparse

import (
	"strings"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// Java parses a JVM stack trace as Throwable.printStackTrace prints it (and so as
// OpenTelemetry Java writes exception.stacktrace, and logback/log4j append it to a log line):
//
//	java.lang.IllegalStateException: order 42 cannot be charged
//		at com.example.shop.PaymentService.charge(PaymentService.java:16)
//		at java.base/java.lang.Iterable.forEach(Iterable.java:75)
//	Caused by: java.io.IOException: connection refused
//		at com.example.shop.PaymentClient.post(PaymentClient.java:8)
//		... 4 more
//
// "Caused by:" gives one exception per cause (causes first in the result, Sentry's order);
// "... N more" is filled in from the enclosing exception's last N frames, which is what the
// JVM elided. Suppressed exceptions are skipped. Only the first trace of the text is read.
// Frames are as Sentry's Java SDK reports them: Module is the class, Function the method;
// module and class loader prefixes ("java.base/", "app//") and logback's packaging data
// (" ~[app.jar:1.0]") are removed.
func Java(text string) Trace {
	if !strings.Contains(text, "at ") {
		return Trace{} // cheap refusal: Parse tries every parser
	}
	var (
		printed    []errtrack.Exception // raised first, as printed
		cur        *errtrack.Exception
		suppressed bool
	)
	for _, l := range lines(text) {
		if l == "" {
			continue
		}
		indented := l[0] == ' ' || l[0] == '\t'
		t := strings.TrimSpace(l)
		if suppressed {
			if indented {
				continue
			}
			suppressed = false
		}
		if indented {
			switch {
			case strings.HasPrefix(t, "at ") && cur != nil:
				if f, ok := javaFrame(t[3:]); ok {
					cur.Frames = append(cur.Frames, f)
				}
			case strings.HasPrefix(t, "... ") && strings.HasSuffix(t, " more") && cur != nil && len(printed) > 0:
				n := atoi(strings.TrimSuffix(strings.TrimPrefix(t, "... "), " more"))
				enclosing := printed[len(printed)-1].Frames
				if n > len(enclosing) {
					n = len(enclosing)
				}
				cur.Frames = append(cur.Frames, enclosing[len(enclosing)-n:]...)
			case strings.HasPrefix(t, "Suppressed: "):
				suppressed = true
			}
			continue
		}
		if rest, ok := strings.CutPrefix(t, "Caused by: "); ok {
			if cur == nil {
				continue
			}
			printed = append(printed, *cur)
			cur = &errtrack.Exception{}
			cur.Module, cur.Type, cur.Value = javaHeader(rest)
			continue
		}
		if cur != nil && len(cur.Frames) > 0 {
			break // a second trace, or the end of this one
		}
		if m, typ, v := javaHeader(stripThreadPrefix(t)); typ != "" {
			cur = &errtrack.Exception{Module: m, Type: typ, Value: v}
		} else if cur != nil {
			cur.Value += "\n" + l // a multi-line message
		}
	}
	if cur != nil {
		printed = append(printed, *cur)
	}
	var excs []errtrack.Exception
	for i := len(printed) - 1; i >= 0; i-- {
		e := printed[i]
		if len(e.Frames) == 0 && e.Type == "" {
			continue
		}
		reverse(e.Frames)
		excs = append(excs, e)
	}
	if frames := (Trace{Exceptions: excs}).Frames(); frames == 0 {
		return Trace{}
	}
	return Trace{Platform: PlatformJava, Exceptions: capExceptions(excs)}
}

// stripThreadPrefix removes `Exception in thread "main" ` that the default uncaught
// exception handler prints.
func stripThreadPrefix(t string) string {
	rest, ok := strings.CutPrefix(t, `Exception in thread "`)
	if !ok {
		return t
	}
	if i := strings.Index(rest, `" `); i >= 0 {
		return rest[i+2:]
	}
	return t
}

// javaHeader parses "java.io.IOException: message" into module "java.io", type
// "IOException" and the message; typ is "" when the line is not an exception header.
func javaHeader(t string) (module, typ, msg string) {
	name, msg, _ := strings.Cut(t, ": ")
	if !isDottedName(name, "$") {
		return "", "", ""
	}
	module, typ = splitDotted(name)
	return module, typ, msg
}

// javaFrame parses what follows "at ": "java.base/java.lang.Thread.run(Thread.java:840)".
func javaFrame(s string) (errtrack.Frame, bool) {
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return errtrack.Frame{}, false
	}
	open := strings.LastIndexByte(s[:end], '(')
	if open <= 0 {
		return errtrack.Frame{}, false
	}
	qualified, source := s[:open], s[open+1:end]
	if i := strings.LastIndexByte(qualified, '/'); i >= 0 {
		qualified = qualified[i+1:] // "java.base/" module, "app//" class loader
	}
	dot := strings.LastIndexByte(qualified, '.')
	if dot <= 0 || dot == len(qualified)-1 || !isDottedName(qualified[:dot], "$") {
		return errtrack.Frame{}, false
	}
	f := errtrack.Frame{Module: qualified[:dot], Function: qualified[dot+1:]}
	if file, line, ok := strings.Cut(source, ":"); ok {
		f.Filename, f.Lineno = file, atoi(line)
	} else if source != "Native Method" && source != "Unknown Source" {
		f.Filename = source
	}
	f.InApp = JavaInApp(f.Module)
	return f, true
}

// JavaInApp decides whether a JVM class is the application's: not the JDK (java.*, javax.*,
// jdk.*, sun.*, com.sun.*) nor the Kotlin, Scala or Groovy runtimes.
func JavaInApp(class string) bool {
	for _, p := range []string{"java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.", "scala.", "groovy.lang.", "org.codehaus.groovy."} {
		if strings.HasPrefix(class, p) {
			return false
		}
	}
	return true
}
