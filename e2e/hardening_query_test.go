package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pushLoki sends one Loki push request (JSON) and returns the status and body.
func pushLoki(t *testing.T, s *server, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.HTTP+"/loki/api/v1/push", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// lokiStream is a push body of one stream with n lines at ts (unix ns), line(i) each.
func lokiStream(labels string, ts int64, n int, line func(i int) string) string {
	vals := make([]string, n)
	for i := range n {
		vals[i] = fmt.Sprintf(`["%d",%q]`, ts+int64(i), line(i))
	}
	return `{"streams":[{"stream":` + labels + `,"values":[` + strings.Join(vals, ",") + `]}]}`
}

func postForm(t *testing.T, target string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(target, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestConcurrentQueriesAreBoundedWhileIngestGoesOn sends 20 heavy LogQL queries at once to a
// server that admits 2 at a time with 2 waiting: some are answered, the others are refused
// at once (429) or after waiting (503) with the limit named, never a crash or an
// unbounded pile-up; Loki pushes sent meanwhile all succeed (ingest never waits for a
// query slot). 20 such queries had taken 9.1 GB and cut ingest by 75-95% (issue 18).
func TestConcurrentQueriesAreBoundedWhileIngestGoesOn(t *testing.T) {
	s := startServer(t, t.TempDir(), "--config", writeConfig(t,
		"query:\n  max_concurrent: 2\n  max_queued: 2\n  queue_timeout: 1s\n"))

	now := time.Now().Add(-time.Minute).UnixNano()
	for b := range 10 {
		status, body := pushLoki(t, s, lokiStream(`{"service_name":"load","job":"heavy"}`, now+int64(b)*1e8, 10000, func(i int) string {
			return fmt.Sprintf(`level=info user=u%d path=/api/items/%d msg="request served" bytes=%d`, i%97, i, i*7)
		}))
		require.Equal(t, http.StatusNoContent, status, body)
	}

	query := url.Values{
		"query": {`sum by (user) (count_over_time({service_name="load"} |~ "(u1|u2|u3).*(1|3|5|7)+.*bytes" | logfmt [1m]))`},
		"start": {fmt.Sprint(now - int64(time.Minute))}, "end": {fmt.Sprint(time.Now().UnixNano())}, "step": {"1"},
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		codes   = map[int]int{}
		refusal string
	)
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.Get(s.HTTP + "/loki/api/v1/query_range?" + query.Encode())
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
				refusal = string(b)
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("a %d without Retry-After", resp.StatusCode)
				}
			} else if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d: %s", resp.StatusCode, b)
			}
		}()
	}

	// Ingest goes on while the queries run.
	pushDone := make(chan struct{})
	var pushErrs []string
	go func() {
		defer close(pushDone)
		for i := range 10 {
			status, body := pushLoki(t, s, lokiStream(`{"service_name":"during","job":"ingest"}`, time.Now().UnixNano(), 500, func(j int) string {
				return fmt.Sprintf("pushed while querying %d/%d", i, j)
			}))
			if status != http.StatusNoContent {
				pushErrs = append(pushErrs, fmt.Sprintf("%d %s", status, body))
			}
		}
	}()
	close(start)
	wg.Wait()
	<-pushDone

	require.Empty(t, pushErrs, "ingest must not be refused because of queries")
	t.Logf("query answers by status: %v", codes)
	require.Positive(t, codes[http.StatusOK], "some queries must be answered")
	require.Positive(t, codes[http.StatusTooManyRequests]+codes[http.StatusServiceUnavailable], "the queries beyond the limit must be refused")
	require.Contains(t, refusal, "query.max_concurrent")

	// What was pushed during the queries is there.
	eventually(t, 30*time.Second, func() error {
		var got struct {
			Data struct {
				Result []struct{ Values [][2]string } `json:"result"`
			} `json:"data"`
		}
		q := url.Values{"query": {`{service_name="during"}`}, "limit": {"5000"},
			"start": {fmt.Sprint(time.Now().Add(-time.Hour).UnixNano())}, "end": {fmt.Sprint(time.Now().Add(time.Minute).UnixNano())}}
		getJSON(t, s.HTTP+"/loki/api/v1/query_range?"+q.Encode(), http.StatusOK, &got)
		n := 0
		for _, r := range got.Data.Result {
			n += len(r.Values)
		}
		if n != 5000 {
			return fmt.Errorf("%d of 5000 lines pushed during the queries found", n)
		}
		return nil
	})

	resp, err := http.Get(s.HTTP + "/metrics")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(b), "loupe_query_rejected_total")
}

