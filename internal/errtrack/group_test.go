package errtrack

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func pyEvent(line int, value string) *Event {
	return &Event{
		Platform: "python",
		Exceptions: []Exception{{
			Type: "ZeroDivisionError", Value: value,
			Frames: []Frame{
				{Module: "flask.app", Function: "dispatch_request", Lineno: 1799},
				{Module: "app.views", Function: "checkout", Lineno: line, InApp: true},
				{Module: "app.cart", Function: "<lambda>", Lineno: line + 3, InApp: true},
			},
		}},
	}
}

func TestGroupSameBugDifferentLines(t *testing.T) {
	a, b := pyEvent(10, "division by zero"), pyEvent(42, "division by zero for 17")
	var g Grouper
	g.Group(a)
	g.Group(b)
	require.Equal(t, a.GroupID, b.GroupID, "line numbers and message must not split an issue with frames")
	require.Len(t, a.GroupID, 32)
	require.True(t, strings.HasPrefix(a.GroupingKey, "v1\n"))
	require.Equal(t, 1, GroupingKeyVersion(a.GroupingKey))

	c := pyEvent(10, "division by zero")
	c.Exceptions[0].Frames[1].Function = "pay"
	g.Group(c)
	require.NotEqual(t, a.GroupID, c.GroupID, "a different in-app function is a different bug")

	d := pyEvent(10, "division by zero")
	d.Exceptions[0].Frames[0].Function = "full_dispatch_request" // library frame
	g.Group(d)
	require.Equal(t, a.GroupID, d.GroupID, "library frames do not count when some are in-app")
}

// The issue id of a known event must never change within a grouping version: existing
// issues would split. This pins version 1.
func TestGroupIDIsStable(t *testing.T) {
	ev := pyEvent(10, "x")
	Grouper{}.Group(ev)
	require.Equal(t, "v1\ntype:ZeroDivisionError\nframe:app.views.checkout\nframe:app.cart.<lambda>", ev.GroupingKey)
	require.Equal(t, GroupID(1, Components(ev)), ev.GroupID)
	require.Equal(t, "dd55bad3d74970f547ddd5f744d0207b", GroupID(1, []string{"message", "hello <int>"}))
}

func TestGroupFallbacks(t *testing.T) {
	f := func(ev *Event, want ...string) {
		t.Helper()
		require.Equal(t, want, Components(ev))
	}
	// No in-app frame: all frames count, normalised.
	f(&Event{Exceptions: []Exception{{Type: "*errors.errorString", Frames: []Frame{
		{Module: "main", Function: "main.func1.2", Lineno: 3},
		{Function: "lambda$run$0", Filename: "/src/com/x/Worker.java"},
		{Module: "com.x.Foo$1", Function: "call"},
		{Module: "app.3f2a9c1b", Function: "handle"},
	}}}}, "type:errorString", "frame:main.main.func.", "frame:Worker.lambda$run$", "frame:com.x.Foo$.call", "frame:app..handle")
	// No frames: type and masked value.
	f(&Event{Exceptions: []Exception{{Type: "java.lang.IllegalStateException", Value: "user 1234 not found"}}},
		"type:IllegalStateException", "value:user <int> not found")
	// No exception: the masked message.
	f(&Event{Message: "timeout after 30s talking to 10.0.0.7:5432"}, "message", "timeout after <id> talking to <ip>")
	f(&Event{Logger: "root", Level: "error"}, "empty", "root", "error")
}

func TestGroupSDKFingerprint(t *testing.T) {
	ev := pyEvent(10, "x")
	ev.Fingerprint = []string{"payment-failed"}
	require.Equal(t, []string{"fingerprint", "payment-failed"}, Components(ev))
	ev.Fingerprint = []string{"{{ default }}", "db"}
	require.Equal(t, []string{"fingerprint", "type:ZeroDivisionError", "frame:app.views.checkout", "frame:app.cart.<lambda>", "db"}, Components(ev))
	ev.Fingerprint = []string{"{{default}}"}
	plain := pyEvent(10, "x")
	require.NotEqual(t, GroupID(1, Components(plain)), GroupID(1, Components(ev)),
		"a fingerprint of only the default is its own key (marked), like Sentry's hierarchical hashes are not")
}

