package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"
)

// crashSender posts one request after another to one ingest path until the server goes away
// or ctx ends, and remembers which requests the server acknowledged (2xx). The request in
// flight when the server dies is neither acknowledged nor counted as refused.
type crashSender struct {
	name  string
	url   string
	first int // number of the first request
	body  func(i int) string
	// contentType is the requests' Content-Type; "" for application/json.
	contentType string
	acked       []int
	n           atomic.Int64 // len(acked), readable while run goes on
	err         error        // the first non-2xx answer, which fails the test
}

func (c *crashSender) run(ctx context.Context) {
	for i := c.first; ctx.Err() == nil; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(c.body(i)))
		if err != nil {
			c.err = err
			return
		}
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return // the server is gone
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			c.err = fmt.Errorf("%s request %d: status %d", c.name, i, resp.StatusCode)
			return
		}
		c.acked = append(c.acked, i)
		c.n.Add(1)
	}
}

const (
	crashLogsPerRequest  = 50
	crashSpansPerRequest = 5
)

// TestKillDuringIngestLosesNothingAcknowledged sends logs, spans, metrics, Sentry error
// events and profiles (Pyroscope's /ingest, pprof) as fast as one client per signal can, kills the server with SIGKILL in the middle, restarts it on the same
// data directory and checks that every acknowledged item is there. What the server
// acknowledged must never be lost, whatever the way it stops. Items of the request in flight
// at the kill may or may not be stored; duplicates are counted and must not occur (no
// client here retries).
func TestKillDuringIngestLosesNothingAcknowledged(t *testing.T) {
	rounds := 2
	if v := os.Getenv("LOUPE_CRASH_ROUNDS"); v != "" { // the longer run: docs/operations.md
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "LOUPE_CRASH_ROUNDS")
		rounds = n
	}
	dir := t.TempDir()
	config := writeConfig(t, sentryConfig)
	s := startServer(t, dir, "--config", config)
	base := time.Now().Add(-time.Minute).UnixNano()
	var logs, spans, metrics, events, profiles []int // acknowledged requests of every round so far
	for round := range rounds {
		senders := crashSenders(s, base, round*1_000_000)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var wg sync.WaitGroup
		for _, c := range senders {
			wg.Go(func() { c.run(ctx) })
		}
		// Kill at a random point once every signal has had requests acknowledged, so that
		// each is cut mid-stream.
		least := 10 + rand.IntN(40)
		eventually(t, 30*time.Second, func() error {
			for _, c := range senders {
				if c.err != nil {
					return nil // reported after the kill
				}
				if c.n.Load() < int64(least) {
					return fmt.Errorf("%s: %d requests acknowledged", c.name, c.n.Load())
				}
			}
			return nil
		})
		require.NoError(t, s.cmd.Process.Kill())
		<-s.exited
		wg.Wait()
		cancel()
		for _, c := range senders {
			require.NoError(t, c.err)
			t.Logf("round %d: %s: %d requests acknowledged before SIGKILL", round, c.name, len(c.acked))
		}
		logs = append(logs, senders[0].acked...)
		spans = append(spans, senders[1].acked...)
		metrics = append(metrics, senders[2].acked...)
		events = append(events, senders[3].acked...)
		profiles = append(profiles, senders[4].acked...)

		s = startServer(t, dir, "--config", config)
		checkCrashLogs(t, s, logs)
		checkCrashSpans(t, s, spans)
		checkCrashMetrics(t, s, metrics)
		checkCrashEvents(t, s, events)
		checkCrashProfiles(t, s, profiles)
	}
}

