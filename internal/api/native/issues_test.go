package native

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/errtrack/errtracktest"
	"github.com/loupe-dev/loupe/internal/store/duck"
)

// newIssuesAPI returns an API over a DuckDB error store holding: 30 events of one bug
// (bugA, release 1.0.0, two users) over the last 3 hours and 5 of another (bugB, service
// billing) 2 days ago.
func newIssuesAPI(t *testing.T) (*API, errtrack.Store, []errtrack.Event) {
	t.Helper()
	s, err := duck.Open(filepath.Join(t.TempDir(), "loupe.duckdb"), duck.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	rec, err := errtrack.NewRecorder(s, errtrack.RecorderOptions{Now: func() time.Time { return testNow }}, nil, nil)
	require.NoError(t, err)
	var evs []errtrack.Event
	for i := range 30 {
		ev := errtracktest.Event(i+1, "checkout", testNow.Add(-time.Duration(i)*6*time.Minute))
		ev.User = &errtrack.User{ID: []string{"u1", "u2"}[i%2]}
		ev.Extra = map[string]any{"password": "hunter2"}
		evs = append(evs, ev)
	}
	for i := range 5 {
		ev := errtracktest.Event(100+i, "pay", testNow.Add(-48*time.Hour+time.Duration(i)*time.Minute))
		ev.Service = "billing"
		evs = append(evs, ev)
	}
	in := append([]errtrack.Event(nil), evs...)
	require.NoError(t, rec.Record(context.Background(), in))
	a := newTestAPI(&fakeStore{}, nil).WithIssues(s)
	return a, s, in
}

func TestIssuesList(t *testing.T) {
	a, _, evs := newIssuesAPI(t)
	var page struct {
		Issues []struct {
			errtrack.Issue
			Series []errtrack.Bucket `json:"series"`
		} `json:"issues"`
		Next  string    `json:"next"`
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
		Step  float64   `json:"step"`
	}
	resp := get(t, a, "/api/loupe/v1/issues", http.StatusOK)
	page = pageOf(page)
	require.NoError(t, json.Unmarshal(resp.Data, &page))
	require.Len(t, page.Issues, 1, "the default range is the last 24 hours")
	is := page.Issues[0]
	require.Equal(t, evs[0].GroupID, is.ID)
	require.Equal(t, int64(30), is.Events)
	require.Equal(t, int64(2), is.Users)
	require.Equal(t, "ZeroDivisionError: division by zero", is.Title)
	require.Equal(t, 3600.0, page.Step)
	var total int64
	for _, b := range is.Series {
		total += b.Count
	}
	require.Equal(t, int64(30), total, "the sparkline counts every event of the range")
	// The range is in the answer, so that a client can place the buckets it gets (empty
	// ones are omitted): the 24 hours ending with the current hour, whole-hour buckets.
	require.Equal(t, testNow.Truncate(time.Hour).Add(time.Hour), page.End)
	require.Equal(t, page.End.Add(-24*time.Hour), page.Start)
	for _, b := range is.Series {
		require.Zero(t, b.Start.Sub(page.Start)%time.Hour, "bucket %s is not at start + k*step", b.Start)
		require.True(t, !b.Start.Before(page.Start) && b.Start.Before(page.End), "bucket %s outside the range", b.Start)
	}

	// With start and without end, the range ends now, this instant included.
	resp = get(t, a, "/api/loupe/v1/issues?start=now-3h", http.StatusOK)
	page = pageOf(page)
	require.NoError(t, json.Unmarshal(resp.Data, &page))
	total = 0
	for _, b := range page.Issues[0].Series {
		total += b.Count
	}
	require.Equal(t, int64(30), total)

	resp = get(t, a, "/api/loupe/v1/issues?start=now-7d&service=billing", http.StatusOK)
	page = pageOf(page)
	require.NoError(t, json.Unmarshal(resp.Data, &page))
	require.Len(t, page.Issues, 1)
	require.Equal(t, evs[30].GroupID, page.Issues[0].ID)

	resp = get(t, a, "/api/loupe/v1/issues?start=now-7d&sort=events&limit=1", http.StatusOK)
	page = pageOf(page)
	require.NoError(t, json.Unmarshal(resp.Data, &page))
	require.Equal(t, evs[0].GroupID, page.Issues[0].ID)
	require.NotEmpty(t, page.Next)
	resp = get(t, a, "/api/loupe/v1/issues?start=now-7d&sort=events&limit=1&cursor="+page.Next, http.StatusOK)
	page = pageOf(page)
	require.NoError(t, json.Unmarshal(resp.Data, &page))
	require.Equal(t, evs[30].GroupID, page.Issues[0].ID)
	require.Empty(t, page.Next)

	resp = get(t, a, "/api/loupe/v1/issues?start=now-7d&q=PAY", http.StatusOK)
	page = pageOf(page)
	require.NoError(t, json.Unmarshal(resp.Data, &page))
	require.Len(t, page.Issues, 1)

	for _, bad := range []string{"sort=title", "status=fixed", "cursor=x", "limit=0", "servce=x", "start=yesterday"} {
		resp = get(t, a, "/api/loupe/v1/issues?"+bad, http.StatusBadRequest)
		require.Equal(t, "bad_data", resp.ErrorType, bad)
	}
}

func TestIssueDetailAndEvents(t *testing.T) {
	a, _, evs := newIssuesAPI(t)
	id := evs[0].GroupID
	var detail issueDetailJSON
	resp := get(t, a, "/api/loupe/v1/issues/"+id, http.StatusOK)
	require.NoError(t, json.Unmarshal(resp.Data, &detail))
	require.Equal(t, int64(30), detail.Issue.Events)
	require.Equal(t, 3600.0, detail.Step)
	var total int64
	for _, b := range detail.Series {
		total += b.Count
	}
	require.Equal(t, int64(30), total)
	require.Equal(t, "browser", detail.Tags[0].Key)
	get(t, a, "/api/loupe/v1/issues/0000", http.StatusNotFound)

	var page struct {
		Events []errtrack.Event `json:"events"`
		Next   string           `json:"next"`
	}
	resp = get(t, a, "/api/loupe/v1/issues/"+id+"/events?limit=20", http.StatusOK)
	page = pageOf(page)
	require.NoError(t, json.Unmarshal(resp.Data, &page))
	require.Len(t, page.Events, 20)
	require.Equal(t, evs[0].EventID, page.Events[0].EventID, "newest first")
	require.Equal(t, errtrack.Filtered, page.Events[0].Extra["password"], "stored after scrubbing")
	resp = get(t, a, "/api/loupe/v1/issues/"+id+"/events?limit=20&cursor="+page.Next, http.StatusOK)
	page = pageOf(page)
	require.NoError(t, json.Unmarshal(resp.Data, &page))
	require.Len(t, page.Events, 10)
	require.Empty(t, page.Next)
	get(t, a, "/api/loupe/v1/issues/ffff/events", http.StatusNotFound)

	var ev errtrack.Event
	resp = get(t, a, "/api/loupe/v1/events/"+evs[3].EventID, http.StatusOK)
	require.NoError(t, json.Unmarshal(resp.Data, &ev))
	require.Equal(t, evs[3].EventID, ev.EventID)
	require.Equal(t, "checkout", ev.Exceptions[0].Frames[1].Function)
	get(t, a, "/api/loupe/v1/events/"+strings.Repeat("0", 32), http.StatusNotFound)
}

func putStatus(t *testing.T, a *API, id, method, path, body string, want int) response {
	t.Helper()
	req := httptest.NewRequest(method, "/api/loupe/v1/issues/"+id+path, strings.NewReader(body))
	return do(t, a, req, want)
}

func TestIssueStatusChanges(t *testing.T) {
	a, s, evs := newIssuesAPI(t)
	id := evs[0].GroupID
	var is errtrack.Issue
	resp := putStatus(t, a, id, http.MethodPut, "", `{"status":"resolved","in_next_release":true}`, http.StatusOK)
	is = errtrack.Issue{}
	require.NoError(t, json.Unmarshal(resp.Data, &is))
	require.Equal(t, errtrack.StatusResolved, is.Status)
	require.Equal(t, "1.0.0", is.ResolvedInRelease)

	resp = putStatus(t, a, id, http.MethodPost, "/status", `{"status":"ignored","ignore_duration":"2h","ignore_count":5}`, http.StatusOK)
	is = errtrack.Issue{}
	require.NoError(t, json.Unmarshal(resp.Data, &is))
	require.Equal(t, errtrack.StatusIgnored, is.Status)
	require.Equal(t, testNow.Add(2*time.Hour), is.IgnoreUntil)
	require.Equal(t, int64(5), is.IgnoreCount)

	resp = putStatus(t, a, id, http.MethodPut, "/status", `{"status":"unresolved"}`, http.StatusOK)
	is = errtrack.Issue{}
	require.NoError(t, json.Unmarshal(resp.Data, &is))
	require.Equal(t, errtrack.StatusUnresolved, is.Status)
	require.Zero(t, is.IgnoreCount)

	got, err := s.GetIssue(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, errtrack.StatusUnresolved, got.Status)

	for _, bad := range []string{`{"status":"fixed"}`, `{"status":"regressed"}`, `{"status":"resolved","ignore_count":3}`,
		`{"status":"ignored","ignore_duration":"soon"}`, `{"status":"unresolved","in_next_release":true}`, `{"status":`, `{"stat":"resolved"}`} {
		putStatus(t, a, id, http.MethodPut, "", bad, http.StatusBadRequest)
	}
	putStatus(t, a, "ffff", http.MethodPut, "", `{"status":"resolved"}`, http.StatusNotFound)
	putStatus(t, a, id, http.MethodDelete, "", ``, http.StatusMethodNotAllowed)
}

func TestTraceEvents(t *testing.T) {
	a, s, evs := newIssuesAPI(t)
	const trace, other = "4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"
	// Two events of the checkout bug and one of another bug in the trace, one elsewhere.
	var in []errtrack.Event
	for _, c := range []struct {
		n       int
		fn      string
		trace   string
		span    string
		minutes int
	}{{200, "checkout", trace, "00f067aa0ba902b7", 3}, {201, "checkout", trace, "53995c3f42cd8ad8", 2},
		{202, "refund", trace, "53995c3f42cd8ad8", 1}, {203, "refund", other, "00f067aa0ba902b7", 0}} {
		ev := errtracktest.Event(c.n, c.fn, testNow.Add(-time.Duration(c.minutes)*time.Minute))
		ev.TraceID, ev.SpanID = c.trace, c.span
		in = append(in, ev)
	}
	rec, err := errtrack.NewRecorder(s, errtrack.RecorderOptions{Now: func() time.Time { return testNow }}, nil, nil)
	require.NoError(t, err)
	require.NoError(t, rec.Record(context.Background(), in))

	var page struct {
		Events []errtrack.Event          `json:"events"`
		Issues map[string]errtrack.Issue `json:"issues"`
	}
	// Upper-case hex is read as the same trace.
	resp := get(t, a, "/api/loupe/v1/events?trace_id="+strings.ToUpper(trace), http.StatusOK)
	require.NoError(t, json.Unmarshal(resp.Data, &page))
	require.Len(t, page.Events, 3)
	require.Equal(t, []string{in[2].EventID, in[1].EventID, in[0].EventID},
		[]string{page.Events[0].EventID, page.Events[1].EventID, page.Events[2].EventID}, "newest first")
	require.Equal(t, "53995c3f42cd8ad8", page.Events[0].SpanID)
	require.Len(t, page.Issues, 2)
	require.Equal(t, evs[0].GroupID, in[0].GroupID, "the trace's checkout events are the checkout issue's")
	require.Equal(t, int64(32), page.Issues[in[0].GroupID].Events)
	require.Contains(t, page.Issues[in[2].GroupID].Culprit, "refund")

	resp = get(t, a, "/api/loupe/v1/events?limit=1&trace_id="+trace, http.StatusOK)
	page = pageOf(page)
	require.NoError(t, json.Unmarshal(resp.Data, &page))
	require.Len(t, page.Events, 1)
	require.Len(t, page.Issues, 1)

	resp = get(t, a, "/api/loupe/v1/events?trace_id=11111111111111111111111111111111", http.StatusOK)
	require.JSONEq(t, `{"events": [], "issues": {}}`, string(resp.Data))

	for _, bad := range []string{"", "trace_id=", "trace_id=xyz", "trace_id=" + strings.Repeat("0", 32), "trace_id=" + trace + "&limit=0", "trace=" + trace} {
		resp = get(t, a, "/api/loupe/v1/events?"+bad, http.StatusBadRequest)
		require.Equal(t, "bad_data", resp.ErrorType, bad)
	}
}

func TestIssuesWithoutStore(t *testing.T) {
	a := newTestAPI(&fakeStore{}, nil)
	get(t, a, "/api/loupe/v1/issues", http.StatusServiceUnavailable)
}

// pageOf returns a zero value of a page's type: json.Unmarshal leaves fields the answer
// omits (next at the end) as they were.
func pageOf[T any](T) T {
	var zero T
	return zero
}
