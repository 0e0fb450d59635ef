package stackparse

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// The testdata files are verbatim output of the runtimes on this machine (CPython 3.11,
// Go 1.26, OpenJDK 17, Node.js 20) and of the OpenTelemetry Go SDK v1.47's RecordError;
// see testdata/README.md for the programs.

// frames renders frames as "module|function|line|app" (or "lib"), outermost first.
func frames(fs []errtrack.Frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		app := "lib"
		if f.InApp {
			app = "app"
		}
		out[i] = fmt.Sprintf("%s|%s|%d|%s", f.Module, f.Function, f.Lineno, app)
	}
	return out
}

func parseFile(t *testing.T, name string) Trace {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return Parse(string(b))
}

// exc checks one exception: "module.Type: value" header and frames.
func exc(t *testing.T, e errtrack.Exception, module, typ, value string, want ...string) {
	t.Helper()
	require.Equal(t, module, e.Module, "module")
	require.Equal(t, typ, e.Type, "type")
	require.Equal(t, value, e.Value, "value")
	if len(want) == 0 {
		require.Empty(t, e.Frames)
		return
	}
	require.Equal(t, want, frames(e.Frames))
}

func TestPythonChained(t *testing.T) {
	tr := parseFile(t, "python_chained.txt")
	require.Equal(t, PlatformPython, tr.Platform)
	require.Len(t, tr.Exceptions, 3)
	exc(t, tr.Exceptions[0], "json.decoder", "JSONDecodeError", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
		"|charge|10|app", "|load|5|app", "json|loads|346|lib", "json.decoder|decode|337|lib", "json.decoder|raw_decode|353|lib")
	exc(t, tr.Exceptions[1], "myapp.errors", "PaymentError", "cannot charge order 1234: bad body",
		"|handle|16|app", "|charge|12|app")
	exc(t, tr.Exceptions[2], "", "RuntimeError", "request failed",
		"|<module>|6|app", "|main|4|app", "|handle|18|app")
	f := tr.Exceptions[0].Frames[2]
	require.Equal(t, "json/__init__.py", f.Filename)
	require.Equal(t, "/root/.pyenv/versions/3.11.7/lib/python3.11/json/__init__.py", f.AbsPath)
	require.Equal(t, "return _default_decoder.decode(s)", f.ContextLine)
	require.Equal(t, `raise RuntimeError("request failed")`, tr.Exceptions[2].Frames[2].ContextLine)
}

func TestPythonVariants(t *testing.T) {
	tr := parseFile(t, "python_lambda.txt")
	require.Len(t, tr.Exceptions, 1)
	exc(t, tr.Exceptions[0], "", "ZeroDivisionError", "division by zero", "|<module>|10|app", "|<lambda>|10|app")
	require.Equal(t, "(lambda: 1/0)()", tr.Exceptions[0].Frames[1].ContextLine, "caret lines are not context")

	tr = parseFile(t, "python_site_packages.txt")
	exc(t, tr.Exceptions[0], "", "KeyError", "'key'", "|<module>|8|app", "requestslike|get|2|lib", "|cb|6|app")
	require.Equal(t, "requestslike/__init__.py", tr.Exceptions[0].Frames[1].Filename)

	tr = parseFile(t, "python_recursion_excerpt.txt")
	exc(t, tr.Exceptions[0], "", "RecursionError", "maximum recursion depth exceeded", "|<module>|14|app", "|rec|12|app", "|rec|12|app")

	tr = parseFile(t, "python_exception_group.txt")
	require.Len(t, tr.Exceptions, 1, "the group, not its sub-exceptions")
	exc(t, tr.Exceptions[0], "", "ExceptionGroup", "many (2 sub-exceptions)", "|<module>|19|app")

	tr = parseFile(t, "python_multiline_message.txt")
	exc(t, tr.Exceptions[0], "", "E", "line one\nline two", "|<module>|24|app")
}

