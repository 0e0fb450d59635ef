package native

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

func TestParseTime(t *testing.T) {
	f := func(in string, want time.Time) {
		t.Helper()
		got, err := parseTime(in, testNow)
		require.NoError(t, err, in)
		require.True(t, want.Equal(got), "%s: got %s, want %s", in, got, want)
		require.Equal(t, time.UTC, got.Location())
	}
	f("now", testNow)
	f("now-1h", testNow.Add(-time.Hour))
	f("now+90s", testNow.Add(90*time.Second))
	f("now-1d12h", testNow.Add(-36*time.Hour))
	f("now-1.5h", testNow.Add(-90*time.Minute))
	f("now-60", testNow.Add(-time.Minute))
	f("1700000000", time.Unix(1700000000, 0))
	f("1700000000.5", time.Unix(1700000000, 5e8))
	f("1700000000.000000001", time.Unix(1700000000, 1))
	f("1.7e9", time.Unix(1700000000, 0))
	f("0", time.Unix(0, 0))
	f("2026-11-22T10:00:00Z", time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	f("2026-11-22T10:00:00.000000001Z", time.Date(2026, 11, 22, 10, 0, 0, 1, time.UTC))
	f("2026-11-22T12:00:00+02:00", time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	f("2262-04-11T23:47:16.854775807Z", maxTime)

	bad := func(in, wantErr string) {
		t.Helper()
		_, err := parseTime(in, testNow)
		require.ErrorContains(t, err, wantErr, in)
	}
	bad("", "cannot parse")
	bad("today", `cannot parse "today" as a time: want RFC3339`)
	bad("now-", `cannot parse "now-" as a time`)
	bad("now-1x", `cannot parse "now-1x" as a time`)
	bad("now--1h", `negative`)
	bad("nowish", `want now, now-<duration> or now+<duration>`)
	bad("now-1000y", `duration "1000y" is too long`)
	bad("now-200y", "out of range")
	bad("now+250y", "out of range")
	bad("-1", "out of range")
	bad("1e300", "out of range")
	bad("NaN", "cannot parse")
	bad("Inf", "cannot parse")
	bad("1969-12-31T23:59:59Z", "out of range")
	bad("2262-04-11T23:47:16.854775808Z", "out of range")
	bad("2026-11-22 10:00:00", "cannot parse")
}

func TestParseDuration(t *testing.T) {
	f := func(in string, want time.Duration) {
		t.Helper()
		got, err := parseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	f("100ms", 100*time.Millisecond)
	f("1.5s", 1500*time.Millisecond)
	f("2m", 2*time.Minute)
	f("1h30m", 90*time.Minute)
	f("250us", 250*time.Microsecond)
	f("1d", 24*time.Hour)
	f("2w", 14*24*time.Hour)
	f("1d12h", 36*time.Hour)
	f("0", 0)
	f("15", 15*time.Second)
	f("0.5", 500*time.Millisecond)

	bad := func(in, wantErr string) {
		t.Helper()
		_, err := parseDuration(in)
		require.EqualError(t, err, wantErr, in)
	}
	bad("abc", `time: invalid duration "abc"`)
	bad("", `time: invalid duration ""`)
	bad("-1s", `duration "-1s" is negative`)
	bad("-3", `duration "-3" is negative`)
	bad("1e30", `duration "1e30" is too long`)
	bad("300y", `duration "300y" is too long`)
	bad("NaN", `time: invalid duration "NaN"`)
	bad("10000000h", `duration "10000000h" is too long`)
}

func TestParseAttrFilter(t *testing.T) {
	f := func(in string, want store.AttrFilter) {
		t.Helper()
		got, err := parseAttrFilter(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	f("k=v", store.AttrFilter{Key: "k", Op: store.MatchEqual, Value: "v"})
	f("k!=v", store.AttrFilter{Key: "k", Op: store.MatchNotEqual, Value: "v"})
	f("k=~v.*", store.AttrFilter{Key: "k", Op: store.MatchRegexp, Value: "v.*"})
	f("k!~v|w", store.AttrFilter{Key: "k", Op: store.MatchNotRegexp, Value: "v|w"})
	f("k=", store.AttrFilter{Key: "k", Op: store.MatchEqual, Value: ""})
	f("http.url=https://x/?a=b", store.AttrFilter{Key: "http.url", Op: store.MatchEqual, Value: "https://x/?a=b"})
	f("k==v", store.AttrFilter{Key: "k", Op: store.MatchEqual, Value: "=v"})
	f(" k =v ", store.AttrFilter{Key: "k", Op: store.MatchEqual, Value: "v "})
	f("k!x=v", store.AttrFilter{Key: "k!x", Op: store.MatchEqual, Value: "v"})

	bad := func(in, wantErr string) {
		t.Helper()
		_, err := parseAttrFilter(in)
		require.ErrorContains(t, err, wantErr, in)
	}
	bad("", `"" has no operator`)
	bad("k", `"k" has no operator`)
	bad("k!v", `"k!v" has no operator`)
	bad("=v", `"=v" has an empty key`)
	bad(" !=v", `has an empty key`)
	bad("k=~[", `"k=~[": invalid regular expression: error parsing regexp: missing closing ]`)
	bad("k!~(?P<", `invalid regular expression`)
	bad("k! =v", `"k! =v": key ends with '!'; for not-equal write key!=value without a space`)
}

func TestParseSeverity(t *testing.T) {
	f := func(in string, want int32) {
		t.Helper()
		got, err := parseSeverity(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	f("trace", 1)
	f("TRACE4", 4)
	f("debug", 5)
	f("info", 9)
	f("Info3", 11)
	f("warn", 13)
	f("warning", 13)
	f("error", 17)
	f("err", 17)
	f("error2", 18)
	f("fatal", 21)
	f("critical", 21)
	f("fatal4", 24)
	f("1", 1)
	f("24", 24)

	for _, in := range []string{"", "0", "25", "-1", "warn5", "warn1", "notice", "1.5", "99999999999999999999"} {
		_, err := parseSeverity(in)
		require.Error(t, err, in)
		require.ErrorContains(t, err, "want a name", in)
	}
}

func TestParseIDs(t *testing.T) {
	id, err := parseTraceID(strings.ToUpper(traceHex))
	require.NoError(t, err)
	require.Equal(t, traceHex, id.String())
	sid, err := parseSpanID(spanHex)
	require.NoError(t, err)
	require.Equal(t, spanHex, sid.String())

	for _, in := range []string{"", traceHex[:31], traceHex + "0", strings.Repeat("z", 32), " " + traceHex[1:], strings.Repeat("0", 32)} {
		_, err := parseTraceID(in)
		require.Error(t, err, in)
	}
	for _, in := range []string{"", spanHex[:15], traceHex, strings.Repeat("0", 16), "0x" + spanHex[2:]} {
		_, err := parseSpanID(in)
		require.Error(t, err, in)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []string{"1795345200000000000.12", "x", strings.Repeat("é", 100)} {
		got, err := decodeCursor(encodeCursor(c))
		require.NoError(t, err)
		require.Equal(t, c, got)
	}
	enc := encodeCursor("1795345200000000000.12")
	for _, bad := range []string{"", "AAAA", enc[:len(enc)-1], "x" + enc[1:], enc + "=", "!!!"} {
		_, err := decodeCursor(bad)
		require.ErrorIs(t, err, errBadCursor, bad)
	}
}
