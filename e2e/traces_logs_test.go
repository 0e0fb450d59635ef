package e2e

import (
	"fmt"
	"net/url"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

type apiEnvelope[T any] struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   T      `json:"data"`
}

type apiSpan struct {
	SpanID       string         `json:"span_id"`
	ParentSpanID string         `json:"parent_span_id"`
	Name         string         `json:"name"`
	Kind         string         `json:"kind"`
	Service      string         `json:"service"`
	DurationNS   int64          `json:"duration_ns"`
	Attributes   map[string]any `json:"attributes"`
	Resource     map[string]any `json:"resource"`
	Status       struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	Events []struct {
		Name       string         `json:"name"`
		Attributes map[string]any `json:"attributes"`
	} `json:"events"`
}

type apiTrace struct {
	TraceID  string    `json:"trace_id"`
	Spans    []apiSpan `json:"spans"`
	Services []string  `json:"services"`
}

type apiLog struct {
	Service        string         `json:"service"`
	SeverityNumber int32          `json:"severity_number"`
	SeverityText   string         `json:"severity_text"`
	Body           string         `json:"body"`
	TraceID        string         `json:"trace_id"`
	SpanID         string         `json:"span_id"`
	Attributes     map[string]any `json:"attributes"`
	Resource       map[string]any `json:"resource"`
}

type apiLogs struct {
	Records    []apiLog `json:"records"`
	NextCursor string   `json:"next_cursor"`
}

type apiTraceSummary struct {
	TraceID      string   `json:"trace_id"`
	RootService  string   `json:"root_service"`
	RootSpanName string   `json:"root_span_name"`
	SpanCount    int      `json:"span_count"`
	ErrorCount   int      `json:"error_count"`
	Services     []string `json:"services"`
}

func getTrace(t *testing.T, s *server, id string) apiTrace {
	t.Helper()
	var resp apiEnvelope[apiTrace]
	getJSON(t, s.HTTP+"/api/loupe/v1/traces/"+id, 200, &resp)
	return resp.Data
}

func findLogs(t *testing.T, s *server, params url.Values) []apiLog {
	t.Helper()
	var resp apiEnvelope[apiLogs]
	getJSON(t, s.HTTP+"/api/loupe/v1/logs?"+params.Encode(), 200, &resp)
	return resp.Data.Records
}

func TestOTLPTracesAndLogs(t *testing.T) {
	for _, c := range []struct{ root, child transport }{{viaGRPC, viaHTTP}, {viaHTTP, viaGRPC}} {
		t.Run(fmt.Sprintf("%s+%s", c.root, c.child), func(t *testing.T) {
			ctx := testContext(t)
			s := startServer(t, t.TempDir())
			sent := sendCheckoutTrace(t, ctx, s, c.root, c.child)
			checkCheckoutTrace(t, s, sent)
			checkCheckoutLogs(t, s, sent)
		})
	}
}

