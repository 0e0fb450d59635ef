package statsd

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseMetric(t *testing.T) {
	ok := func(line string, want Metric) {
		t.Helper()
		got, err := ParseMetric([]byte(line))
		require.NoError(t, err, line)
		if want.SampleRate == 0 {
			want.SampleRate = 1
		}
		require.Equal(t, want, got, line)
	}
	ok("hits:1|c", Metric{Name: "hits", Kind: Counter, Values: []float64{1}})
	ok("hits:2|c|@0.1", Metric{Name: "hits", Kind: Counter, Values: []float64{2}, SampleRate: 0.1})
	ok("temp:21.5|g", Metric{Name: "temp", Kind: Gauge, Values: []float64{21.5}})
	ok("temp:+3|g", Metric{Name: "temp", Kind: Gauge, Values: []float64{3}, Delta: true})
	ok("temp:-3|g", Metric{Name: "temp", Kind: Gauge, Values: []float64{-3}, Delta: true})
	ok("req.time:320|ms", Metric{Name: "req.time", Kind: Timer, Values: []float64{320}})
	ok("size:3|h|@0.5", Metric{Name: "size", Kind: Histogram, Values: []float64{3}, SampleRate: 0.5})
	ok("lat:0.2:0.4:1e-3|d", Metric{Name: "lat", Kind: Distribution, Values: []float64{0.2, 0.4, 0.001}})
	ok("users:alice|s", Metric{Name: "users", Kind: Set, SetValue: "alice"})
	ok("users:a:b|s", Metric{Name: "users", Kind: Set, SetValue: "a:b"})
	ok("page.views:1|c|#env:prod,route:/a:b,canary", Metric{Name: "page.views", Kind: Counter, Values: []float64{1},
		Tags: []Tag{{"env", "prod"}, {"route", "/a:b"}, {"canary", ""}}})
	ok("x:1|c|@0.5|#a:1|T1700000000|c:ci-123", Metric{Name: "x", Kind: Counter, Values: []float64{1}, SampleRate: 0.5,
		Tags: []Tag{{"a", "1"}}})
	ok("héllo.wörld:1|c", Metric{Name: "héllo.wörld", Kind: Counter, Values: []float64{1}})

	bad := func(line, reason string) {
		t.Helper()
		_, err := ParseMetric([]byte(line))
		var pe *ParseError
		require.True(t, errors.As(err, &pe), "%q: %v", line, err)
		require.Equal(t, reason, pe.Reason, line)
	}
	bad("hits", reasonBadType)
	bad("hits:1", reasonBadType)
	bad("hits|c", reasonNoValue)
	bad(":1|c", reasonNoName)
	bad("hits:|c", reasonNoValue)
	bad("hits:abc|c", reasonBadValue)
	bad("hits:NaN|g", reasonBadValue)
	bad("hits:Inf|g", reasonBadValue)
	bad("hits:1:|c", reasonBadValue)
	bad("hits:1|x", reasonBadType)
	bad("hits:1|", reasonBadType)
	bad("hits:-1|c", reasonNegative)
	bad("hits:1|c|@0", reasonBadRate)
	bad("hits:1|c|@2", reasonBadRate)
	bad("hits:1|c|@x", reasonBadRate)
	bad("hits:1|c|#:v", reasonBadTag)
	bad("hits:1|c|zzz", reasonUnknownFormat)
	bad("hits:1|c||", reasonUnknownFormat)
	bad("hi\xfft:1|c", reasonInvalidUTF8)
}

func TestParseEvent(t *testing.T) {
	e, err := ParseEvent([]byte(`_e{10,15}:Deploy v42|line1\nline2 ok|d:1700000000|h:web-1|k:dep|p:low|s:ci|t:warning|#env:prod,team:web`))
	require.NoError(t, err)
	require.Equal(t, Event{
		Title: "Deploy v42", Text: "line1\nline2 ok", Timestamp: time.Unix(1700000000, 0), Host: "web-1",
		AggregationKey: "dep", Priority: "low", SourceType: "ci", AlertType: "warning",
		Tags: []Tag{{"env", "prod"}, {"team", "web"}},
	}, e)
	e, err = ParseEvent([]byte(`_e{2,0}:hi|`))
	require.NoError(t, err)
	require.Equal(t, "hi", e.Title)
	// Lengths are in bytes.
	e, err = ParseEvent([]byte("_e{3,2}:h\u00e9|ok"))
	require.NoError(t, err)
	require.Equal(t, "h\u00e9", e.Title)

	for _, line := range []string{`_e{}:a|b`, `_e{1,1}a|b`, `_e{5,1}:a|b`, `_e{1,1}:ab|c`, `_e{1,5}:a|b`,
		`_e{1,1}:a|bc`, `_e{1,1}:a|b|d:x`, `_e{1,1}:a|b|zz`, `_e{0,1}:|b`, `_e{-1,1}:a|b`} {
		_, err := ParseEvent([]byte(line))
		require.Error(t, err, line)
	}
}

func TestParseServiceCheck(t *testing.T) {
	c, err := ParseServiceCheck([]byte(`_sc|db.up|2|d:1700000000|h:db-1|#env:prod|m:connection refused | retrying`))
	require.NoError(t, err)
	require.Equal(t, ServiceCheck{Name: "db.up", Status: 2, Timestamp: time.Unix(1700000000, 0), Host: "db-1",
		Tags: []Tag{{"env", "prod"}}, Message: "connection refused | retrying"}, c)
	c, err = ParseServiceCheck([]byte(`_sc|ok|0`))
	require.NoError(t, err)
	require.Equal(t, ServiceCheck{Name: "ok", Status: 0}, c)
	for _, line := range []string{`_sc||0`, `_sc|x`, `_sc|x|4`, `_sc|x|a`, `_sc|x|0|d:z`, `_sc|x|0|zz`} {
		_, err := ParseServiceCheck([]byte(line))
		require.Error(t, err, line)
	}
}

func TestEscapeName(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		require.Equal(t, want, EscapeName(in))
	}
	f("api.requests", "api_requests")
	f("api-req.time", "api_req_time")
	f("ok_name:x", "ok_name_x")
	f("9lives", "_9lives")
	f("héllo", "h_llo")
	f("a b/c", "a_b_c")
}
