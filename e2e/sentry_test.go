package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Sentry projects of the end-to-end tests: 1 and 2 unlimited, 3 limited to one event a
// minute (the second gets 429 with Retry-After: 60 and X-Sentry-Rate-Limits).
const (
	sentryKeyAPI     = "0123456789abcdef0123456789abcdef"
	sentryKeyWorker  = "fedcba9876543210fedcba9876543210"
	sentryKeyLimited = "abcdefabcdefabcdefabcdefabcdef01"
	sentryBadKey     = "99999999999999999999999999999999"
)

const sentryConfig = `
sentry:
  projects:
    - {id: 1, name: shop-api, keys: [` + sentryKeyAPI + `]}
    - {id: 2, name: shop-worker, keys: [` + sentryKeyWorker + `]}
    - {id: 3, name: limited, keys: [` + sentryKeyLimited + `], events_per_second: 0.0166667, burst: 1}
`

// startSentryServer starts loupe with the Sentry projects above.
func startSentryServer(t *testing.T) *server {
	t.Helper()
	return startServer(t, t.TempDir(), "--config", writeConfig(t, sentryConfig))
}

// dsn is the DSN of key and project on s, as `loupe sentry-dsn create` prints it.
func (s *server) dsn(key, project string) string {
	return "http://" + key + "@" + strings.TrimPrefix(s.HTTP, "http://") + "/" + project
}

// metricSum adds up the samples of the metric name on s's /metrics whose labels include
// every pair of labels.
func metricSum(t *testing.T, s *server, name string, labels map[string]string) float64 {
	t.Helper()
	resp, err := http.Get(s.HTTP + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for k, v := range labels {
			if !strings.Contains(line, k+`="`+v+`"`) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		require.NoError(t, err, line)
		sum += f
	}
	return sum
}

// sentryItems is how many items of a type a project sent that reached the server, whatever
// became of them (stored, dropped, rate limited).
func sentryItems(t *testing.T, s *server, project, typ string) float64 {
	return metricSum(t, s, "loupe_sentry_items_total", map[string]string{"project": project, "type": typ})
}

// waitSentryItems waits until project's items of typ reach want.
func waitSentryItems(t *testing.T, s *server, project, typ string, want float64) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		if got := sentryItems(t, s, project, typ); got != want {
			return fmt.Errorf("project %s: %g %s items, want %g", project, got, typ, want)
		}
		return nil
	})
}

