package logql_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

// testCase is one case of testdata/*.test:
//
//	query: <LogQL>
//	range: <start> <end> <step>   (offsets from T0 such as +0s, +2m; a range query)
//	instant: <time>               (an instant query)
//	limit: <n>                    (optional)
//	direction: forward            (optional)
//	want:                         (then the expected result, one line per entry or series,
//	<lines>                        up to a blank line; or "error: <substring>")
//
// Result lines: log entries as `{labels} <offset> <line>`; matrix series as
// `{labels} <offset>=<value> ...`; vector samples as `{labels} <value>`; a scalar as
// `scalar <value>`.
type testCase struct {
	line     int
	query    string
	params   logql.Params
	want     []string
	wantErr  string
	wantLine int // line number of "want:"
}

func parseOffset(t *testing.T, s string) time.Time {
	d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	require.NoError(t, err, "offset %q", s)
	return T0.Add(d)
}

func readCases(t *testing.T, path string) []testCase {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var cases []testCase
	var cur *testCase
	inWant := false
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if inWant {
			if strings.TrimSpace(line) == "" {
				inWant = false
				continue
			}
			cur.want = append(cur.want, line)
			continue
		}
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		require.True(t, ok, "%s:%d: want key: value", path, n)
		val = strings.TrimSpace(val)
		switch key {
		case "query":
			cases = append(cases, testCase{line: n, query: val, params: logql.Params{Limit: 100}})
			cur = &cases[len(cases)-1]
		case "range":
			f := strings.Fields(val)
			require.Len(t, f, 3, "%s:%d", path, n)
			step, err := time.ParseDuration(f[2])
			require.NoError(t, err)
			cur.params.Start, cur.params.End, cur.params.Step = parseOffset(t, f[0]), parseOffset(t, f[1]), step
		case "instant":
			cur.params.Start = parseOffset(t, val)
			cur.params.End = cur.params.Start
		case "limit":
			cur.params.Limit, err = strconv.Atoi(val)
			require.NoError(t, err)
		case "direction":
			cur.params.Forward = val == "forward"
		case "want":
			inWant = true
			cur.wantLine = n
		case "error":
			cur.wantErr = val
		default:
			t.Fatalf("%s:%d: unknown key %q", path, n, key)
		}
	}
	require.NoError(t, sc.Err())
	return cases
}

func offset(ns int64) string {
	d := time.Unix(0, ns).Sub(T0)
	if d < 0 {
		return d.String()
	}
	return "+" + d.String()
}

func formatValue(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func render(res *logql.Result) []string {
	var out []string
	switch res.Type {
	case "streams":
		for _, s := range res.Streams {
			for _, e := range s.Entries {
				out = append(out, fmt.Sprintf("%s %s %s", logql.LabelsString(s.Labels), offset(e.Timestamp), e.Line))
			}
		}
	case "matrix":
		for _, s := range res.Series {
			parts := []string{logql.LabelsString(s.Labels)}
			for _, p := range s.Points {
				parts = append(parts, offset(p.T)+"="+formatValue(p.V))
			}
			out = append(out, strings.Join(parts, " "))
		}
	case "vector":
		for _, s := range res.Series {
			out = append(out, logql.LabelsString(s.Labels)+" "+formatValue(s.Points[0].V))
		}
	case "scalar":
		out = append(out, "scalar "+formatValue(res.Scalar.V))
	}
	return out
}

// TestCases runs testdata/queries.test over the DuckDB store filled with OTLP and
// Loki-pushed logs. With LOGQL_UPDATE=1 it rewrites the expected results with the actual
// ones (check the diff before committing).
func TestCases(t *testing.T) {
	const path = "testdata/queries.test"
	st := newTestStore(t)
	eng := logql.NewEngine(st.LogQL(), logql.DefaultOptions(), nil)
	cases := readCases(t, path)
	if os.Getenv("LOGQL_UPDATE") == "1" {
		updateCases(t, path, cases, eng)
		return
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("line%d", c.line), func(t *testing.T) {
			res, err := eng.Query(context.Background(), c.query, c.params)
			if c.wantErr != "" {
				require.Error(t, err, "query %s", c.query)
				require.Contains(t, err.Error(), c.wantErr, "query %s", c.query)
				return
			}
			require.NoError(t, err, "query %s", c.query)
			got := render(res)
			require.Equal(t, strings.Join(c.want, "\n"), strings.Join(got, "\n"), "query %s", c.query)
		})
	}
}

func updateCases(t *testing.T, path string, cases []testCase, eng *logql.Engine) {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	for i := len(cases) - 1; i >= 0; i-- {
		c := cases[i]
		if c.wantLine == 0 {
			continue
		}
		res, err := eng.Query(context.Background(), c.query, c.params)
		require.NoError(t, err, "query %s", c.query)
		start := c.wantLine // index of the first line after "want:"
		end := start + len(c.want)
		lines = append(lines[:start], append(render(res), lines[end:]...)...)
	}
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644))
}
