package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// postOTLP sends body to the OTLP HTTP receiver and returns the status and response body.
func postOTLP(t *testing.T, s *server, path, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.OTLPHTTP+path, contentType, strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// logsJSON is an OTLP JSON logs request with one record per body, attrs on each.
func logsJSON(attrs string, bodies ...string) string {
	var recs []string
	for _, b := range bodies {
		recs = append(recs, fmt.Sprintf(`{"severityNumber":9,"body":{"stringValue":%q},"attributes":[%s]}`, b, attrs))
	}
	return `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"bad-input"}}]},` +
		`"scopeLogs":[{"logRecords":[` + strings.Join(recs, ",") + `]}]}]}`
}

// TestBadInputLeavesStoredDataIntact stores good data, then sends bad requests to the real
// server: each gets a clear error, and what was stored before is untouched.
func TestBadInputLeavesStoredDataIntact(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t, t.TempDir(), "--config", writeConfig(t, "limits:\n  max_request_bytes: 65536\n  max_attributes_per_item: 4\n"))
	sent := sendCheckoutTrace(t, ctx, s, viaHTTP, viaGRPC)

	status, body := postOTLP(t, s, "/v1/logs", "application/json", logsJSON("", "good one"))
	require.Equal(t, 200, status, body)

	cases := []struct {
		name, path, contentType, body string
		status                        int
		message                       string
	}{
		{"truncated protobuf", "/v1/traces", "application/x-protobuf", "\x0a\x10\x12\x0e", 400, "decode protobuf"},
		{"invalid json", "/v1/logs", "application/json", `{"resourceLogs":[`, 400, "decode json"},
		{"wrong content type", "/v1/logs", "text/plain", logsJSON("", "x"), 415, "unsupported Content-Type"},
		{"oversized body", "/v1/logs", "application/json", logsJSON("", strings.Repeat("x", 70000)), 413, "larger than 65536 bytes"},
		{"invalid trace id length", "/v1/traces", "application/json",
			`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102","spanId":"0102030405060708","name":"x"}]}]}]}`, 400, "invalid trace_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := postOTLP(t, s, c.path, c.contentType, c.body)
			require.Equal(t, c.status, status, body)
			require.Contains(t, body, c.message)
		})
	}

	t.Run("attribute limit exceeded", func(t *testing.T) {
		five := `{"key":"a","value":{"intValue":"1"}},{"key":"b","value":{"intValue":"1"}},{"key":"c","value":{"intValue":"1"}},` +
			`{"key":"d","value":{"intValue":"1"}},{"key":"e","value":{"intValue":"1"}}`
		req := logsJSON(five, "too many attributes")
		// Splice one acceptable record into the same request.
		req = strings.Replace(req, `"logRecords":[`, `"logRecords":[{"body":{"stringValue":"fits the limits"}},`, 1)
		status, body := postOTLP(t, s, "/v1/logs", "application/json", req)
		require.Equal(t, 200, status, body)
		var resp struct {
			PartialSuccess struct {
				RejectedLogRecords string `json:"rejectedLogRecords"`
				ErrorMessage       string `json:"errorMessage"`
			} `json:"partialSuccess"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &resp), body)
		require.Equal(t, "1", resp.PartialSuccess.RejectedLogRecords, body)
		require.Contains(t, resp.PartialSuccess.ErrorMessage, "attributes")
		require.Len(t, findLogs(t, s, url.Values{"q": {"fits the limits"}}), 1)
		require.Empty(t, findLogs(t, s, url.Values{"q": {"too many attributes"}}))
	})

	checkCheckoutTrace(t, s, sent)
	checkCheckoutLogs(t, s, sent)
	require.Len(t, findLogs(t, s, url.Values{"service": {"bad-input"}}), 2, "the good record and the one that fit")
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := t.TempDir() + "/loupe.yaml"
	require.NoError(t, writeFile(path, yaml))
	return path
}
