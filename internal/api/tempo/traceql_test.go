package tempo

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// TestPrefilter checks the store conditions a query pushes down: for the queries
// Grafana's search builder writes, every condition.
func TestPrefilter(t *testing.T) {
	f := func(q string, want store.TraceQuery) {
		t.Helper()
		n, err := parseTraceQL(q)
		require.NoError(t, err, q)
		require.Equal(t, want, prefilter(n), q)
	}
	f("{}", store.TraceQuery{})
	f(`{ resource.service.name = "api" && span.http.route = "/y" && duration > 100ms && status = error }`, store.TraceQuery{
		Service: "api", MinDuration: 100*time.Millisecond + 1, ErrorsOnly: true,
		Attrs: []store.AttrFilter{{Key: "http.route", Op: store.MatchEqual, Value: "/y"}},
	})
	f(`{.service.name="a"&&.service.name="b"}`, store.TraceQuery{Service: "a",
		Attrs: []store.AttrFilter{{Key: "service.name", Op: store.MatchEqual, Value: "b"}}})
	// != and !~ also require the attribute: a span without it does not match (Tempo).
	f(`{ span.code != 500 && span.ok = true && span.x =~ "a|b" && span.y !~ "c" }`, store.TraceQuery{
		Attrs: []store.AttrFilter{
			{Key: "code", Op: store.MatchNotEqual, Value: "500"},
			{Key: "code", Op: store.MatchRegexp, Value: ".+"},
			{Key: "ok", Op: store.MatchEqual, Value: "true"},
			{Key: "x", Op: store.MatchRegexp, Value: "a|b"},
			{Key: "y", Op: store.MatchNotRegexp, Value: "c"},
			{Key: "y", Op: store.MatchRegexp, Value: ".+"},
		}})
	f(`{ duration >= 1s && duration < 2s && duration <= 3s }`, store.TraceQuery{MinDuration: time.Second, MaxDuration: 2*time.Second - 1})
	f(`{ duration > 5µs }`, store.TraceQuery{MinDuration: 5*time.Microsecond + 1})
	f("{ name = \"GET \\\"x\\\"\" }", store.TraceQuery{SpanName: `GET "x"`})
	f("{ name = `raw\\n` }", store.TraceQuery{SpanName: `raw\n`})
	f(`{ span."with space" = "x" }`, store.TraceQuery{Attrs: []store.AttrFilter{{Key: "with space", Op: store.MatchEqual, Value: "x"}}})
	// Only what the store can test without losing a match is pushed down.
	f(`{ .a = 1.50 && .b > 3 && kind = server && .c = nil && (.d = "x" || .e = "y") }`, store.TraceQuery{})
	f(`{ .a = "x" } || { .b = "y" }`, store.TraceQuery{})
	f(`{ .a = "x" } >> { .b = "y" && .c = "z" }`, store.TraceQuery{Attrs: []store.AttrFilter{
		{Key: "b", Op: store.MatchEqual, Value: "y"}, {Key: "c", Op: store.MatchEqual, Value: "z"}}})
	f(`{ .a = "x" && .c = "z" } !>> { .b = "y" }`, store.TraceQuery{Attrs: []store.AttrFilter{{Key: "b", Op: store.MatchEqual, Value: "y"}}})
	f(`{ .a = "x" } | count() > 2`, store.TraceQuery{Attrs: []store.AttrFilter{{Key: "a", Op: store.MatchEqual, Value: "x"}}})
}

func TestParseTraceQLErrorsNameTheProblem(t *testing.T) {
	f := func(q, want string) {
		t.Helper()
		_, err := parseTraceQL(q)
		require.Error(t, err, q)
		require.Contains(t, err.Error(), want, q)
	}
	f("", "unexpected end of query")
	f("{ (.a = \"x\" }", `want ) to close a condition`)
	f("{ .a >> .b }", `(">>"): want a comparison operator`)
	f("{ resource. = \"x\" }", "attribute name missing")
	f("{ event.name = \"x\" }", "supported fields are")
	f("{ .a = \"x\" } | by(.b)", "supported pipeline stages")
	f("{ .a = \"x\" } | rate()", "supported pipeline stages")
	f("{ .a = \"x\" } | count() > fast", "aggregate compares with a number")
	f("{ .a = \"x\" } {}", "want | or a spanset operator")
	f("{ status = fast }", "status supports")
	f("{ .a = fast }", "an attribute value must be")
	f("{ status > error }", "status supports = and !=")
	f("{ kind = error }", "kind supports")
	f("{ duration > 5 }", `want a duration`)
	f("{ name = 5 }", "compares with a quoted string")
	f("{ .a =~ 5 }", "needs a quoted regular expression")
	f("{ .a > nil }", "nil compares only")
	f(strings.Repeat("(", 200)+"{}"+strings.Repeat(")", 200), "nested too deeply")
	f("{ "+strings.Repeat("!", 200)+".a }", "nested too deeply")
}

