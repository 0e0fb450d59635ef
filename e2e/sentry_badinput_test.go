package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSentryBadInput: malformed envelopes each get a clear 4xx with Sentry's JSON error,
// the server keeps running, and another project's events still go through.
func TestSentryBadInput(t *testing.T) {
	s := startSentryServer(t)
	post := func(project, key string, body io.Reader, size int64) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.HTTP+"/api/"+project+"/envelope/", body)
		require.NoError(t, err)
		req.ContentLength = size
		req.Header.Set("X-Sentry-Auth", "Sentry sentry_version=7, sentry_key="+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var detail struct{ Detail string }
		require.NoError(t, json.Unmarshal(b, &detail), "%s", b)
		return resp.StatusCode, detail.Detail
	}
	f := func(body, want string) {
		t.Helper()
		status, detail := post("1", sentryKeyAPI, strings.NewReader(body), int64(len(body)))
		require.Equal(t, 400, status, "%.80q: %s", body, detail)
		require.Contains(t, detail, want)
	}
	nest := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	f("this is not an envelope\n", "envelope header is not a JSON object")
	f("{}\n{\"length\":2}\n{}\n", `header has no "type"`)
	f("{}\n{\"type\":\"event\",\"length\":9999}\n{}\n", "more than the 3 bytes left")
	f("{}\n{\"type\":\"event\",\"length\":1}\n{}\n", "does the length lie")
	f("{}\n{\"type\":\"event\",\"length\":40}\n{\"message\":\"truncated", "truncated item")
	f("{}\n{\"type\":\"event\"}\n{\"message\": oops}\n", "invalid JSON")
	f("{}\n{\"type\":\"event\"}\n"+nest+"\n", "nested deeper than 64 levels")

	// Unknown item types are skipped, not fatal.
	status, detail := post("1", sentryKeyAPI, strings.NewReader("{}\n{\"type\":\"hologram\",\"length\":3}\nabc\n"), -1)
	require.Equal(t, 200, status, detail)

	// A 100 MiB attachment: refused at the size limit without reading it all.
	big := io.MultiReader(strings.NewReader("{}\n{\"type\":\"attachment\",\"length\":104857600}\n"), io.LimitReader(zeros{}, 100<<20))
	status, detail = post("1", sentryKeyAPI, big, 100<<20+46)
	require.Equal(t, 413, status, detail)
	require.Contains(t, detail, "max_request_bytes")

	// The same without a Content-Length (chunked): cut at the limit.
	status, detail = post("1", sentryKeyAPI, io.MultiReader(strings.NewReader("{}\n{\"type\":\"attachment\"}\n"), io.LimitReader(zeros{}, 100<<20)), -1)
	require.Equal(t, 413, status, detail)

	// Another project is unaffected.
	ev := "{}\n{\"type\":\"event\"}\n{\"message\":\"still fine\"}\n"
	status, detail = post("2", sentryKeyWorker, bytes.NewReader([]byte(ev)), int64(len(ev)))
	require.Equal(t, 200, status, detail)
	waitSentryItems(t, s, "2", "event", 1)
	require.Equal(t, float64(0), sentryItems(t, s, "1", "event"), "nothing of the bad envelopes was stored")
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
