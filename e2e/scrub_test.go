package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

const scrubConfig = sentryConfig + `
scrub:
  hash_salt: e2e-pepper
  rules:
    - {name: email, regex: '[a-z0-9._-]+@example\.org', action: hash}
    - {name: customer, keys: [customer.id], replacement: "[customer]"}
`

// TestScrubbingAtIngest sends a secret in each place of each signal (span attributes and
// events, log bodies and attributes, a Loki push, a Sentry event) through the real clients,
// then looks for each secret with the log search (which reads compressed log blocks) and in
// every file of the data directory once the server has stopped: none is found, while markers
// sent beside them through the same paths are (so the searches see stored strings). The API
// shows the replacements and /metrics counts them.
func TestScrubbingAtIngest(t *testing.T) {
	ctx := testContext(t)
	data := t.TempDir()
	s := startServer(t, data, "--config", writeConfig(t, scrubConfig))
	secrets := []string{"spanpass1x", "urlpass2x", "eventpass3x", "bodytoken4x", "headerbearer5x", "custid6x",
		"ann.secret@example.org", "lokipass7x", "lokibearer9xyz", "sentrypass8x", "4111 1111 1111 1111"}
	markers := []string{"span-marker-9c1", "log-marker-2b7", "loki-marker-5d3", "sentry-marker-8e4"}

	tp := newTracerProvider(t, ctx, s, viaGRPC, "scrub-api")
	lp := newLoggerProvider(t, ctx, s, viaHTTP, "scrub-api")
	_, span := tp.Tracer("e2e").Start(ctx, "POST /login", trace.WithAttributes(
		attribute.String("db.password", "spanpass1x"),
		attribute.String("url.full", "https://app:urlpass2x@api.example.com/login"),
		attribute.String("note", "span-marker-9c1"),
	))
	span.AddEvent("retry", trace.WithAttributes(attribute.String("detail", "login with password=eventpass3x")))
	span.End()
	emitLog(ctx, lp.Logger("e2e"), otellog.SeverityInfo, "sent token=bodytoken4x to ann.secret@example.org log-marker-2b7",
		attribute.StringSlice("http.request.header.authorization", []string{"Bearer headerbearer5x"}),
		attribute.String("customer.id", "custid6x"))
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))

	push := fmt.Sprintf(`{"streams":[{"stream":{"job":"scrub"},"values":[["%d","paid 4111 1111 1111 1111 api_key: lokipass7x via Bearer lokibearer9xyz loki-marker-5d3"]]}]}`, time.Now().UnixNano())
	resp, err := http.Post(s.HTTP+"/loki/api/v1/push", "application/json", strings.NewReader(push))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	hub := newSentryHub(t, s.dsn(sentryKeyAPI, "1"))
	hub.WithScope(func(scope *sentry.Scope) {
		scope.SetTag("note", "sentry-marker-8e4")
		hub.CaptureMessage("login failed, password=sentrypass8x")
	})
	require.True(t, hub.Flush(10*time.Second))
	waitSentryItems(t, s, "1", "event", 1)

	// What a user reads back.
	logs := findLogs(t, s, map[string][]string{"service": {"scrub-api"}})
	require.Len(t, logs, 1)
	require.Regexp(t, `^sent token=\[Filtered\] to sha256:[0-9a-f]{16} log-marker-2b7$`, logs[0].Body)
	require.Equal(t, "[customer]", logs[0].Attributes["customer.id"])
	require.Equal(t, []any{"[Filtered]"}, logs[0].Attributes["http.request.header.authorization"])
	tr := getTrace(t, s, span.SpanContext().TraceID().String())
	require.Contains(t, fmt.Sprint(tr), "https://app:[Filtered]@api.example.com/login")
	for _, rule := range []string{"secret_key", "secret_key_text", "url_password", "bearer_token", "email", "customer", "card_number"} {
		require.Positive(t, metricSum(t, s, "loupe_scrubbed_values_total", map[string]string{"rule": rule}), rule)
	}

	// The stores' own search, which sees inside compressed log blocks: no secret, every
	// marker.
	for _, m := range []string{"log-marker-2b7", "loki-marker-5d3"} {
		require.Len(t, findLogs(t, s, map[string][]string{"q": {m}}), 1, m)
	}
	for _, secret := range secrets {
		require.Empty(t, findLogs(t, s, map[string][]string{"q": {secret}}), secret)
	}
	issues := getIssues(t, s)
	require.Len(t, issues, 1)
	event := fmt.Sprint(getIssueEvents(t, s, issues[0].ID))
	require.Contains(t, event, "sentry-marker-8e4")
	require.Contains(t, event, "password=[Filtered]")

	// What the disk holds once the server has stopped. Span attributes are stored as
	// written; log bodies and error events are compressed, so their markers may not show.
	s.stop()
	found := findInDataDir(t, data, append(append([]string{}, secrets...), markers...))
	require.NotEmpty(t, found["span-marker-9c1"], "the span marker is not in the data dir: the search cannot see what is stored")
	for _, secret := range secrets {
		require.Empty(t, found[secret], "secret %q stored in %v", secret, found[secret])
	}
	t.Logf("markers found in the files: %v", found)
}

// findInDataDir reads every file under dir and returns, for each needle found, the files
// (relative to dir) holding it.
func findInDataDir(t *testing.T, dir string, needles []string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	var files int
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, needle := range needles {
			if bytes.Contains(b, []byte(needle)) {
				found[needle] = append(found[needle], strings.TrimPrefix(path, dir))
			}
		}
		return nil
	}))
	require.Positive(t, files)
	return found
}
