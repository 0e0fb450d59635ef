package querylimit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckExpr(t *testing.T) {
	l := ExprLimits{MaxBytes: 100, MaxDepth: 3}
	f := func(q string, want error) {
		t.Helper()
		err := CheckExpr(q, l)
		if want == nil {
			require.NoError(t, err, "query %q", q)
			return
		}
		require.True(t, errors.Is(err, want), "query %q: got %v, want %v", q, err, want)
	}
	f(`sum(rate({job="a"}[5m]))`, nil)                 // depth 3
	f(`sum(sum(rate({job="a"}[5m])))`, ErrExprTooDeep) // depth 4
	f(`{job="(((((("} |~ "[[[[[["`, nil)               // inside strings
	f(`{job='(((('} |= `+"`((((`", nil)
	f(`{job="\"(((("}`, nil) // an escaped quote does not end the string
	f(`((()))((()))((()))`, nil)
	f(`)))))((()))`, nil) // stray closers do not lower the depth below zero
	f(strings.Repeat("x", 101), ErrExprTooLong)
	f(strings.Repeat("(", 40000), ErrExprTooLong)
	f(`{a="`+strings.Repeat("(", 90), nil) // unterminated: the parser reports it

	require.NoError(t, CheckExpr(strings.Repeat("(", 1000), ExprLimits{}), "zero limits disable the check")
	err := CheckExpr(strings.Repeat("(", 40000), DefaultExprLimits())
	require.ErrorContains(t, err, "query.max_query_depth")
	err = CheckExpr(strings.Repeat("1+", 40000), DefaultExprLimits())
	require.ErrorContains(t, err, "query.max_query_length")
}

func TestCheckParams(t *testing.T) {
	reached := false
	h := CheckParams(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }),
		ExprLimits{MaxBytes: 1000, MaxDepth: 8}, "query", "q")

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/loki/api/v1/query?query="+url.QueryEscape(strings.Repeat("(", 9)), nil))
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), "parameter query")
	require.Contains(t, rec.Body.String(), "query.max_query_depth")
	require.False(t, reached)

	// A POST form body is checked too (Loki and Prometheus accept both).
	form := url.Values{"q": {strings.Repeat("a", 1001)}}
	req := httptest.NewRequest("POST", "/api/search", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), "query.max_query_length")
	require.False(t, reached)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", `/api/search?q=`+url.QueryEscape(`{ .a = "b" }`), nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.True(t, reached)
}

func FuzzCheckExpr(f *testing.F) {
	for _, s := range []string{`sum(rate({a="b"}[5m]))`, `{a="\"("}`, "`((`", `((((`, `))))`, `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		l := ExprLimits{MaxBytes: 64, MaxDepth: 4}
		err := CheckExpr(q, l)
		if len(q) > l.MaxBytes && !errors.Is(err, ErrExprTooLong) {
			t.Fatalf("%d bytes passed a limit of %d", len(q), l.MaxBytes)
		}
		// Without any quote, depth is the plain running count of openers minus closers.
		if len(q) <= l.MaxBytes && !strings.ContainsAny(q, "\"'`") {
			depth, deepest := 0, 0
			for _, c := range []byte(q) {
				switch c {
				case '(', '[', '{':
					depth++
					deepest = max(deepest, depth)
				case ')', ']', '}':
					depth = max(depth-1, 0)
				}
			}
			if (deepest > l.MaxDepth) != errors.Is(err, ErrExprTooDeep) {
				t.Fatalf("depth %d, limit %d, got %v", deepest, l.MaxDepth, err)
			}
		}
	})
}
