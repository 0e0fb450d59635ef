package loki

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPatterns(t *testing.T) {
	srv, st := newServer(t)
	var recs []record
	for i := range 6 {
		// Loki's documented example, plus an error line seen once.
		recs = append(recs, record{level: "INFO", line: fmt.Sprintf(
			`ts=2024-03-30T23:03:%02d caller=grpc_logging.go:66 level=info method=/cortex.Ingester/Push duration=%dms msg=gRPC`, 40+i, 100*(i+1))})
	}
	recs = append(recs, record{level: "ERROR", line: `caller=grpc_logging.go:66 level=error msg="connection refused to object store"`})
	recs = append(recs, record{level: "INFO", line: `GET /api/users/17 200 12ms from 10.0.0.1`},
		record{level: "INFO", line: `GET /api/users/42 200 7ms from 10.0.0.2`})
	writeStream(t, st, map[string]string{"service.name": "loki"}, t0, recs...)

	code, body := get(t, srv, "/loki/api/v1/patterns", url.Values{"query": {`{service_name="loki"}`},
		"start": {ns(t0)}, "end": {ns(t0.Add(time.Minute))}, "step": {"5s"}})
	require.Equal(t, http.StatusOK, code, body)
	s0, s5 := t0.Unix(), t0.Unix()+5
	require.JSONEq(t, fmt.Sprintf(`{"status":"success","data":[
		{"pattern":"ts=<_> caller=grpc_logging.go:66 level=info method=/cortex.Ingester/Push duration=<_> msg=gRPC","level":"info","samples":[[%d,5],[%d,1]]},
		{"pattern":"GET <_> 200 <_> from <_>","level":"info","samples":[[%d,2]]},
		{"pattern":"caller=grpc_logging.go:66 level=error msg=\"connection refused to object store\"","level":"error","samples":[[%d,1]]}
	]}`, s0, s5, s5, s5), body)

	// A line filter narrows the lines clustered.
	code, body = get(t, srv, "/loki/api/v1/patterns", url.Values{"query": {`{service_name="loki"} |= "GET"`},
		"start": {ns(t0)}, "end": {ns(t0.Add(time.Minute))}, "step": {"1m"}})
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, fmt.Sprintf(`{"status":"success","data":[{"pattern":"GET <_> 200 <_> from <_>","level":"info","samples":[[%d,2]]}]}`, s0), body)

	for _, c := range []struct {
		params url.Values
		msg    string
	}{
		{url.Values{}, "missing stream selector"},
		{url.Values{"query": {`{a="b"`}}, "parse error"},
		{url.Values{"query": {`count_over_time({a="b"}[1m])`}}, "want a stream selector"},
		{url.Values{"query": {`{a="b"}`}, "step": {"0"}}, "step"},
		{url.Values{"query": {`{a="b"}`}, "start": {"0"}, "end": {"100000"}, "step": {"1s"}}, "11,000 points"},
	} {
		code, body := get(t, srv, "/loki/api/v1/patterns", c.params)
		require.Equal(t, http.StatusBadRequest, code, "%v: %s", c.params, body)
		require.Contains(t, body, c.msg)
	}
}

func TestDrain(t *testing.T) {
	f := func(want []string, lines ...string) {
		t.Helper()
		d := &drain{groups: map[string][]*patternCluster{}}
		for _, l := range lines {
			d.add(tokenize(l), "", 0)
		}
		var got []string
		for _, p := range d.results() {
			got = append(got, p.Pattern)
		}
		require.Equal(t, want, got)
	}
	f([]string{"user <_> logged in"}, "user alice logged in", "user bob logged in")
	f([]string{`msg=<_> id=<_>`}, `msg="a b" id=1`, `msg="c d e" id=2`)
	f([]string{"<_> done"}, "2024-01-01 10:00:00 done", "2024-01-02 11:00:00 done")
	f([]string{"only once 123"}, "only once 123")
	f([]string{"a b c d", "a x y z"}, "a b c d", "a x y z") // 1/4 equal: below 30%
}
