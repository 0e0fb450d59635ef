package logql

import (
	"testing"
)

// FuzzLineStages runs the line decoders (logfmt with and without flags, unpack, json
// expressions, ip filters, decolorize) on arbitrary lines: they must not panic, and
// logfmt without --strict must never set an error.
func FuzzLineStages(f *testing.F) {
	for _, s := range []string{`a=1 b="two words" c= bare d="esc\"aped"`, `a="unterminated`, `=x a=1`,
		`{"_entry":"hi","app":"web","n":1}`, "\x1b[31mred\x1b[0m 10.0.0.1:80 [::1]:8080", `{"a":{"b":[1,2]}}`} {
		f.Add(s)
	}
	queries := []string{
		`{job="x"} | logfmt`, `{job="x"} | logfmt --strict --keep-empty`, `{job="x"} | logfmt a, b="c"`,
		`{job="x"} | unpack`, `{job="x"} | json a, b="a.b[1]"`, `{job="x"} |= ip("10.0.0.0/8")`,
		`{job="x"} != ip("::1-::ff")`, `{job="x"} | decolorize`,
	}
	var stages [][]Stage
	for _, q := range queries {
		expr, err := Parse(q)
		if err != nil {
			f.Fatal(q, err)
		}
		stages = append(stages, expr.(*LogExpr).Stages)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for i, st := range stages {
			e := &entry{line: line, labels: map[string]string{"job": "x"}, meta: map[string]bool{}, stream: map[string]bool{"job": true}}
			run(st, e)
			if i == 0 && e.labels[errorLabel] != "" {
				t.Fatalf("logfmt without --strict set %s on %q", e.labels[errorLabel], line)
			}
		}
	})
}