func TestPythonEdgeCases(t *testing.T) {
	// A log message before the traceback (logging's exc_info), a chained exception without
	// a traceback of its own, Debian's dist-packages and /usr/lib/python3, frozen modules.
	text := "ERROR:root:request failed\n" +
		"Traceback (most recent call last):\n" +
		"  File \"/usr/lib/python3/dist-packages/requests/api.py\", line 59, in request\n" +
		"  File \"<frozen importlib._bootstrap>\", line 1176, in _find_and_load\n" +
		"  File \"/usr/lib/python3.11/socket.py\", line 962, in getaddrinfo\n" +
		"socket.gaierror: [Errno -2] Name or service not known\n" +
		"\n" +
		"During handling of the above exception, another exception occurred:\n" +
		"\n" +
		"ValueError\n"
	tr := Python(text)
	require.Len(t, tr.Exceptions, 2)
	exc(t, tr.Exceptions[0], "socket", "gaierror", "[Errno -2] Name or service not known",
		"requests.api|request|59|lib", "importlib._bootstrap|_find_and_load|1176|lib", "socket|getaddrinfo|962|lib")
	exc(t, tr.Exceptions[1], "", "ValueError", "")

	require.Empty(t, Python("no traceback here\nValueError: x\n").Exceptions)
}

func TestGoOTelRecordError(t *testing.T) {
	// What span.RecordError(err, trace.WithStackTrace(true)) writes: the SDK's own frames
	// are dropped so that the stack ends where the program called RecordError.
	tr := parseFile(t, "go_otel_recorderror.txt")
	require.Equal(t, PlatformGo, tr.Platform)
	require.Len(t, tr.Exceptions, 1)
	exc(t, tr.Exceptions[0], "", "", "", "main|main|29|app", "main|handle|22|app")
	require.Equal(t, "/tmp/st/otelgen/main.go", tr.Exceptions[0].Frames[1].AbsPath)

	// Cut at 2,048 bytes by the SDK: the outermost frames are missing and the last line is
	// cut in the middle; what was read is kept.
	tr = parseFile(t, "go_otel_truncated.txt")
	fs := frames(tr.Exceptions[0].Frames)
	require.Greater(t, len(fs), 10)
	require.Equal(t, []string{"main|deep|26|app", "main|main.func1|31|app", "main|handle|22|app"}, fs[len(fs)-3:])
}

func TestGoPanics(t *testing.T) {
	tr := parseFile(t, "go_panic_inlined.txt")
	exc(t, tr.Exceptions[0], "", "panic", "negative amount",
		"main|handle|29|app", "example.com/shop/svc|(*Order).Charge|12|app")

	tr = parseFile(t, "go_panic_recovered.txt")
	exc(t, tr.Exceptions[0], "", "panic", "wrapped: runtime error: index out of range [5] with length 2",
		"main|main|17|app", "main|T.Do|13|app", "main|T.Do.func1|10|app")

	tr = parseFile(t, "go_nil_goroutine.txt")
	exc(t, tr.Exceptions[0], "", "panic", "runtime error: invalid memory address or nil pointer dereference",
		"main|main.func1|20|app")

	tr = parseFile(t, "go_debug_stack.txt")
	exc(t, tr.Exceptions[0], "", "", "",
		"main|main|13|app", "example.com/shop/svc|Stack|25|app", "example.com/shop/svc|Map[...]|19|app", "main|main.Stack.func2|25|app")
}

func TestGoZapStyleAndInApp(t *testing.T) {
	// zap's stacktrace field: no goroutine header, no arguments; GOROOT and module cache
	// frames are not in app, runtime frames are dropped.
	text := "main.handler\n\t/home/u/shop/main.go:40\n" +
		"github.com/gorilla/mux.(*Router).ServeHTTP\n\t/home/u/go/pkg/mod/github.com/gorilla/mux@v1.8.1/mux.go:212\n" +
		"net/http.serverHandler.ServeHTTP\n\t/usr/local/go/src/net/http/server.go:3210\n" +
		"net/http.(*conn).serve\n\t/usr/local/go/src/net/http/server.go:2092\n" +
		"runtime.goexit\n\t/usr/local/go/src/runtime/asm_amd64.s:1700\n"
	tr := Go(text)
	exc(t, tr.Exceptions[0], "", "", "",
		"net/http|(*conn).serve|2092|lib", "net/http|serverHandler.ServeHTTP|3210|lib",
		"github.com/gorilla/mux|(*Router).ServeHTTP|212|lib", "main|handler|40|app")

	// -trimpath paths.
	require.False(t, GoInApp("net/http", "net/http/server.go"))
	require.False(t, GoInApp("github.com/gorilla/mux", "github.com/gorilla/mux@v1.8.1/mux.go"))
	require.True(t, GoInApp("example.com/shop/svc", "example.com/shop/svc/svc.go"))
	require.False(t, GoInApp("example.com/shop/vendor/x", "/src/shop/vendor/x/x.go"))
}

