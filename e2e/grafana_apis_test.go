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

	// LogQL over the same logs, OTLP and Loki-pushed alike, through the Loki query API.
	var streams struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Stream map[string]string `json:"stream"`
				Values [][2]string       `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/loki/api/v1/query_range?"+url.Values{"query": {`{service_name="payments"} |= "DECLINED" | detected_level="error"`}}.Encode(), 200, &streams)
	require.Equal(t, "streams", streams.Data.ResultType)
	require.Len(t, streams.Data.Result, 1)
	require.Equal(t, "Card DECLINED by acme: insufficient funds", streams.Data.Result[0].Values[0][1])
	var vector struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	getJSON(t, s.HTTP+"/loki/api/v1/query?"+url.Values{"query": {`sum by (service_name) (count_over_time({deployment_environment="e2e"}[5m]))`}}.Encode(), 200, &vector)
	counts := map[string]any{}
	for _, r := range vector.Data.Result {
		counts[r.Metric["service_name"]] = r.Value[1]
	}
	require.Equal(t, map[string]any{"frontend": "1", "payments": "1"}, counts)
	var labels struct {
		Data []string `json:"data"`
	}
	getJSON(t, s.HTTP+"/loki/api/v1/labels", 200, &labels)
	require.Contains(t, labels.Data, "service_name")

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
