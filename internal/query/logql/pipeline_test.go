package logql

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// runLine parses a log query and runs its stages on one line of a stream {job="x"}.
func runLine(t *testing.T, q, line string) (*entry, bool) {
	t.Helper()
	expr, err := Parse(q)
	require.NoError(t, err, q)
	e := &entry{line: line, labels: map[string]string{"job": "x"}, meta: map[string]bool{}, stream: map[string]bool{"job": true}}
	return e, run(expr.(*LogExpr).Stages, e)
}

func TestStages(t *testing.T) {
	for _, c := range []struct {
		q, line, want string
		labels        map[string]string
		dropped       bool
	}{
		{q: `{job="x"} | unpack | line_format "{{.app}}: {{__line__}}"`, line: `{"_entry":"hello","app":"web"}`, want: "web: hello"},
		{q: `{job="x"} | json first="items[0]", deep="a.b.c", job="a.job"`, line: `{"items":["p","q"],"a":{"b":{"c":1.5},"job":"j"}}`,
			labels: map[string]string{"job": "x", "first": "p", "deep": "1.5", "job_extracted": "j"}},
		{q: `{job="x"} | json`, line: `{"job":"j","n":null,"t":true,"arr":[1],"o":{"k":"v"}}`,
			labels: map[string]string{"job": "x", "job_extracted": "j", "n": "", "t": "true", "o_k": "v"}},
		{q: `{job="x"} | logfmt`, line: `a=1 b="two words" c= bare d="esc\"aped" e.f=g`,
			labels: map[string]string{"job": "x", "a": "1", "b": "two words", "d": `esc"aped`, "e_f": "g"}},
		// Loki 2.9+: without --strict, malformed pairs are skipped without an error.
		{q: `{job="x"} | logfmt`, line: `a="unterminated`, labels: map[string]string{"job": "x"}},
		{q: `{job="x"} | logfmt --strict`, line: `a="unterminated`, labels: map[string]string{"job": "x", "__error__": "LogfmtParserErr", "__error_details__": `unterminated quoted value for key "a"`}},
		{q: `{job="x"} | logfmt`, line: `a=1 =x b=2`, labels: map[string]string{"job": "x", "a": "1", "b": "2"}},
		{q: `{job="x"} | logfmt --strict`, line: `a=1 =x b=2`, labels: map[string]string{"job": "x", "a": "1", "__error__": "LogfmtParserErr", "__error_details__": "unexpected '=' at 4"}},
		{q: `{job="x"} | logfmt --keep-empty`, line: `a=1 b= c`, labels: map[string]string{"job": "x", "a": "1", "b": "", "c": ""}},
		{q: `{job="x"} | logfmt --strict --keep-empty a, bee="b"`, line: `a=1 b=2 c=3`, labels: map[string]string{"job": "x", "a": "1", "bee": "2"}},
		// json: a bare name extracts the field of that name
		{q: `{job="x"} | json status, m="req.method", job`, line: `{"status":200,"req":{"method":"GET"},"job":"j","other":1}`,
			labels: map[string]string{"job": "x", "status": "200", "m": "GET", "job_extracted": "j"}},
		// unpack: only an object with _entry is unpacked (Loki's UnpackParser)
		{q: `{job="x"} | unpack`, line: `{"app":"web","n":1}`, want: `{"app":"web","n":1}`, labels: map[string]string{"job": "x"}},
		{q: `{job="x"} | unpack`, line: `{"_entry":"hi","app":"web","job":"j","n":1}`, want: "hi", labels: map[string]string{"job": "x", "app": "web", "job_extracted": "j"}},
		{q: `{job="x"} | unpack`, line: `plain`, want: "plain", labels: map[string]string{"job": "x", "__error__": "JSONParserErr", "__error_details__": "expecting json object(6), but it is not"}},
		// bytes filters read plain numbers as bytes (go-humanize, as Loki)
		{q: `{job="x"} | logfmt | size > 1KB`, line: `size=2048`, labels: map[string]string{"job": "x", "size": "2048"}},
		{q: `{job="x"} | logfmt | size > 1KB`, line: `size=512`, dropped: true},
		{q: `{job="x"} | logfmt | size <= 2KiB`, line: `size="2 KiB"`, labels: map[string]string{"job": "x", "size": "2 KiB"}},
		// decolorize
		{q: `{job="x"} | decolorize`, line: "\x1b[31mred\x1b[0m plain \x1b[1;32mbold\x1b[0m", want: "red plain bold"},
		// ip(): line filters find an address anywhere in the line; label filters match the value
		{q: `{job="x"} |= ip("10.0.0.0/8")`, line: `from host:10.1.2.3:8080 ok`, labels: map[string]string{"job": "x"}},
		{q: `{job="x"} |= ip("10.0.0.0/8")`, line: `from 192.168.1.1`, dropped: true},
		{q: `{job="x"} != ip("192.168.1.1-192.168.1.9")`, line: `from 192.168.1.5`, dropped: true},
		{q: `{job="x"} |= ip("::1")`, line: `listen [::1]:80`, labels: map[string]string{"job": "x"}},
		{q: `{job="x"} | logfmt | addr = ip("192.168.0.0/16")`, line: `addr=192.168.4.4`, labels: map[string]string{"job": "x", "addr": "192.168.4.4"}},
		{q: `{job="x"} | logfmt | addr != ip("192.168.0.0/16")`, line: `addr=192.168.4.4`, dropped: true},
		{q: `{job="x"} | logfmt | addr = ip("192.168.0.0/16")`, line: `addr=nope`, dropped: true},
		{q: `{job="x"} | pattern "<_> <method> <path> <_>"`, line: `10.0.0.1 GET /x HTTP/1.1`, labels: map[string]string{"job": "x", "method": "GET", "path": "/x"}},
		{q: `{job="x"} | pattern "[<level>] <msg>"`, line: `no bracket`, labels: map[string]string{"job": "x"}},
		{q: `{job="x"} | regexp "(?P<n>\\d+)ms" | n > 100`, line: `took 150ms`, labels: map[string]string{"job": "x", "n": "150"}},
		{q: `{job="x"} | regexp "(?P<n>\\d+)ms" | n > 100`, line: `took 50ms`, dropped: true},
		{q: `{job="x"} | logfmt | d >= 1m30s or b == 2KiB`, line: `d=2m b=1`, labels: map[string]string{"job": "x", "d": "2m", "b": "1"}},
		{q: `{job="x"} | logfmt | b == 2KiB`, line: `b=2048B`, labels: map[string]string{"job": "x", "b": "2048B"}},
		{q: `{job="x"} | logfmt | n > 1`, line: `n=abc`, labels: map[string]string{"job": "x", "n": "abc", "__error__": "LabelFilterErr", "__error_details__": `strconv.ParseFloat: parsing "abc": invalid syntax`}},
		{q: `{job="x"} | logfmt | missing > 1`, line: `n=1`, dropped: true},
		{q: `{job="x"} | label_format up="{{.job | upper}}", new=job`, line: `l`, labels: map[string]string{"up": "X", "new": "x"}},
		{q: `{job="x"} | logfmt | keep a`, line: `a=1 b=2`, labels: map[string]string{"a": "1"}},
		{q: `{job="x"} | logfmt | drop a="1", b`, line: `a=1 b=2 c=3`, labels: map[string]string{"job": "x", "c": "3"}},
		{q: `{job="x"} |= "a" or "b" != "c"`, line: `b`, labels: map[string]string{"job": "x"}},
		{q: `{job="x"} |= "a" or "b" != "c"`, line: `bc`, dropped: true},
		{q: `{job="x"} |~ "^a.c$"`, line: "abc", labels: map[string]string{"job": "x"}},
	} {
		e, kept := runLine(t, c.q, c.line)
		require.Equal(t, !c.dropped, kept, c.q)
		if c.dropped {
			continue
		}
		if c.want != "" {
			require.Equal(t, c.want, e.line, c.q)
		}
		if c.labels != nil {
			require.Equal(t, c.labels, e.labels, c.q)
		}
	}
}