// TestDeeplyNestedQueriesAreRefused: 40,000 nested parentheses took the PromQL parser 23.6 s
// and 3.5 GB (issue 18). PromQL, LogQL and TraceQL expressions over the length or depth
// limit get a 400 naming the limit, before any parser runs.
func TestDeeplyNestedQueriesAreRefused(t *testing.T) {
	s := startServer(t, t.TempDir())
	nest := func(n int, inner string) string { return strings.Repeat("(", n) + inner + strings.Repeat(")", n) }

	status, body := postForm(t, s.HTTP+"/api/v1/query", url.Values{"query": {nest(40000, "1")}})
	require.Equal(t, http.StatusBadRequest, status, body)
	var env struct{ Status, ErrorType, Error string }
	require.NoError(t, json.Unmarshal([]byte(body), &env), body)
	require.Equal(t, "bad_data", env.ErrorType)
	require.Contains(t, env.Error, "query.max_query_length")

	status, body = postForm(t, s.HTTP+"/api/v1/query_range", url.Values{"query": {nest(1000, "up")}, "start": {"0"}, "end": {"60"}, "step": {"15"}})
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, "query.max_query_depth")

	status, body = postForm(t, s.HTTP+"/loki/api/v1/query_range", url.Values{"query": {`sum(` + nest(1000, `count_over_time({a="b"}[1m])`) + `)`}})
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, "query.max_query_depth")

	resp, err := http.Get(s.HTTP + "/api/search?" + url.Values{"q": {nest(1000, `{ .a = "b" }`)}}.Encode())
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(b))
	require.Contains(t, string(b), "query.max_query_depth")

	// A normal query still works.
	getJSON(t, s.HTTP+"/api/v1/query?query="+url.QueryEscape(nest(10, "1")), http.StatusOK, nil)
}

// TestLogFromYear2200IsRejected: dates in 2200 created day tables that retention never
// dropped (issue 18). Such a record is refused as a partial success naming the limit; the
// others of the request are stored. A Loki push gets a 400 saying the same.
func TestLogFromYear2200IsRejected(t *testing.T) {
	s := startServer(t, t.TempDir(), "--config", writeConfig(t, "limits:\n  max_log_streams: 3\n"))
	future := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	now := time.Now().UnixNano()
	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"window"}}]},` +
		`"scopeLogs":[{"logRecords":[` +
		fmt.Sprintf(`{"timeUnixNano":"%d","body":{"stringValue":"from 2200"}},`, future) +
		fmt.Sprintf(`{"timeUnixNano":"%d","body":{"stringValue":"from now"}},`, now) +
		`{"body":{"stringValue":"no time at all"}}]}]}]}`
	status, resp := postOTLP(t, s, "/v1/logs", "application/json", body)
	require.Equal(t, http.StatusOK, status, resp)
	var ps struct {
		PartialSuccess struct {
			RejectedLogRecords string `json:"rejectedLogRecords"`
			ErrorMessage       string `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp), &ps), resp)
	require.Equal(t, "1", ps.PartialSuccess.RejectedLogRecords, resp)
	require.Contains(t, ps.PartialSuccess.ErrorMessage, "limits.max_future")
	require.Len(t, findLogs(t, s, url.Values{"service": {"window"}}), 2, "the record from now and the one without a time")

	status, resp = pushLoki(t, s, lokiStream(`{"service_name":"window"}`, future, 1, func(int) string { return "loki from 2200" }))
	require.Equal(t, http.StatusBadRequest, status, resp)
	require.Contains(t, resp, "limits.max_future")

	// The stream limit: 3 streams at most; "window" is one, two more fit, the others are
	// refused while the active ones keep working.
	var streams []string
	for i := range 4 {
		streams = append(streams, fmt.Sprintf(`{"stream":{"service_name":"s%d"},"values":[["%d","line"]]}`, i, now))
	}
	status, resp = pushLoki(t, s, `{"streams":[`+strings.Join(streams, ",")+`]}`)
	require.Equal(t, http.StatusTooManyRequests, status, resp) // as Loki answers its stream limit
	require.Contains(t, resp, "stream limit exceeded")
	require.Contains(t, resp, "limits.max_log_streams")
	status, resp = pushLoki(t, s, lokiStream(`{"service_name":"s0"}`, now+1, 1, func(int) string { return "again" }))
	require.Equal(t, http.StatusNoContent, status, resp)
}