func checkCheckoutTrace(t *testing.T, s *server, sent checkoutTrace) {
	t.Helper()
	tr := getTrace(t, s, sent.TraceID.String())
	require.Equal(t, sent.TraceID.String(), tr.TraceID)
	require.Len(t, tr.Spans, 2)
	sort.Strings(tr.Services)
	require.Equal(t, []string{"frontend", "payments"}, tr.Services)

	byID := map[string]apiSpan{}
	for _, sp := range tr.Spans {
		byID[sp.SpanID] = sp
	}
	root, child := byID[sent.RootID.String()], byID[sent.ChildID.String()]
	require.Equal(t, "POST /checkout", root.Name)
	require.Empty(t, root.ParentSpanID)
	require.Equal(t, "frontend", root.Service)
	require.Equal(t, "/checkout", root.Attributes["http.route"])
	require.EqualValues(t, 500, root.Attributes["http.response.status_code"])
	require.Len(t, root.Events, 1)
	require.Equal(t, "cart loaded", root.Events[0].Name)
	require.EqualValues(t, 3, root.Events[0].Attributes["items"])
	require.Equal(t, int64(1e9), root.DurationNS)

	require.Equal(t, "charge card", child.Name)
	require.Equal(t, sent.RootID.String(), child.ParentSpanID, "parent link intact across services")
	require.Equal(t, "payments", child.Service)
	require.Equal(t, "e2e", child.Resource["deployment.environment"])
	require.Equal(t, 12.5, child.Attributes["amount"])
	require.Contains(t, []string{"ERROR", "STATUS_CODE_ERROR", "error"}, child.Status.Code)
	require.Equal(t, "card declined", child.Status.Message)

	// Search finds the trace by service + error status, by attribute and by duration.
	search := func(params url.Values) []apiTraceSummary {
		var resp apiEnvelope[struct {
			Traces []apiTraceSummary `json:"traces"`
		}]
		getJSON(t, s.HTTP+"/api/loupe/v1/traces?"+params.Encode(), 200, &resp)
		return resp.Data.Traces
	}
	found := search(url.Values{"service": {"payments"}, "errors": {"true"}})
	require.Len(t, found, 1)
	require.Equal(t, sent.TraceID.String(), found[0].TraceID)
	require.Equal(t, "frontend", found[0].RootService)
	require.Equal(t, "POST /checkout", found[0].RootSpanName)
	require.Equal(t, 2, found[0].SpanCount)
	require.Equal(t, 1, found[0].ErrorCount)
	require.Len(t, search(url.Values{"attr": {"payment.provider=acme"}}), 1)
	require.Len(t, search(url.Values{"service": {"frontend"}, "min_duration": {"900ms"}}), 1)
	require.Empty(t, search(url.Values{"service": {"frontend"}, "min_duration": {"2s"}}))
	require.Empty(t, search(url.Values{"service": {"frontend"}, "errors": {"true"}}))

	var services apiEnvelope[[]string]
	getJSON(t, s.HTTP+"/api/loupe/v1/services", 200, &services)
	require.Equal(t, []string{"frontend", "payments"}, services.Data)
	var names apiEnvelope[[]string]
	getJSON(t, s.HTTP+"/api/loupe/v1/services/payments/span_names", 200, &names)
	require.Equal(t, []string{"charge card"}, names.Data)
}

func checkCheckoutLogs(t *testing.T, s *server, sent checkoutTrace) {
	t.Helper()
	// By text, case-insensitive.
	got := findLogs(t, s, url.Values{"q": {"card declined"}})
	require.Len(t, got, 1)
	declined := got[0]
	require.Equal(t, "Card DECLINED by acme: insufficient funds", declined.Body)
	require.Equal(t, "payments", declined.Service)
	require.Equal(t, "ERROR", declined.SeverityText)
	require.EqualValues(t, 17, declined.SeverityNumber)
	require.Equal(t, sent.TraceID.String(), declined.TraceID)
	require.Equal(t, sent.ChildID.String(), declined.SpanID)
	require.EqualValues(t, 2, declined.Attributes["attempt"])
	require.Equal(t, "e2e", declined.Resource["deployment.environment"])

	// By attribute, by severity, by service, by trace and span.
	require.Len(t, findLogs(t, s, url.Values{"attr": {"cart.id=42"}}), 1)
	require.Len(t, findLogs(t, s, url.Values{"attr": {"payment.provider=~ac.*"}}), 1)
	require.Len(t, findLogs(t, s, url.Values{"severity": {"error"}}), 1)
	require.Len(t, findLogs(t, s, url.Values{"service": {"frontend"}}), 1)
	require.Len(t, findLogs(t, s, url.Values{"trace_id": {sent.TraceID.String()}}), 2)
	require.Len(t, findLogs(t, s, url.Values{"trace_id": {sent.TraceID.String()}, "span_id": {sent.RootID.String()}}), 1)
	require.Empty(t, findLogs(t, s, url.Values{"q": {"no such text"}}))
}