// TestTemplateFunctions checks the template functions of Loki's
// docs/sources/query/template_functions.md with the examples given there.
func TestTemplateFunctions(t *testing.T) {
	f := func(tmpl, want string) {
		t.Helper()
		e, kept := runLine(t, "{job=\"x\"} | logfmt | line_format `"+tmpl+"`", `n=7 s="3.5" d=1m30s b=2KiB from=1679577215 q="a b&c" p=/users/7 e= j="{\"foo\":55}"`)
		require.True(t, kept)
		require.Empty(t, e.labels["__error__"], "%s: %s", tmpl, e.labels["__error_details__"])
		require.Equal(t, want, e.line, tmpl)
	}
	f(`{{ add 3 2 5 }}`, "10")
	f(`{{ add .n 1 }}`, "8")
	f(`{{ sub 5 2 }}`, "3")
	f(`{{ mul 5 2 3 }}`, "30")
	f(`{{ div 10 2 }}`, "5")
	f(`{{ mod 10 3 }}`, "1")
	f(`{{ addf 3.5 2 5 }}`, "10.5")
	f(`{{ subf 5.5 2 1.5 }}`, "2")
	f(`{{ mulf 5.5 2 2.5 }}`, "27.5")
	f(`{{ divf 10 2 4 }}`, "1.25")
	f(`{{ max 1 2 3 }} {{ min 1 2 3 }} {{ maxf 1 2.5 3 }} {{ minf 1.5 2.5 3 }}`, "3 1 3 1.5")
	f(`{{ ceil 123.001 }} {{ floor 123.9999 }}`, "124 123")
	f(`{{ round 123.555555 3 }} {{ round 123.88571428571 5 .2 }}`, "123.556 123.88572")
	f(`{{ "3" | int }} {{ .s | float64 }} {{ mulf .s 2 }}`, "3 3.5 7")
	f(`{{ .d | duration }} {{ duration_seconds "1h" }} {{ .b | bytes }}`, "90 3600 2048")
	f(`{{ date "2006-01-02" (unixToTime .from) }}`, "2023-03-23")
	f(`{{ toDate "2006-01-02" "2021-11-02" | unixEpoch }}`, "1635811200")
	f(`{{ toDateInZone "2006-01-02" "UTC" "2021-11-02" | unixEpochMillis }}`, "1635811200000")
	f(`{{ unixToTime "1679577215123" | unixEpochNanos }}`, "1679577215123000000")
	f(`[{{ alignLeft 5 "hello world" }}][{{ alignLeft 5 "hi" }}][{{ alignRight 5 "hello world" }}][{{ alignRight 5 "hi" }}]`, "[hello][hi   ][world][   hi]")
	f(`{{ "hello" | b64enc }} {{ b64dec "aGVsbG8=" }}`, "aGVsbG8= hello")
	f(`{{ regexReplaceAll "(a*)bc" "aabcx" "${1}a" }} {{ regexReplaceAllLiteral "(ts=)" "ts=1" "timestamp=" }}`, "aaax timestamp=1")
	f(`{{ count "a|b" "abab" }} {{ count "o" "foo" }}`, "4 2")
	f(`{{ .q | urlencode }} {{ urldecode "a+b%26c" }}`, "a+b%26c a b&c")
	f(`{{ (fromJson .j).foo }}`, "55")
	f(`{{ .e | default "-" }} {{ .n | default "-" }} {{ default "-" .missing }}`, "- 7 -")
	f(`{{ trunc 5 "hello world" }} {{ trunc -5 "hello world" }} {{ substr 0 5 "hello world" }} {{ substr 6 11 "hello world" }}`, "hello world hello world")
	f(`{{ .p | trimPrefix "/" }} {{ trimAll "$" "$5.00" }} {{ title "hello world" }} {{ repeat 3 "ab" }}`, "users/7 5.00 Hello World ababab")
	f(`{{ indent 2 "a\nb" }}|{{ nindent 1 "c" }}`, "  a\n  b|\n c")
	f(`{{ if and (contains "he" "hello") (hasPrefix "he" "hello") (hasSuffix "lo" "hello") }}yes{{ end }}`, "yes")
	f(`{{ printf "%-4s|" "ab" }}{{ lower "HI" }}{{ upper "hi" }}`, "ab  |hiHI")
	f(`{{ now | unixEpoch | len | printf "%d" }}`, "10")
	f(`{{ __line__ | count "=" }}`, "9")
}

func TestDetectedLevelNormalised(t *testing.T) {
	for in, want := range map[string]string{"WARNING": "warn", "warn": "warn", "Err": "error", "ERROR": "error",
		"information": "info", "INF": "info", "dbg": "debug", "trc": "trace", "critical": "critical", "Notice": "notice"} {
		require.Equal(t, want, detectedLevel(in, 0), in)
	}
	require.Equal(t, "warn", detectedLevel("", 13))
}
