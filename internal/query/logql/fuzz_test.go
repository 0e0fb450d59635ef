package logql_test

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

// FuzzParse checks that the parser never panics and that every error is a *ParseError
// with a position inside the query.
func FuzzParse(f *testing.F) {
	file, err := os.Open("testdata/queries.test")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if q, ok := strings.CutPrefix(sc.Text(), "query: "); ok {
			f.Add(q)
		}
	}
	file.Close()
	for _, q := range []string{`{a="b"} |= "x" or "y" | json a="b[0].c", d="e" | unpack`, `{a="b"} | drop a="x", b | keep c`,
		`-count_over_time({a="b"}[1m]) % 2 >= bool 1`, "{a=\"b\"}\n|= `x", `{a="b"} | x > 1.5KiB or y < 2h`, `{a="\xff"}`,
		`{a="b"} |= ip("10.0.0.0/8") | logfmt --strict --keep-empty x, y="z" | addr != ip("::1-::9") | decolorize | json a, b="c"`} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		_, err := logql.Parse(q)
		if err == nil {
			return
		}
		pe, ok := err.(*logql.ParseError)
		if !ok {
			t.Fatalf("Parse(%q) error %T %v, want *ParseError", q, err, err)
		}
		if pe.Line < 1 || pe.Col < 1 || pe.Line > strings.Count(q, "\n")+1 {
			t.Fatalf("Parse(%q): position %d:%d outside the query", q, pe.Line, pe.Col)
		}
	})
}

// FuzzEval evaluates every query that parses over the test data set: errors are fine,
// panics are not.
func FuzzEval(f *testing.F) {
	file, err := os.Open("testdata/queries.test")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if q, ok := strings.CutPrefix(sc.Text(), "query: "); ok {
			f.Add(q, uint8(30))
		}
	}
	file.Close()
	st := newTestStore(f)
	eng := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	f.Fuzz(func(t *testing.T, q string, step uint8) {
		expr, err := logql.Parse(q)
		if err != nil {
			return
		}
		p := logql.Params{Start: T0, End: T0.Add(2 * time.Minute), Step: time.Duration(step%60+1) * time.Second, Limit: 20}
		_, _ = eng.Eval(context.Background(), expr, p)
		p.Start, p.Step = p.End, 0
		_, _ = eng.Eval(context.Background(), expr, p)
	})
}
