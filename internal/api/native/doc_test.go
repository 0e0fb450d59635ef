package native

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store/duck"
)

var update = flag.Bool("update", false, "rewrite the example responses in docs/api-native.md")

const docPath = "../../../docs/api-native.md"

// The example data of docs/api-native.md: a checkout that failed because a payment was
// declined, one trace over two services and the logs around it.
const (
	docTraceID   = "4bf92f3577b34da6a3ce929d0e0e4736"
	docRootSpan  = "00f067aa0ba902b7"
	docChildSpan = "53995c3f42cd8ad8"
)

func at(hms string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, "2026-11-22T"+hms+"Z")
	if err != nil {
		panic(err)
	}
	return t
}

func docTraces(t testing.TB) ptrace.Traces {
	td := ptrace.NewTraces()
	add := func(service string) ptrace.Span {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", service)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("app")
		span := ss.Spans().AppendEmpty()
		span.SetTraceID(mustTraceID(t, docTraceID))
		return span
	}
	root := add("checkout")
	root.SetSpanID(mustSpanID(t, docRootSpan))
	root.SetName("POST /checkout")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(pcommon.NewTimestampFromTime(at("11:58:00")))
	root.SetEndTimestamp(pcommon.NewTimestampFromTime(at("11:58:00.25")))
	root.Attributes().PutStr("http.request.method", "POST")
	root.Attributes().PutInt("http.response.status_code", 502)
	root.Status().SetCode(ptrace.StatusCodeError)
	root.Status().SetMessage("payment failed")

	charge := add("payments")
	charge.SetSpanID(mustSpanID(t, docChildSpan))
	charge.SetParentSpanID(mustSpanID(t, docRootSpan))
	charge.SetName("charge")
	charge.SetKind(ptrace.SpanKindServer)
	charge.SetStartTimestamp(pcommon.NewTimestampFromTime(at("11:58:00.02")))
	charge.SetEndTimestamp(pcommon.NewTimestampFromTime(at("11:58:00.22")))
	charge.Attributes().PutStr("order.id", "1042")
	charge.Status().SetCode(ptrace.StatusCodeError)
	charge.Status().SetMessage("card declined")
	ev := charge.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(pcommon.NewTimestampFromTime(at("11:58:00.21")))
	ev.Attributes().PutStr("exception.type", "CardDeclined")
	return td
}

func docLogs(t testing.TB) plog.Logs {
	ld := plog.NewLogs()
	add := func(service, hms string, sev plog.SeverityNumber, body string, attrs map[string]string) plog.LogRecord {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", service)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("app")
		r := sl.LogRecords().AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(at(hms)))
		r.SetObservedTimestamp(pcommon.NewTimestampFromTime(at(hms).Add(3 * time.Millisecond)))
		r.SetSeverityNumber(sev)
		r.SetSeverityText(map[plog.SeverityNumber]string{
			plog.SeverityNumberDebug: "DEBUG", plog.SeverityNumberInfo: "INFO",
			plog.SeverityNumberWarn: "WARN", plog.SeverityNumberError: "ERROR",
		}[sev])
		r.Body().SetStr(body)
		for k, v := range attrs {
			r.Attributes().PutStr(k, v)
		}
		return r
	}
	add("checkout", "11:50:00", plog.SeverityNumberDebug, "cache warmed in 120ms", nil)
	add("payments", "11:55:00", plog.SeverityNumberWarn, "retrying charge, attempt 2", map[string]string{"order.id": "1040"})
	add("checkout", "11:57:30", plog.SeverityNumberInfo, "GET /cart 200", map[string]string{"http.route": "/cart"})
	r := add("payments", "11:58:00.215", plog.SeverityNumberError, "card declined for order 1042", map[string]string{"order.id": "1042"})
	r.SetTraceID(mustTraceID(t, docTraceID))
	r.SetSpanID(mustSpanID(t, docChildSpan))
	r = add("checkout", "11:58:00.24", plog.SeverityNumberError, "checkout failed: payment error",
		map[string]string{"order.id": "1042", "http.route": "/checkout"})
	r.SetTraceID(mustTraceID(t, docTraceID))
	r.SetSpanID(mustSpanID(t, docRootSpan))
	return ld
}

// curlURL finds the URL of an example request: curl -s 'http://localhost:7070/api/...'.
var curlURL = regexp.MustCompile(`curl [^']*'http://localhost:7070(/api/loupe/v1/[^']*)'`)

// cursorParam is the cursor in an example URL, which -update replaces with the cursor of
// the response before it.
var cursorParam = regexp.MustCompile(`([?&]cursor=)[^&']*`)

// TestDocExamples runs every curl example of docs/api-native.md against the real store
// holding the example data, at the example's time, and checks that the ```json block after
// it is the response. With -update it rewrites those blocks instead.
func TestDocExamples(t *testing.T) {
	st, err := duck.Open(filepath.Join(t.TempDir(), "doc.duckdb"), duck.DefaultOptions(),
		slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.WriteLogs(context.Background(), docLogs(t)))
	require.NoError(t, st.WriteTraces(context.Background(), docTraces(t)))
	upsertDocRuns(t, st) // runs_test.go
	a := New(st, st, slog.New(slog.DiscardHandler)).WithRuns(st)
	a.now = func() time.Time { return testNow }

	doc, err := os.ReadFile(docPath)
	require.NoError(t, err)
	var out bytes.Buffer
	var pending string    // path of the last curl without its response yet
	var lastCursor string // next_cursor of the last response, for the "next page" example
	examples := 0
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if *update && curlURL.MatchString(line) && lastCursor != "" {
			line = cursorParam.ReplaceAllString(line, "${1}"+lastCursor)
		}
		out.WriteString(line + "\n")
		if m := curlURL.FindStringSubmatch(line); m != nil {
			pending = m[1]
			continue
		}
		if line != "```json" || pending == "" {
			continue
		}
		// Read the documented response up to the closing fence.
		var documented strings.Builder
		for sc.Scan() && sc.Text() != "```" {
			documented.WriteString(sc.Text() + "\n")
		}
		if lastCursor != "" {
			// Cursors are opaque and change with the store's layout: follow the live one.
			pending = cursorParam.ReplaceAllString(pending, "${1}"+lastCursor)
		}
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, pending, nil))
		var page struct {
			Data struct {
				NextCursor string `json:"next_cursor"`
			} `json:"data"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &page) // not every answer is a page
		lastCursor = page.Data.NextCursor
		var pretty bytes.Buffer
		require.NoError(t, json.Indent(&pretty, rec.Body.Bytes(), "", "  "), pending)
		if *update {
			out.WriteString(strings.TrimRight(pretty.String(), "\n") + "\n```\n")
		} else {
			require.JSONEq(t, maskCursor(pretty.String()), maskCursor(documented.String()), "response of %s in %s", pending, docPath)
			out.WriteString(documented.String() + "```\n")
		}
		pending = ""
		examples++
	}
	require.NoError(t, sc.Err())
	require.Greater(t, examples, 10, "examples found in %s", docPath)
	if *update {
		require.NoError(t, os.WriteFile(docPath, out.Bytes(), 0o644))
	}
}

// maskCursor hides the value of a non-empty next_cursor, which is opaque to clients.
func maskCursor(body string) string {
	return nextCursor.ReplaceAllString(body, `"next_cursor": "<cursor>"`)
}

var nextCursor = regexp.MustCompile(`"next_cursor": "[^"]+"`)