// crashSenders returns one sender per signal whose request i carries items numbered from
// first+i, so that the items of every round are distinct.
func crashSenders(s *server, base int64, first int) []*crashSender {
	return []*crashSender{
		{name: "logs", url: s.OTLPHTTP + "/v1/logs", first: first, body: func(i int) string {
			recs := make([]string, crashLogsPerRequest)
			for j := range recs {
				recs[j] = fmt.Sprintf(`{"timeUnixNano":"%d","severityNumber":9,"body":{"stringValue":"crash-log %d-%d"}}`, base+int64(i), i, j)
			}
			return `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"crash-logs"}}]},` +
				`"scopeLogs":[{"logRecords":[` + strings.Join(recs, ",") + `]}]}]}`
		}},
		{name: "spans", url: s.OTLPHTTP + "/v1/traces", first: first, body: func(i int) string {
			spans := make([]string, crashSpansPerRequest)
			for j := range spans {
				spans[j] = fmt.Sprintf(`{"traceId":"%s","spanId":"%016x","name":"op %d","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}`,
					crashTraceID(i), j+1, j, base+int64(i), base+int64(i)+1000)
			}
			return `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"crash-spans"}}]},` +
				`"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}`
		}},
		{name: "metrics", url: s.OTLPHTTP + "/v1/metrics", first: first, body: func(i int) string {
			return fmt.Sprintf(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"crash-metrics"}}]},`+
				`"scopeMetrics":[{"metrics":[{"name":"crash_gauge","gauge":{"dataPoints":[{"timeUnixNano":"%d","asDouble":%d,`+
				`"attributes":[{"key":"req","value":{"stringValue":"%d"}}]}]}}]}]}]}`, time.Now().UnixNano(), i, i)
		}},
		// Sentry's store endpoint, one event per request, as the SDKs send them.
		{name: "errors", url: s.HTTP + "/api/1/store/?sentry_version=7&sentry_key=" + sentryKeyAPI, first: first, body: func(i int) string {
			return fmt.Sprintf(`{"event_id":"%s","timestamp":%d,"level":"error","platform":"python","message":"crash-event %d"}`,
				crashEventID(i), time.Now().Unix(), i)
		}},
		// Pyroscope's /ingest with a pprof body, as pyroscope-go and agents push: one sample
		// per request, whose leaf function names the request (crashProfile).
		{name: "profiles", url: s.HTTP + "/ingest?name=crash-profiles&format=pprof", first: first,
			contentType: "application/octet-stream", body: crashProfile},
	}
}

func crashEventID(i int) string { return fmt.Sprintf("e7a5%028x", i+1) }

// checkCrashEvents looks up every acknowledged Sentry event by its id.
func checkCrashEvents(t *testing.T, s *server, acked []int) {
	t.Helper()
	lost := 0
	for _, i := range acked {
		r, err := http.Get(s.HTTP + "/api/loupe/v1/events/" + crashEventID(i))
		require.NoError(t, err)
		r.Body.Close()
		if r.StatusCode == http.StatusNotFound {
			lost++
			continue
		}
		require.Equal(t, http.StatusOK, r.StatusCode)
	}
	t.Logf("errors: %d acknowledged, %d lost", len(acked), lost)
	require.Zero(t, lost, "acknowledged error events lost")
}

func crashTraceID(i int) string { return fmt.Sprintf("c7a5%028x", i+1) }

func checkCrashLogs(t *testing.T, s *server, acked []int) {
	t.Helper()
	seen := map[string]int{}
	params := url.Values{"service": {"crash-logs"}, "start": {"now-1h"}, "end": {"now+1h"}, "limit": {"10000"}}
	for {
		var resp apiEnvelope[apiLogs]
		getJSON(t, s.HTTP+"/api/loupe/v1/logs?"+params.Encode(), 200, &resp)
		for _, r := range resp.Data.Records {
			seen[r.Body]++
		}
		if resp.Data.NextCursor == "" {
			break
		}
		params.Set("cursor", resp.Data.NextCursor)
	}
	lost, dup := 0, 0
	for _, i := range acked {
		for j := range crashLogsPerRequest {
			if seen[fmt.Sprintf("crash-log %d-%d", i, j)] == 0 {
				lost++
			}
		}
	}
	for _, n := range seen {
		dup += n - 1
	}
	t.Logf("logs: %d acknowledged, %d stored, %d lost, %d duplicated", len(acked)*crashLogsPerRequest, len(seen), lost, dup)
	require.Zero(t, lost, "acknowledged log records lost")
	require.Zero(t, dup, "log records stored twice")
}

func checkCrashSpans(t *testing.T, s *server, acked []int) {
	t.Helper()
	lost := 0
	for _, i := range acked {
		var resp apiEnvelope[apiTrace]
		r, err := http.Get(s.HTTP + "/api/loupe/v1/traces/" + crashTraceID(i))
		require.NoError(t, err)
		r.Body.Close()
		if r.StatusCode == http.StatusNotFound {
			lost += crashSpansPerRequest
			continue
		}
		getJSON(t, s.HTTP+"/api/loupe/v1/traces/"+crashTraceID(i), 200, &resp)
		require.LessOrEqual(t, len(resp.Data.Spans), crashSpansPerRequest, "trace %s: spans stored twice", crashTraceID(i))
		lost += crashSpansPerRequest - len(resp.Data.Spans)
	}
	t.Logf("spans: %d acknowledged, %d lost", len(acked)*crashSpansPerRequest, lost)
	require.Zero(t, lost, "acknowledged spans lost")
}

func checkCrashMetrics(t *testing.T, s *server, acked []int) {
	t.Helper()
	var resp promResponse
	getJSON(t, s.HTTP+"/api/v1/query?query="+url.QueryEscape(`last_over_time(crash_gauge[10m])`), 200, &resp)
	stored := map[string]float64{}
	for _, r := range resp.Data.Result {
		v, err := strconv.ParseFloat(r.Value[1].(string), 64)
		require.NoError(t, err)
		stored[r.Metric["req"]] = v
	}
	lost := 0
	for _, i := range acked {
		if v, ok := stored[strconv.Itoa(i)]; !ok || v != float64(i) {
			lost++
		}
	}
	t.Logf("metrics: %d points acknowledged, %d series stored, %d lost", len(acked), len(stored), lost)
	require.Zero(t, lost, "acknowledged metric points lost")
}

// crashProfile is a CPU profile in pprof's format with one sample, of count 1, in the
// function crash.req_<i> called by crash.main.
func crashProfile(i int) string {
	fns := []*profile.Function{{ID: 1, Name: "crash.main"}, {ID: 2, Name: fmt.Sprintf("crash.req_%d", i)}}
	locs := []*profile.Location{{ID: 1, Line: []profile.Line{{Function: fns[0]}}}, {ID: 2, Line: []profile.Line{{Function: fns[1]}}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 10_000_000,
		Sample:   []*profile.Sample{{Location: []*profile.Location{locs[1], locs[0]}, Value: []int64{1, 10_000_000}}},
		Location: locs, Function: fns, TimeNanos: time.Now().UnixNano(), DurationNanos: int64(10 * time.Second),
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		panic(err) // an in-memory profile built above always writes
	}
	return b.String()
}

// checkCrashProfiles exports the merged samples of crash-profiles in pprof's format and
// counts, per acknowledged request, the samples of its function: 1 each, none lost, none
// stored twice.
func checkCrashProfiles(t *testing.T, s *server, acked []int) {
	t.Helper()
	q := url.Values{"type": {"process_cpu:samples:count:cpu:nanoseconds"}, "query": {`{service_name="crash-profiles"}`},
		"start": {fmt.Sprint(time.Now().Add(-time.Hour).Unix())}, "end": {fmt.Sprint(time.Now().Add(time.Hour).Unix())}}
	resp, err := http.Get(s.HTTP + "/api/loupe/v1/profiles/pprof?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	p, err := profile.ParseData(body)
	require.NoError(t, err)
	stored := map[string]int64{}
	for _, smp := range p.Sample {
		if len(smp.Location) > 0 && len(smp.Location[0].Line) > 0 {
			stored[smp.Location[0].Line[0].Function.Name] += smp.Value[0]
		}
	}
	lost, dup := 0, int64(0)
	for _, i := range acked {
		switch n := stored[fmt.Sprintf("crash.req_%d", i)]; {
		case n == 0:
			lost++
		case n > 1:
			dup += n - 1
		}
	}
	t.Logf("profiles: %d acknowledged, %d stored, %d lost, %d duplicated", len(acked), len(stored), lost, dup)
	require.Zero(t, lost, "acknowledged profiles lost")
	require.Zero(t, dup, "profile samples stored twice")
}