func TestShortTypeJoinsSentryAndOTel(t *testing.T) {
	sentry := &Event{Exceptions: []Exception{{Type: "IllegalStateException", Module: "java.lang", Frames: []Frame{{Module: "com.x.Svc", Function: "run", InApp: true}}}}}
	otel := &Event{Exceptions: []Exception{{Type: "java.lang.IllegalStateException", Frames: []Frame{{Module: "com.x.Svc", Function: "run", InApp: true, Lineno: 9}}}}}
	Grouper{}.Group(sentry)
	Grouper{}.Group(otel)
	require.Equal(t, sentry.GroupID, otel.GroupID)
}

func TestTitleCulprit(t *testing.T) {
	ev := pyEvent(10, "division by zero\nmore")
	require.Equal(t, "ZeroDivisionError: division by zero", Title(ev))
	require.Equal(t, "app.cart in <lambda>", Culprit(ev))
	ev.Transaction = "/checkout"
	require.Equal(t, "/checkout", Culprit(ev))
	require.Equal(t, "hello", Title(&Event{Message: "hello\nworld"}))
	require.Equal(t, "<unlabeled event>", Title(&Event{}))
	long := strings.Repeat("é", 150)
	got := Title(&Event{Message: long})
	require.Equal(t, 100, utf8.RuneCountInString(got))
	require.True(t, strings.HasSuffix(got, "..."))
	require.Equal(t, "main.go in main", Culprit(&Event{Exceptions: []Exception{{Frames: []Frame{{Filename: "main.go", Function: "main"}}}}}))
}

func TestMaskMessage(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		require.Equal(t, want, MaskMessage(in))
		require.Equal(t, want, MaskMessage(want), "masking is idempotent")
	}
	f("no numbers here", "no numbers here")
	f("user 1234 not found", "user <int> not found")
	f("user_1234 not found", "<id> not found")
	f("took 3.25 seconds", "took <float> seconds")
	f("mail alice@example.com failed", "mail <email> failed")
	f("GET https://api.example.com/v1/items?id=3 failed", "GET <url> failed")
	f("order 123e4567-e89b-12d3-a456-426614174000 missing", "order <uuid> missing")
	f("at 2024-05-01T10:22:33Z and 10:22:33", "at <date> and <date>")
	f("connect 192.168.1.20:8080 refused", "connect <ip> refused")
	f("addr fe80:0:0:0:202:b3ff:fe1e:8329 down", "addr <ip> down")
	f("ptr 0xdeadbeef bad", "ptr <hex> bad")
	f("sha 9f86d081884c7d65 bad", "sha <hex> bad")
	f(`KeyError: 'user_id' and "x y"`, "KeyError: <quoted> and <quoted>")
	f("Foo::Bar broke", "Foo::Bar broke")
}

func FuzzMaskMessage(f *testing.F) {
	for _, s := range []string{"user 1234", "a@b.c 1.2.3.4", `'x' "1"`, "0x1f", "2024-01-01", "fe80::1", "é1é", "a'1'b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := MaskMessage(s)
		if strings.ContainsAny(out, "0123456789") {
			t.Fatalf("digits left in %q -> %q", s, out)
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q: %q", s, out)
		}
	})
}

func FuzzGroup(f *testing.F) {
	f.Add("ValueError", "bad 12", "app.x", "run3", "v1 {{ default }}")
	f.Fuzz(func(t *testing.T, typ, value, module, fn, fp string) {
		ev := &Event{Exceptions: []Exception{{Type: typ, Value: value, Frames: []Frame{{Module: module, Function: fn, InApp: true}}}}}
		if fp != "" {
			ev.Fingerprint = strings.Fields(fp)
		}
		Grouper{}.Group(ev)
		if len(ev.GroupID) != 32 {
			t.Fatalf("id %q", ev.GroupID)
		}
		_ = Title(ev)
		_ = Culprit(ev)
	})
}

func TestReleaseNewer(t *testing.T) {
	f := func(a, b string, want bool) {
		t.Helper()
		require.Equal(t, want, ReleaseNewer(a, b, nil), "%s > %s", a, b)
	}
	f("1.10.0", "1.9.0", true)
	f("1.9.0", "1.10.0", false)
	f("v2", "1.99.99", true)
	f("api@1.2.3", "api@1.2.3-rc.1", true)
	f("1.2.3-rc.10", "1.2.3-rc.2", true)
	f("1.2.3+build5", "1.2.3+build4", false)
	f("abc123", "def456", false) // unknown without first-seen times
	first := map[string]time.Time{"abc123": time.Unix(200, 0), "def456": time.Unix(100, 0)}
	info := func(r string) (time.Time, bool) { t, ok := first[r]; return t, ok }
	require.True(t, ReleaseNewer("abc123", "def456", info))
	require.False(t, ReleaseNewer("def456", "abc123", info))
}