// span is one span of a test trace: id, parent id (0 for a root), name, kind, duration.
type span struct {
	id, parent byte
	name       string
	kind       ptrace.SpanKind
	dur        time.Duration
	attrs      map[string]any
}

func testTrace(t *testing.T, spans ...span) *evalTrace {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	ss := rs.ScopeSpans().AppendEmpty()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, s := range spans {
		sp := ss.Spans().AppendEmpty()
		sp.SetSpanID(pcommon.SpanID{s.id})
		if s.parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID{s.parent})
		}
		sp.SetName(s.name)
		sp.SetKind(s.kind)
		start := base.Add(time.Duration(i) * time.Millisecond)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(s.dur)))
		require.NoError(t, sp.Attributes().FromRaw(s.attrs))
	}
	return newEvalTrace(td)
}

// TestEvalTraceQL evaluates queries over one trace and lists the names of the spans the
// query selects.
//
//	root (server, 100ms)
//	├── a (client, 20ms, http.status_code=500)
//	│   └── a1 (internal, 5ms)
//	└── b (client, 50ms, http.status_code=200, cache="")
func TestEvalTraceQL(t *testing.T) {
	tr := testTrace(t,
		span{id: 1, name: "root", kind: ptrace.SpanKindServer, dur: 100 * time.Millisecond},
		span{id: 2, parent: 1, name: "a", kind: ptrace.SpanKindClient, dur: 20 * time.Millisecond, attrs: map[string]any{"http.status_code": 500}},
		span{id: 3, parent: 2, name: "a1", kind: ptrace.SpanKindInternal, dur: 5 * time.Millisecond},
		span{id: 4, parent: 1, name: "b", kind: ptrace.SpanKindClient, dur: 50 * time.Millisecond, attrs: map[string]any{"http.status_code": 200, "cache": ""}},
	)
	f := func(q string, want ...string) {
		t.Helper()
		n, err := parseTraceQL(q)
		require.NoError(t, err, q)
		got := []string{}
		for i, in := range tr.eval(n) {
			if in {
				got = append(got, tr.spans[i].sp.Name())
			}
		}
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, got, q)
	}
	f("{}", "root", "a", "a1", "b")
	// != and !~ never match a span without the attribute (Tempo); nil tests presence.
	f(`{ span.http.status_code != 500 }`, "b")
	f(`{ span.http.status_code !~ "5.." }`, "b")
	f(`{ span.http.status_code = nil }`, "root", "a1")
	f(`{ span.http.status_code != nil }`, "a", "b")
	f(`{ span.cache != "x" }`) // an empty string counts as missing, as in the store
	// Numeric comparison of attributes.
	f(`{ span.http.status_code >= 500 }`, "a")
	f(`{ .http.status_code < 300 && kind = client }`, "b")
	f(`{ span.http.status_code = "500" }`, "a") // text form, as the store compares
	// Boolean logic inside a filter, left to right with equal precedence (Tempo's grammar).
	f(`{ name = "a" || name = "b" && kind = client }`, "a", "b")
	f(`{ name = "a" || (name = "b" && kind = server) }`, "a")
	f(`{ !(kind = client) }`, "root", "a1")
	f(`{ kind != client && duration > 10ms }`, "root")
	f(`{ traceDuration > 90ms && rootName = "root" && rootServiceName = "svc" && name = "a1" }`, "a1")
	// Structural operators keep the spans of the right side.
	f(`{ name = "root" } > { }`, "a", "b")
	f(`{ name = "root" } >> { }`, "a", "a1", "b")
	f(`{ name = "a1" } < { }`, "a")
	f(`{ name = "a1" } << { }`, "root", "a")
	f(`{ name = "a" } ~ { }`, "b")
	f(`{ kind = client } ~ { kind = client }`, "a", "b")
	f(`{ name = "root" } !> { }`, "root", "a1")
	f(`{ name = "root" } !>> { }`, "root")
	f(`{ } !< { }`, "a1", "b")
	f(`{ name = "a1" } !<< { }`, "a1", "b")
	f(`{ name = "a" } !~ { }`, "root", "a", "a1")
	f(`{ name = "root" } >> { name = "a" } > { }`, "a1")
	// && and || between spansets.
	f(`{ name = "a" } && { name = "b" }`, "a", "b")
	f(`{ name = "a" } && { name = "zz" }`)
	f(`{ name = "a" } || { name = "zz" }`, "a")
	f(`({ name = "a" } || { name = "b" }) >> { }`, "a1")
	// Pipelines: filters, aggregates over the spanset, select and coalesce.
	f(`{ } | { kind = client }`, "a", "b")
	f(`{ kind = client } | count() = 2`, "a", "b")
	f(`{ kind = client } | count() > 2`)
	f(`{ kind = client } | avg(duration) = 35ms`, "a", "b")
	f(`{ } | min(duration) < 10ms | max(duration) >= 100ms`, "root", "a", "a1", "b")
	f(`{ } | sum(duration) > 1s`)
	f(`{ } | sum(span.http.status_code) = 700 | select(span.http.status_code) | coalesce()`, "root", "a", "a1", "b")
	f(`({ kind = client } | count() > 1) && { name = "root" }`, "root", "a", "b")
}

