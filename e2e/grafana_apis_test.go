package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TestGrafanaAPIs drives the Loki push, Tempo and Jaeger surfaces of the real binary the way
// Grafana and Loki clients do, and checks they see the same data as Loupe's own API.
func TestGrafanaAPIs(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t, t.TempDir())
	sent := sendCheckoutTrace(t, ctx, s, viaGRPC, viaGRPC)

	// Loki push (JSON); the line is then found through Loupe's log API.
	push := fmt.Sprintf(`{"streams":[{"stream":{"service_name":"billing","level":"warn"},"values":[["%d","invoice 7 overdue",{"customer":"acme"}]]}]}`,
		time.Now().UnixNano())
	resp, err := http.Post(s.HTTP+"/loki/api/v1/push", "application/json", strings.NewReader(push))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 204, resp.StatusCode, "%s", body)
	logs := findLogs(t, s, url.Values{"service": {"billing"}})
	require.Len(t, logs, 1)
	require.Equal(t, "invoice 7 overdue", logs[0].Body)
	require.Equal(t, "acme", logs[0].Attributes["customer"])

	// Tempo: trace by id as protobuf, the way Grafana's Tempo data source asks for it.
	req, err := http.NewRequest("GET", s.HTTP+"/api/traces/"+sent.TraceID.String(), nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/protobuf")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	tr := ptraceotlp.NewExportRequest()
	require.NoError(t, tr.UnmarshalProto(body))
	require.Equal(t, 2, tr.Traces().SpanCount())

	var search struct {
		Traces []struct {
			TraceID         string `json:"traceID"`
			RootServiceName string `json:"rootServiceName"`
		} `json:"traces"`
	}
	getJSON(t, s.HTTP+"/api/search?"+url.Values{"q": {`{ resource.service.name = "payments" && status = error }`}}.Encode(), 200, &search)
	require.Len(t, search.Traces, 1)
	require.Equal(t, "frontend", search.Traces[0].RootServiceName)

	// Jaeger query API under /jaeger.
	var services struct {
		Data []string `json:"data"`
	}
	getJSON(t, s.HTTP+"/jaeger/api/services", 200, &services)
	require.Equal(t, []string{"frontend", "payments"}, services.Data)
	var jt struct {
		Data []struct {
			Spans []struct {
				OperationName string `json:"operationName"`
			} `json:"spans"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/jaeger/api/traces/"+sent.TraceID.String(), 200, &jt)
	require.Len(t, jt.Data, 1)
	require.Len(t, jt.Data[0].Spans, 2)
}
