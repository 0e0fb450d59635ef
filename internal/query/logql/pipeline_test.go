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
		{q: `{job="x"} | logfmt`, line: `a="unterminated`, labels: map[string]string{"job": "x", "__error__": "LogfmtParserErr", "__error_details__": `unterminated quoted value for key "a"`}},
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