func TestSplitGoFunction(t *testing.T) {
	// sentry-go's own cases (splitQualifiedFunctionName).
	f := func(in, pkg, fun string) {
		t.Helper()
		p, fn := SplitGoFunction(in)
		require.Equal(t, pkg, p, in)
		require.Equal(t, fun, fn, in)
	}
	f("runtime.Callers", "runtime", "Callers")
	f("main.main.func1", "main", "main.func1")
	f("github.com/getsentry/sentry-go.Init", "github.com/getsentry/sentry-go", "Init")
	f("github.com/getsentry/sentry-go.(*Hub).Flush", "github.com/getsentry/sentry-go", "(*Hub).Flush")
	f("github.com/getsentry/sentry-go.Test.func2.1.1", "github.com/getsentry/sentry-go", "Test.func2.1.1")
	f("github.com/getsentry/confusing%2epkg%2ewith%2edots.Test.func1", "github.com/getsentry/confusing%2epkg%2ewith%2edots", "Test.func1")
	f("go.opentelemetry.io/otel/sdk/trace.recordStackTrace", "go.opentelemetry.io/otel/sdk/trace", "recordStackTrace")
	f("type:.eq.main.T", "", "type:.eq.main.T")
}

func TestJava(t *testing.T) {
	tr := parseFile(t, "java_caused_by.txt")
	require.Equal(t, PlatformJava, tr.Platform)
	require.Len(t, tr.Exceptions, 2)
	outer := []string{"com.example.shop.Main|main|24|app", "java.lang.Iterable|forEach|75|lib",
		"com.example.shop.Main|lambda$main$0|24|app", "com.example.shop.Main|checkout|20|app"}
	// The cause first; its "... 4 more" filled in from the enclosing trace.
	exc(t, tr.Exceptions[0], "java.io", "IOException", "connection refused to payments:8443",
		append(outer, "com.example.shop.Main$PaymentService|charge|14|app", "com.example.shop.Main$PaymentClient|post|8|app")...)
	exc(t, tr.Exceptions[1], "java.lang", "IllegalStateException", "order 42 cannot be charged",
		append(outer, "com.example.shop.Main$PaymentService|charge|16|app")...)
	require.Equal(t, "Main.java", tr.Exceptions[1].Frames[4].Filename)

	tr = parseFile(t, "java_suppressed.txt")
	require.Len(t, tr.Exceptions, 1, "suppressed exceptions are skipped")
	exc(t, tr.Exceptions[0], "java.lang", "NullPointerException", `Cannot invoke "Object.toString()" because "<local2>" is null`,
		"com.example.shop.Main|main|30|app")

	tr = parseFile(t, "java_thread.txt")
	exc(t, tr.Exceptions[0], "java.lang", "ArrayIndexOutOfBoundsException", "Index 3 out of bounds for length 1",
		"java.lang.Thread|run|840|lib", "com.example.shop.Main|lambda$main$2|34|app")
}

func TestJavaLogbackAndNative(t *testing.T) {
	// logback appends packaging data; class loaders prefix "app//"; native methods have no
	// line; a log line before the header is ignored.
	text := "2024-05-01 12:00:00 ERROR c.e.Api - request failed\n" +
		"org.springframework.web.client.ResourceAccessException: I/O error\n" +
		"\tat app//com.example.api.Client.get(Client.java:42) ~[api.jar:1.0]\n" +
		"\tat java.base/sun.nio.ch.Net.connect0(Native Method)\n" +
		"\tat org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:915) [spring-web-6.1.2.jar:6.1.2]\n" +
		"\tat com.example.api.Handler.handle(Unknown Source)\n"
	tr := Java(text)
	exc(t, tr.Exceptions[0], "org.springframework.web.client", "ResourceAccessException", "I/O error",
		"com.example.api.Handler|handle|0|app", "org.springframework.web.client.RestTemplate|doExecute|915|app",
		"sun.nio.ch.Net|connect0|0|lib", "com.example.api.Client|get|42|app")
	require.Equal(t, "", tr.Exceptions[0].Frames[0].Filename)
}

