package sentry

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The full examples of Sentry's envelope specification
// (develop.sentry.dev/sdk/data-model/envelopes/#full-examples), "\n" and "\r" literal.
func TestParseEnvelopeSpecExamples(t *testing.T) {
	type item struct{ typ, payload string }
	f := func(name, body string, wantEventID string, want ...item) {
		t.Helper()
		env, err := ParseEnvelope([]byte(body))
		require.NoError(t, err, name)
		require.Equal(t, wantEventID, env.Header.EventID, name)
		var got []item
		for _, it := range env.Items {
			got = append(got, item{it.Type, string(it.Payload)})
		}
		require.Equal(t, want, got, name)
	}
	const id = "9ec79c33ec9942ab8353589fcb2e04dc"
	twoItems := `{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42"}` + "\n" +
		`{"type":"attachment","length":10,"content_type":"text/plain","filename":"hello.txt"}` + "\n" +
		"\xef\xbb\xbfHello\r\n\n" +
		`{"type":"event","length":41,"content_type":"application/json","filename":"application.log"}` + "\n" +
		`{"message":"hello world","level":"error"}`
	f("two items", twoItems+"\n", id, item{"attachment", "\xef\xbb\xbfHello\r\n"}, item{"event", `{"message":"hello world","level":"error"}`})
	f("two items, last newline omitted", twoItems, id, item{"attachment", "\xef\xbb\xbfHello\r\n"}, item{"event", `{"message":"hello world","level":"error"}`})
	f("two empty attachments", `{"event_id":"`+id+`"}`+"\n"+`{"type":"attachment","length":0}`+"\n\n"+`{"type":"attachment","length":0}`+"\n\n",
		id, item{"attachment", ""}, item{"attachment", ""})
	f("two empty attachments, last newline omitted", `{"event_id":"`+id+`"}`+"\n"+`{"type":"attachment","length":0}`+"\n\n"+`{"type":"attachment","length":0}`+"\n",
		id, item{"attachment", ""}, item{"attachment", ""})
	f("implicit length, newline", `{"event_id":"`+id+`"}`+"\n"+`{"type":"attachment"}`+"\nhelloworld\n", id, item{"attachment", "helloworld"})
	f("implicit length, EOF", `{"event_id":"`+id+`"}`+"\n"+`{"type":"attachment"}`+"\nhelloworld", id, item{"attachment", "helloworld"})
	f("no headers, implicit length, EOF", "{}\n"+`{"type":"session"}`+"\n"+`{"started": "2020-02-07T14:16:00Z","attrs":{"release":"sentry-test@1.0.0"}}`,
		"", item{"session", `{"started": "2020-02-07T14:16:00Z","attrs":{"release":"sentry-test@1.0.0"}}`})
	f("implicit length keeps \\r", "{}\n"+`{"type":"attachment"}`+"\nhello\r\n", "", item{"attachment", "hello\r"})
	f("empty envelope", `{"event_id":"`+id+`"}`, id)
	f("empty envelope with newline", `{"event_id":"`+id+`"}`+"\n", id)
	f("unknown item type kept", "{}\n"+`{"type":"some_future_type","length":3}`+"\nabc\n", "", item{"some_future_type", "abc"})
	f("length null is implicit", "{}\n"+`{"type":"event","length":null}`+"\n{}\n", "", item{"event", "{}"})
}

func TestParseEnvelopeErrors(t *testing.T) {
	f := func(body, wantMsg string) {
		t.Helper()
		_, err := ParseEnvelope([]byte(body))
		require.Error(t, err, "%q", body)
		require.True(t, errors.Is(err, ErrEnvelope), "%v", err)
		require.Contains(t, err.Error(), wantMsg, "%q", body)
	}
	f("", "first line must be the envelope header")
	f("\n{}", "first line must be the envelope header")
	f("not json\n", "envelope header is not a JSON object")
	f(`["array"]`+"\n", "envelope header is not a JSON object")
	f("{}\nnot json\n", "item 0: header is not a JSON object")
	f("{}\n"+`{"length":2}`+"\nab", `item 0: header has no "type"`)
	f("{}\n"+`{"type":"event","length":100}`+"\n{}", "length 100 is more than the 2 bytes left")
	f("{}\n"+`{"type":"event","length":1}`+"\n{}\n", "no newline after its 1-byte payload")
	f("{}\n"+`{"type":"event","length":2}`+"\n{}\r\n", "no newline after its 2-byte payload")
	f("{}\n"+`{"type":"event","length":-1}`+"\n{}", "length -1 is not a non-negative integer")
	f("{}\n"+`{"type":"event","length":"2"}`+"\n{}", `length "2" is not a non-negative integer`)
	f("{}\n"+`{"type":"event","length":1.5}`+"\n{}", "is not a non-negative integer")
	f("{}\n"+`{"type":"event","length":99999999999999999999}`+"\n{}", "is not a non-negative integer")
	f(strings.Repeat("x", maxHeaderLine+1), "envelope header is longer than")
	f("{}\n"+strings.Repeat(`{"type":"a","length":0}`+"\n\n", maxItems+1), "more than 1000 items")
}