func FuzzParseTraceQL(f *testing.F) {
	for _, s := range []string{
		"{}", `{ resource.service.name = "api" && span.http.route = "/y" && duration > 100ms && status = error }`,
		`{ .a =~ "x.*" || .b = 1 }`, "{ duration <= 1µs }", "{ name = `x` } | count() > 1", `{ .a = "\x" }`,
		`{ span.a = "x`, "{{}}", "{ status = error && kind = server }", `{ .a = 1 } >> { .b != nil } ~ { }`,
		`({ } | avg(duration) > 1s) && { } | select(.a, span.b)`, `{ !(.a = 1) && true }`, `{ .a } !<< { } | coalesce()`,
	} {
		f.Add(s)
	}
	// One trace to evaluate accepted queries on: they must not panic.
	root := ptrace.NewTraces()
	sp := root.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetSpanID(pcommon.SpanID{1})
	sp.SetParentSpanID(pcommon.SpanID{1}) // its own parent: evaluation must not loop
	sp.Attributes().PutInt("a", 1)
	tr := newEvalTrace(root)
	f.Fuzz(func(t *testing.T, q string) {
		n, err := parseTraceQL(q)
		if err != nil {
			require.True(t, utf8.ValidString(err.Error()) || !utf8.ValidString(q), "error message is valid UTF-8 for valid input")
			return
		}
		got := prefilter(n)
		// A pushed-down query can be run: every filter has a key.
		for _, a := range got.Attrs {
			require.NotEmpty(t, a.Key)
		}
		require.GreaterOrEqual(t, got.MinDuration, time.Duration(0))
		require.Len(t, tr.eval(n), 1)
		require.True(t, strings.Contains(q, "{") && strings.Contains(q, "}"))
	})
}

func TestParseLogfmt(t *testing.T) {
	f := func(s string, want ...kv) {
		t.Helper()
		got, err := parseLogfmt(s)
		require.NoError(t, err, s)
		if want == nil {
			want = []kv(nil)
		}
		require.Equal(t, want, got, s)
	}
	f("")
	f("   ")
	f("service.name=x http.status_code=500", kv{"service.name", "x"}, kv{"http.status_code", "500"})
	f(`name="GET /users" a=`, kv{"name", "GET /users"}, kv{"a", ""})
	f(`a="q\"uote"  b=c`, kv{"a", `q"uote`}, kv{"b", "c"})
	f("a=b=c", kv{"a", "b=c"})

	bad := func(s, want string) {
		t.Helper()
		_, err := parseLogfmt(s)
		require.Error(t, err, s)
		require.Contains(t, err.Error(), want, s)
	}
	bad("a", `key "a" at offset 0 has no =value`)
	bad("=b", "empty key at offset 0")
	bad(`a="b"c`, "want a space after the closing quote")
	bad(`a=b"c`, "stray quote")
	bad(`a="b`, "unterminated string")
	bad(`"a"=b`, "empty key")
}

func FuzzParseLogfmt(f *testing.F) {
	for _, s := range []string{"service.name=x http.status_code=500", `name="GET /users"`, `a="\q"`, "a", "=", `a=""b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs, err := parseLogfmt(s)
		if err != nil {
			return
		}
		for _, p := range pairs {
			require.NotEmpty(t, p.key)
			require.NotContains(t, p.key, "=")
			require.True(t, strings.Contains(s, p.key))
		}
		var q store.TraceQuery
		_ = applyTags(&q, pairs) // never panics
	})
}
