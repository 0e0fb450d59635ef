package loadgen

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/ingest/sentry"
)

func TestErrorEventsAreDeterministicAndRealistic(t *testing.T) {
	gen := func() *ErrorGen {
		o := DefaultErrorOptions()
		o.Start = start
		g, err := NewErrorGen(o)
		require.NoError(t, err)
		return g
	}
	a, b := gen(), gen()
	issues := map[string]bool{}
	for range 400 {
		x, err := a.Next()
		require.NoError(t, err)
		y, err := b.Next()
		require.NoError(t, err)
		require.Equal(t, x.Body, y.Body, "same seed, same bytes")
		require.Equal(t, 1, x.Items)

		zr, err := gzip.NewReader(strings.NewReader(string(x.Body)))
		require.NoError(t, err)
		raw, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, x.Raw, raw)
		env, err := sentry.ParseEnvelope(raw)
		require.NoError(t, err)
		require.Len(t, env.Items, 1)
		require.Equal(t, "event", env.Items[0].Type)
		require.Greater(t, len(env.Items[0].Payload), 10_000, "a realistic Python event is over 10 KB of JSON")

		var ev struct {
			Exception struct {
				Values []struct {
					Type       string `json:"type"`
					Stacktrace struct {
						Frames []struct {
							Module   string `json:"module"`
							Function string `json:"function"`
							InApp    bool   `json:"in_app"`
						} `json:"frames"`
					} `json:"stacktrace"`
				} `json:"values"`
			} `json:"exception"`
			Breadcrumbs struct {
				Values []any `json:"values"`
			} `json:"breadcrumbs"`
		}
		require.NoError(t, json.Unmarshal(env.Items[0].Payload, &ev))
		require.Len(t, ev.Exception.Values, 1)
		exc := ev.Exception.Values[0]
		require.Len(t, exc.Stacktrace.Frames, 15)
		require.Len(t, ev.Breadcrumbs.Values, 20)
		key := exc.Type
		for _, f := range exc.Stacktrace.Frames {
			if f.InApp {
				key += " " + f.Module + "." + f.Function
			}
		}
		issues[key] = true
	}
	require.Len(t, issues, 40, "one issue per bug")
}

func TestSentryEnvelopeSenderPostsToTheDSN(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		_, _ = w.Write([]byte(`{"id":"x"}`))
	}))
	defer srv.Close()
	dsn := strings.Replace(srv.URL, "://", "://0123456789abcdef0123456789abcdef@", 1) + "/7"
	s, err := NewSender(SentryEnvelope, Errors, dsn, 1)
	require.NoError(t, err)
	defer s.Close()
	g, err := NewErrorGen(DefaultErrorOptions())
	require.NoError(t, err)
	b, err := g.Next()
	require.NoError(t, err)
	rejected, err := s.Send(context.Background(), b)
	require.NoError(t, err)
	require.Zero(t, rejected)
	require.Equal(t, "/api/7/envelope/", got.URL.Path)
	require.Equal(t, "gzip", got.Header.Get("Content-Encoding"))
	require.Contains(t, got.Header.Get("X-Sentry-Auth"), "sentry_key=0123456789abcdef0123456789abcdef")

	_, err = NewSender(SentryEnvelope, Errors, srv.URL, 1)
	require.ErrorContains(t, err, "DSN")
}
