package tempo

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

func TestParseTraceQL(t *testing.T) {
	f := func(q string, want store.TraceQuery) {
		t.Helper()
		got, err := parseTraceQL(q)
		require.NoError(t, err, q)
		require.Equal(t, want, got, q)
	}
	f("{}", store.TraceQuery{})
	f(`{ resource.service.name = "api" && span.http.route = "/y" && duration > 100ms && status = error }`, store.TraceQuery{
		Service: "api", MinDuration: 100*time.Millisecond + 1, ErrorsOnly: true,
		Attrs: []store.AttrFilter{{Key: "http.route", Op: store.MatchEqual, Value: "/y"}},
	})
	f(`{.service.name="a"&&.service.name="b"}`, store.TraceQuery{Service: "a",
		Attrs: []store.AttrFilter{{Key: "service.name", Op: store.MatchEqual, Value: "b"}}})
	f(`{ span.code != 500 && span.ok = true && span.x =~ "a|b" && span.y !~ "c" }`, store.TraceQuery{
		Attrs: []store.AttrFilter{
			{Key: "code", Op: store.MatchNotEqual, Value: "500"},
			{Key: "ok", Op: store.MatchEqual, Value: "true"},
			{Key: "x", Op: store.MatchRegexp, Value: "a|b"},
			{Key: "y", Op: store.MatchNotRegexp, Value: "c"},
		}})
	f(`{ duration >= 1s && duration < 2s && duration <= 3s }`, store.TraceQuery{MinDuration: time.Second, MaxDuration: 2*time.Second - 1})
	f(`{ duration > 5µs }`, store.TraceQuery{MinDuration: 5*time.Microsecond + 1})
	f("{ name = \"GET \\\"x\\\"\" }", store.TraceQuery{SpanName: `GET "x"`})
	f("{ name = `raw\\n` }", store.TraceQuery{SpanName: `raw\n`})
	f(`{ span."with space" = "x" }`, store.TraceQuery{Attrs: []store.AttrFilter{{Key: "with space", Op: store.MatchEqual, Value: "x"}}})
}

func TestParseTraceQLErrorsNameTheProblem(t *testing.T) {
	f := func(q, want string) {
		t.Helper()
		_, err := parseTraceQL(q)
		require.Error(t, err, q)
		require.Contains(t, err.Error(), want, q)
	}
	f("", "unexpected end of query")
	f("{ name = \"a\" && name = \"b\" }", "two different span names")
	f("{ duration < 0s }", "matches no span")
	f("{ (.a = \"x\") }", `("("): want a condition`)
	f("{ .a >> .b }", `(">>"): want a comparison operator`)
	f("{ resource. = \"x\" }", "attribute name missing")
	f("{ event.name = \"x\" }", "supported fields are")
	f("{ .a = \"x\" } >> { .b = \"y\" }", "only one spanset filter")
}

func FuzzParseTraceQL(f *testing.F) {
	for _, s := range []string{
		"{}", `{ resource.service.name = "api" && span.http.route = "/y" && duration > 100ms && status = error }`,
		`{ .a =~ "x.*" || .b = 1 }`, "{ duration <= 1µs }", "{ name = `x` } | count() > 1", `{ .a = "\x" }`,
		`{ span.a = "x`, "{{}}", "{ status = error && kind = server }",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got, err := parseTraceQL(q)
		if err != nil {
			require.True(t, utf8.ValidString(err.Error()) || !utf8.ValidString(q), "error message is valid UTF-8 for valid input")
			return
		}
		// An accepted query can be run: bounds are consistent and every filter has a key.
		require.False(t, got.MaxDuration > 0 && got.MaxDuration < got.MinDuration)
		require.GreaterOrEqual(t, got.MinDuration, time.Duration(0))
		for _, a := range got.Attrs {
			require.NotEmpty(t, a.Key)
		}
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