// jaegerTrace is a trace of the Jaeger API: span names and the services of its processes.
type jaegerTrace struct {
	Spans []struct {
		OperationName string `json:"operationName"`
		SpanID        string `json:"spanID"`
		References    []struct {
			SpanID string `json:"spanID"`
		} `json:"references"`
		ProcessID string `json:"processID"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// waitTrace waits until the trace API has the trace with at least n spans, and returns it.
func waitTrace(t *testing.T, s *server, traceID string, n int) jaegerTrace {
	t.Helper()
	var tr jaegerTrace
	eventually(t, 30*time.Second, func() error {
		resp, err := http.Get(s.HTTP + "/jaeger/api/traces/" + traceID)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("trace %s: %d %s", traceID, resp.StatusCode, b)
		}
		var got struct{ Data []jaegerTrace }
		if err := json.Unmarshal(b, &got); err != nil {
			return err
		}
		if len(got.Data) != 1 || len(got.Data[0].Spans) < n {
			return fmt.Errorf("trace %s: want %d spans, got %s", traceID, n, b)
		}
		tr = got.Data[0]
		return nil
	})
	return tr
}

// spanNames lists a trace's span names and the service of each as "service: name".
func (tr jaegerTrace) spanNames() []string {
	var out []string
	for _, sp := range tr.Spans {
		out = append(out, tr.Processes[sp.ProcessID].ServiceName+": "+sp.OperationName)
	}
	return out
}

// checkInRuns waits for the run of a Sentry monitor with the given status.
func checkInRun(t *testing.T, s *server, monitor, status string) apiRun {
	t.Helper()
	return runNamed(t, s, monitor, status, 30*time.Second)
}

// TestSentryRoutesKeepAPIv1 checks that mounting /api/<project>/envelope/ beside
// /api/v1/... (two ServeMux patterns that would conflict) leaves the Prometheus, Tempo and
// Loupe APIs answering as before, and that ingest paths of other shapes are not Sentry's.
func TestSentryRoutesKeepAPIv1(t *testing.T) {
	s := startSentryServer(t)
	for _, p := range []string{"/api/v1/query?query=1", "/api/v1/labels", "/api/v1/status/buildinfo", "/api/loupe/v1/status", "/api/search", "/api/echo", "/api/loupe/v1/runs"} {
		getJSON(t, s.HTTP+p, 200, nil)
	}
	resp, err := http.Post(s.HTTP+"/api/v1/envelope/", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	require.NotEqual(t, 200, resp.StatusCode, "/api/v1/envelope/ is not a Sentry path")
	require.Equal(t, float64(0), metricSum(t, s, "loupe_sentry_requests_total", nil))
}

// sentryIssue is an issue of GET /api/loupe/v1/issues.
type sentryIssue struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Type        string `json:"type"`
	Project     string `json:"project"`
	Service     string `json:"service"`
	Events      int64  `json:"events"`
	LastEventID string `json:"last_event_id"`
}

// sentryEvent is the part of GET /api/loupe/v1/events/{id} the tests read.
type sentryEvent struct {
	EventID     string   `json:"event_id"`
	Source      string   `json:"source"`
	Message     string   `json:"message"`
	Release     string   `json:"release"`
	Environment string   `json:"environment"`
	Fingerprint []string `json:"fingerprint"`
	TraceID     string   `json:"trace_id"`
	Exceptions  []struct {
		Type   string `json:"type"`
		Value  string `json:"value"`
		Frames []struct {
			Function string `json:"function"`
			Module   string `json:"module"`
			Lineno   int    `json:"lineno"`
			InApp    bool   `json:"in_app"`
		} `json:"frames"`
	} `json:"exceptions"`
	Breadcrumbs []struct {
		Category string `json:"category"`
		Message  string `json:"message"`
	} `json:"breadcrumbs"`
}

// checkSentryRefusals runs an SDK script (run) in its "bad" mode, whose key the server does
// not know (401), and its "limited" mode against project 3: the second event gets 429, and
// the SDK sends nothing more.
func checkSentryRefusals(t *testing.T, s *server, run func(t *testing.T, dsn, mode string) string) {
	t.Helper()
	run(t, s.dsn(sentryBadKey, "1"), "bad")
	require.GreaterOrEqual(t, metricSum(t, s, "loupe_sentry_requests_total", map[string]string{"project": "unknown", "status": "401"}), float64(1))

	run(t, s.dsn(sentryKeyLimited, "3"), "limited")
	waitSentryItems(t, s, "3", "event", 2)
	require.Equal(t, float64(1), metricSum(t, s, "loupe_sentry_items_total", map[string]string{"project": "3", "type": "event", "outcome": "rate_limited"}))
	// The script has exited: nothing more can arrive.
	require.Equal(t, float64(2), sentryItems(t, s, "3", "event"), "the SDK sent nothing more after the 429")
}

// What every SDK test's "all" mode sends to project 1: the checkout exception, a plain
// message, a message with the custom fingerprint, and inside the transaction one bug raised
// twice and another bug once (see checkSentryGrouping). So 5 issues of 6 events.
const (
	sentryIssuesProject1 = 5
	sentryEventsProject1 = 6
)

// sentryIssues waits until project 1 has its sentryEventsProject1 events, and returns its
// issues, which must be exactly sentryIssuesProject1.
func sentryIssues(t *testing.T, s *server) []sentryIssue {
	t.Helper()
	var issues []sentryIssue
	eventually(t, 30*time.Second, func() error {
		var resp apiEnvelope[struct {
			Issues []sentryIssue `json:"issues"`
		}]
		getJSON(t, s.HTTP+"/api/loupe/v1/issues?project=1", 200, &resp)
		var n int64
		for _, is := range resp.Data.Issues {
			n += is.Events
		}
		if n < sentryEventsProject1 {
			return fmt.Errorf("want %d events of project 1, got %+v", sentryEventsProject1, resp.Data.Issues)
		}
		issues = resp.Data.Issues
		return nil
	})
	require.Len(t, issues, sentryIssuesProject1, "%+v", issues)
	return issues
}

// sentryPassword is what every SDK test sets on every event of project 1 under a key
// "password" (in extra, or where the SDK has no extra in contexts), which the server scrubs.
const sentryPassword = "hunter2"

// sentryGetEvent reads one event from the API, checking that it was scrubbed: the value at
// passwordAt (a dot-separated path in the event's JSON, like "extra.password") is
// "[Filtered]", and sentryPassword is nowhere.
func sentryGetEvent(t *testing.T, s *server, id, passwordAt string) sentryEvent {
	t.Helper()
	resp, err := http.Get(s.HTTP + "/api/loupe/v1/events/" + id)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "event %s: %s", id, body)
	var ev apiEnvelope[sentryEvent]
	require.NoError(t, json.Unmarshal(body, &ev), "%s", body)
	require.NotContains(t, string(body), sentryPassword, "the password is scrubbed")
	var raw apiEnvelope[any]
	require.NoError(t, json.Unmarshal(body, &raw))
	v := raw.Data
	for _, k := range strings.Split(passwordAt, ".") {
		m, ok := v.(map[string]any)
		require.True(t, ok, "no %s in %s", passwordAt, body)
		v = m[k]
	}
	require.Equal(t, "[Filtered]", v, "%s: %s", passwordAt, body)
	return ev.Data
}

// checkSentryIssues checks, through the issues API, what every SDK test sends to project
// 1: an exception of excType whose event has the breadcrumb "added item 42"-like message
// crumb and frames, a plain message, and a message grouped by the custom fingerprint
// "payments-timeout" (its issue is found by that fingerprint, whatever its text). Every
// issue's last event is scrubbed (see sentryGetEvent for passwordAt).
func checkSentryIssues(t *testing.T, s *server, excType, crumb, release, passwordAt string) {
	t.Helper()
	issues := sentryIssues(t, s)
	byType := map[string]sentryEvent{}
	var custom *sentryEvent
	for _, is := range issues {
		require.Equal(t, "shop-api", is.Service, "%+v", is)
		ev := sentryGetEvent(t, s, is.LastEventID, passwordAt)
		require.Equal(t, "sentry", ev.Source)
		require.Equal(t, release, ev.Release)
		require.Equal(t, "e2e", ev.Environment)
		if slices.Equal(ev.Fingerprint, []string{"payments-timeout"}) {
			custom = &ev
		}
		if len(ev.Exceptions) > 0 {
			byType[ev.Exceptions[len(ev.Exceptions)-1].Type] = ev
		}
	}
	exc, ok := byType[excType]
	require.True(t, ok, "no issue of type %s in %+v", excType, issues)
	last := exc.Exceptions[len(exc.Exceptions)-1]
	require.NotEmpty(t, last.Frames, "the exception's stack trace")
	var crumbs []string
	for _, b := range exc.Breadcrumbs {
		crumbs = append(crumbs, b.Message)
	}
	require.Contains(t, crumbs, crumb, "the breadcrumb")
	require.NotNil(t, custom, "an issue grouped by the custom fingerprint")
	require.Contains(t, custom.Message, "timeout talking to payments")
}

// issueEventsOfType returns the events, read one by one (and so checked for scrubbing), of
// the only issue of project 1 whose raised exception is of type typ, and that issue.
func issueEventsOfType(t *testing.T, s *server, typ, passwordAt string) (sentryIssue, []sentryEvent) {
	t.Helper()
	var found []sentryIssue
	for _, is := range sentryIssues(t, s) {
		ev := sentryGetEvent(t, s, is.LastEventID, passwordAt)
		if n := len(ev.Exceptions); n > 0 && ev.Exceptions[n-1].Type == typ {
			found = append(found, is)
		}
	}
	require.Len(t, found, 1, "issues of type %s", typ)
	var page apiEnvelope[struct {
		Events []struct {
			EventID string `json:"event_id"`
		} `json:"events"`
	}]
	getJSON(t, s.HTTP+"/api/loupe/v1/issues/"+found[0].ID+"/events", 200, &page)
	var evs []sentryEvent
	for _, e := range page.Data.Events {
		evs = append(evs, sentryGetEvent(t, s, e.EventID, passwordAt))
	}
	return found[0], evs
}

// inAppFrames lists the in-app frames of an event's raised exception as the grouping reads
// them (module.function) and their line numbers.
func inAppFrames(ev sentryEvent) (names []string, lines []int) {
	exc := ev.Exceptions[len(ev.Exceptions)-1]
	for _, f := range exc.Frames {
		if f.InApp {
			names = append(names, f.Module+"."+f.Function)
			lines = append(lines, f.Lineno)
		}
	}
	return names, lines
}

// checkSentryGrouping checks the bugs every SDK test raises inside its transaction (traceID)
// from one function: bugType twice, from two lines of that function called from two lines
// of the caller, is one issue of two events (grouping ignores line numbers), and otherType
// once, through the same functions, is another issue. Each event carries the transaction's
// trace id, and is scrubbed.
func checkSentryGrouping(t *testing.T, s *server, bugType, otherType, traceID, passwordAt string) {
	t.Helper()
	bug, evs := issueEventsOfType(t, s, bugType, passwordAt)
	require.Equal(t, int64(2), bug.Events, "%+v", bug)
	require.Len(t, evs, 2)
	names0, lines0 := inAppFrames(evs[0])
	names1, lines1 := inAppFrames(evs[1])
	require.NotEmpty(t, names0, "in-app frames of %+v", evs[0])
	require.Equal(t, names0, names1, "the same bug: the same in-app functions")
	require.NotEqual(t, lines0, lines1, "raised from different lines")
	for _, ev := range evs {
		require.Equal(t, traceID, ev.TraceID, "event %s captured inside the transaction", ev.EventID)
	}

	other, evs := issueEventsOfType(t, s, otherType, passwordAt)
	require.NotEqual(t, bug.ID, other.ID)
	require.Equal(t, int64(1), other.Events, "%+v", other)
	require.Len(t, evs, 1)
	names2, _ := inAppFrames(evs[0])
	require.Equal(t, names0, names2, "the other bug differs only by its type")
	require.Equal(t, traceID, evs[0].TraceID, "event %s captured inside the transaction", evs[0].EventID)
}