func TestJavaScript(t *testing.T) {
	tr := parseFile(t, "node_cjs_node_modules.txt")
	require.Equal(t, PlatformNode, tr.Platform)
	exc(t, tr.Exceptions[0], "", "TypeError", "Cannot read properties of undefined (reading 'price')",
		"run_main|Function.executeUserEntryPoint|164|lib", "loader|Module._load|1091|lib", "loader|Module.load|1266|lib",
		"loader|Module._extensions..js|1623|lib", "loader|Module._compile|1521|lib",
		"app|Object.<anonymous>|7|app", "app|Cart.checkout|4|app", "libx:index|exports.run|1|lib",
		"|Array.map|0|lib", "app|?|4|app")
	require.Equal(t, 35, tr.Exceptions[0].Frames[9].Colno)

	tr = parseFile(t, "node_async.txt")
	exc(t, tr.Exceptions[0], "", "RangeError", "user 7 not found",
		"app|handler|9|app", "task_queues|process.processTicksAndRejections|95|lib", "app|fetchUser|8|app")

	tr = parseFile(t, "node_builtin_json.txt")
	exc(t, tr.Exceptions[0], "", "SyntaxError", "Expected property name or '}' in JSON at position 1",
		"task_queues|process.processTicksAndRejections|95|lib", "app|?|11|app", "|JSON.parse|0|lib")

	tr = parseFile(t, "node_eval.txt")
	exc(t, tr.Exceptions[0], "", "TypeError", "Cannot read properties of null (reading 'f')",
		"task_queues|process.processTicksAndRejections|95|lib", "app|?|14|app", "app|eval|14|app")

	tr = parseFile(t, "node_esm.txt")
	exc(t, tr.Exceptions[0], "", "Error", "esm boom",
		"run_main|asyncRunEntryPointWithESMLoader|117|lib", "loader|ModuleLoader.import|606|lib",
		"module_job|ModuleJob.run|325|lib", "esm|?|3|app", "esm|Object.go|2|app", "esm|boom|1|app")
	require.Equal(t, "/tmp/st/js/esm.mjs", tr.Exceptions[0].Frames[5].AbsPath, "file:// removed")
}

func TestJavaScriptGecko(t *testing.T) {
	text := "checkout@https://shop.example/static/cart.js:4:17\n@https://shop.example/static/cart.js:10:3\n"
	tr := JavaScript(text)
	exc(t, tr.Exceptions[0], "", "", "", "cart|?|10|app", "cart|checkout|4|app")
	require.Equal(t, "express.lib.router:index", NodeModule("/srv/app/node_modules/express/lib/router/index.js"))
}

func TestUnparseable(t *testing.T) {
	for _, text := range []string{"", "just a message", "Error: something\n  but no frames", "\x00\xff\n\tat \n  File \""} {
		tr := Parse(text)
		require.Empty(t, tr.Exceptions, "%q", text)
		require.Equal(t, "", tr.Platform)
	}
}

func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("java.lang.StackOverflowError\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "\tat com.example.R.f%d(R.java:%d)\n", i, i+1)
	}
	tr := Parse(b.String())
	fs := tr.Exceptions[0].Frames
	require.Len(t, fs, MaxFrames)
	require.Equal(t, "f4999", fs[0].Function, "outermost kept")
	require.Equal(t, "f0", fs[len(fs)-1].Function, "innermost kept")

	b.Reset()
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, "Traceback (most recent call last):\n  File \"/a.py\", line %d, in f\nE%d: x\n\nDuring handling of the above exception, another exception occurred:\n\n", i+1, i)
	}
	tr = Parse(b.String())
	require.Len(t, tr.Exceptions, MaxExceptions)
	require.Equal(t, "E29", tr.Exceptions[MaxExceptions-1].Type, "the raised exception is kept")
}

// Every parser must terminate without panicking on any input and keep its limits.
func fuzzParser(f *testing.F, parse func(string) Trace) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(string(b))
	}
	f.Add("panic: x\n\ngoroutine 1 [running]:\nmain.main()\n\t:0\n")
	f.Add("Caused by: x\n\t... 99 more\n")
	f.Fuzz(func(t *testing.T, text string) {
		tr := parse(text)
		require.LessOrEqual(t, len(tr.Exceptions), MaxExceptions)
		for _, e := range tr.Exceptions {
			require.LessOrEqual(t, len(e.Frames), MaxFrames)
		}
		if tr.Platform == "" {
			require.Empty(t, tr.Exceptions)
		}
	})
}

func FuzzParse(f *testing.F)      { fuzzParser(f, Parse) }
func FuzzPython(f *testing.F)     { fuzzParser(f, Python) }
func FuzzGo(f *testing.F)         { fuzzParser(f, Go) }
func FuzzJava(f *testing.F)       { fuzzParser(f, Java) }
func FuzzJavaScript(f *testing.F) { fuzzParser(f, JavaScript) }
