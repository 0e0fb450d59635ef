package errtrack

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/scrub"
)

func TestScrubDefaults(t *testing.T) {
	ev := &Event{
		Message: "paid with 4111 1111 1111 1111 ok",
		Exceptions: []Exception{{Value: "card 4111-1111-1111-1111", Frames: []Frame{{Vars: map[string]any{
			"password": "hunter2", "n": 3.0, "nested": map[string]any{"api_key": "k", "ok": "v"},
		}}}}},
		Tags:        map[string]string{"session_id": "abc", "region": "eu"},
		Extra:       map[string]any{"password": "hunter2", "list": []any{"4111111111111111", "x"}, "order": "1234567890123"},
		Contexts:    map[string]any{"db": map[string]any{"Secret": "s", "host": "db1"}},
		Breadcrumbs: []Breadcrumb{{Message: "login", Data: map[string]any{"Authorization": "Bearer x", "url": "/a"}}},
		Request: &Request{
			URL:         "https://x/login?token=abc&next=/home",
			QueryString: "token=abc&next=%2Fhome&My-Passwd=1",
			Headers:     map[string]string{"Authorization": "Bearer x", "Cookie": "a=b", "X-Forwarded-For": "1.2.3.4", "Accept": "*/*"},
			Cookies:     map[string]string{"sessionid": "s", "theme": "dark"},
			Data:        map[string]any{"password": "p", "email": "a@b.c"},
		},
		User: &User{ID: "42", IPAddress: "1.2.3.4"},
	}
	NewScrubber(ScrubOptions{}).Scrub(ev)
	require.Equal(t, "paid with [Filtered] ok", ev.Message)
	require.Equal(t, "card [Filtered]", ev.Exceptions[0].Value)
	vars := ev.Exceptions[0].Frames[0].Vars
	require.Equal(t, Filtered, vars["password"])
	require.Equal(t, 3.0, vars["n"])
	require.Equal(t, map[string]any{"api_key": Filtered, "ok": "v"}, vars["nested"])
	require.Equal(t, map[string]string{"session_id": Filtered, "region": "eu"}, ev.Tags)
	require.Equal(t, Filtered, ev.Extra["password"])
	require.Equal(t, []any{Filtered, "x"}, ev.Extra["list"])
	require.Equal(t, "1234567890123", ev.Extra["order"], "not a Luhn number")
	require.Equal(t, map[string]any{"Secret": Filtered, "host": "db1"}, ev.Contexts["db"])
	require.Equal(t, map[string]any{"Authorization": Filtered, "url": "/a"}, ev.Breadcrumbs[0].Data)
	require.Equal(t, "https://x/login?token=%5BFiltered%5D&next=/home", ev.Request.URL)
	require.Equal(t, "token=%5BFiltered%5D&next=%2Fhome&My-Passwd=%5BFiltered%5D", ev.Request.QueryString)
	require.Equal(t, map[string]string{"Authorization": Filtered, "Cookie": Filtered, "Accept": "*/*"}, ev.Request.Headers)
	require.Equal(t, map[string]string{"sessionid": Filtered, "theme": "dark"}, ev.Request.Cookies)
	require.Equal(t, map[string]any{"password": Filtered, "email": "a@b.c"}, ev.Request.Data)
	require.Empty(t, ev.User.IPAddress)
	require.Equal(t, "42", ev.User.ID)
}

func TestScrubOptions(t *testing.T) {
	ev := &Event{Extra: map[string]any{"ssn": "123", "password": "p"}, User: &User{IPAddress: "1.2.3.4"},
		Request: &Request{Headers: map[string]string{"X-Real-IP": "1.2.3.4"}}}
	NewScrubber(ScrubOptions{ExtraKeys: []string{"SSN"}, KeepClientIP: true}).Scrub(ev)
	require.Equal(t, Filtered, ev.Extra["ssn"])
	require.Equal(t, "1.2.3.4", ev.User.IPAddress)
	require.Equal(t, "1.2.3.4", ev.Request.Headers["X-Real-IP"])

	ev = &Event{Extra: map[string]any{"password": "p"}, User: &User{IPAddress: "1.2.3.4"}}
	NewScrubber(ScrubOptions{Disabled: true}).Scrub(ev)
	require.Equal(t, "p", ev.Extra["password"])
	require.Empty(t, ev.User.IPAddress, "client IPs are dropped even with scrubbing off")
}

// TestScrubWithIngestRules: with the ingest rules (the scrub section), secrets inside the
// texts of an event and the configured rules are scrubbed too.
func TestScrubWithIngestRules(t *testing.T) {
	rules, err := scrub.New(scrub.Options{Rules: []scrub.Rule{
		{Name: "ticket", Regexp: regexp.MustCompile(`T-\d{4}`), Replacement: "[ticket]"},
	}}, nil)
	require.NoError(t, err)
	ev := &Event{
		Message:    "login failed password=hunter2 for T-1234",
		Exceptions: []Exception{{Value: "GET https://bob:pw@api/x 401"}},
		Tags:       map[string]string{"ref": "T-9999"},
		Extra:      map[string]any{"note": "card 4111 1111 1111 1111"},
	}
	NewScrubber(ScrubOptions{Rules: rules}).Scrub(ev)
	require.Equal(t, "login failed password=[Filtered] for [ticket]", ev.Message)
	require.Equal(t, "GET https://bob:[Filtered]@api/x 401", ev.Exceptions[0].Value)
	require.Equal(t, "[ticket]", ev.Tags["ref"])
	require.Equal(t, "card [Filtered]", ev.Extra["note"])
}
