package loki

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/store/duck"
)

// record is one log record for writeStream.
type record struct {
	line  string
	level string
	attrs map[string]any // record attributes (structured metadata)
}

// writeStream writes records of one resource (stream), one per second from start.
func writeStream(t testing.TB, st *duck.Store, resource map[string]string, start time.Time, recs ...record) {
	t.Helper()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	for k, v := range resource {
		rl.Resource().Attributes().PutStr(k, v)
	}
	sl := rl.ScopeLogs().AppendEmpty()
	for i, r := range recs {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Second)))
		lr.Body().SetStr(r.line)
		if r.level != "" {
			lr.SetSeverityText(r.level)
		}
		require.NoError(t, lr.Attributes().FromRaw(r.attrs))
	}
	require.NoError(t, st.WriteLogs(context.Background(), ld))
}

func lines(n int, line string) []record {
	out := make([]record, n)
	for i := range out {
		out[i] = record{line: line}
	}
	return out
}

// Loki's documented example: streams {job, env, team}; volumes aggregate into the
// selector's labels by default, into targetLabels, or per label name.
func TestVolumeAggregation(t *testing.T) {
	srv, st := newServer(t)
	for _, s := range []struct {
		job, env, team string
		n              int
	}{{"foo", "prod", "alpha", 4}, {"bar", "prod", "beta", 3}, {"foo", "dev", "alpha", 2}, {"bar", "dev", "beta", 1}} {
		writeStream(t, st, map[string]string{"service.name": s.job, "env": s.env, "team": s.team}, t0, lines(s.n, "0123456789")...)
	}
	end := t0.Add(time.Minute)
	endS := float64(end.UnixNano()) / 1e9
	vol := func(kv ...string) string {
		t.Helper()
		v := url.Values{"start": {ns(t0)}, "end": {ns(end)}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		code, body := get(t, srv, "/loki/api/v1/index/volume", v)
		require.Equal(t, http.StatusOK, code, body)
		return body
	}
	f := func(want string, kv ...string) {
		t.Helper()
		require.JSONEq(t, `{"status":"success","data":{"resultType":"vector","result":[`+want+`]}}`, vol(kv...))
	}
	sample := func(metric string, v int) string {
		return fmt.Sprintf(`{"metric":%s,"value":[%v,"%d"]}`, metric, endS, v)
	}

	byDefault := sample(`{"service_name":"foo","env":"prod"}`, 40) + "," + sample(`{"service_name":"foo","env":"dev"}`, 20)
	f(byDefault, "query", `{service_name="foo", env=~".+"}`)
	// aggregateBy=series is the default, not whole stream label sets.
	f(byDefault, "query", `{service_name="foo", env=~".+"}`, "aggregateBy", "series")
	// targetLabels: only those labels, and only streams that have them.
	f(sample(`{"team":"alpha"}`, 60), "query", `{service_name="foo"}`, "targetLabels", "team")
	f(sample(`{"service_name":"foo","team":"alpha"}`, 40)+","+sample(`{"service_name":"bar","team":"beta"}`, 30),
		"query", `{service_name=~".+", env!="dev"}`, "targetLabels", "team,service_name")
	// aggregateBy=labels: one series per label name with value "".
	f(sample(`{"env":""}`, 100)+","+sample(`{"service_name":""}`, 100)+","+sample(`{"team":""}`, 100),
		"query", `{env=~".+"}`, "aggregateBy", "labels")
	f(sample(`{"team":""}`, 60), "query", `{service_name="foo"}`, "aggregateBy", "labels", "targetLabels", "team")
	f(sample(`{"service_name":"foo","env":"prod"}`, 40), "query", `{service_name="foo", env=~".+"}`, "limit", "1")

	// volume_range: the same groups per step.
	code, body := get(t, srv, "/loki/api/v1/index/volume_range", url.Values{"query": {`{service_name=~".+"}`},
		"start": {ns(t0.Add(2 * time.Second))}, "end": {ns(t0.Add(4 * time.Second))}, "step": {"2s"}, "aggregateBy": {"labels"}, "targetLabels": {"team"}})
	require.Equal(t, http.StatusOK, code, body)
	s2, s4 := t0.Unix()+2, t0.Unix()+4
	// (0s, 2s]: foo/prod at 1s and 2s, foo/dev at 1s, bar/prod at 1s and 2s; (2s, 4s]: foo/prod at 3s.
	require.JSONEq(t, fmt.Sprintf(`{"resultType":"matrix","result":[{"metric":{"team":""},"values":[[%d,"50"],[%d,"10"]]}]}`, s2, s4),
		dataWithoutStats(t, body))
	code, body = get(t, srv, "/loki/api/v1/index/volume_range", url.Values{"query": {`{service_name="foo", env=~".+"}`},
		"start": {ns(t0.Add(2 * time.Second))}, "end": {ns(t0.Add(4 * time.Second))}, "step": {"2s"}, "aggregateBy": {"series"}})
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, fmt.Sprintf(`{"resultType":"matrix","result":[
		{"metric":{"service_name":"foo","env":"prod"},"values":[[%d,"20"],[%d,"10"]]},
		{"metric":{"service_name":"foo","env":"dev"},"values":[[%d,"10"]]}]}`, s2, s4, s2), dataWithoutStats(t, body))
}

func TestVolumeBadParams(t *testing.T) {
	srv, _ := newServer(t)
	for _, path := range []string{"/loki/api/v1/index/volume", "/loki/api/v1/index/volume_range"} {
		for _, c := range []struct {
			params url.Values
			msg    string
		}{
			{url.Values{}, "missing stream selector"},
			{url.Values{"query": {`{a="b"}`}, "aggregateBy": {"pods"}}, "invalid aggregation option"},
			{url.Values{"query": {`{a="b"}`}, "limit": {"-3"}}, "must be a positive value"},
			{url.Values{"query": {`{a="b"`}}, "parse error"},
		} {
			code, body := get(t, srv, path, c.params)
			require.Equal(t, http.StatusBadRequest, code, "%s %v: %s", path, c.params, body)
			require.Contains(t, body, c.msg)
		}
	}
}
