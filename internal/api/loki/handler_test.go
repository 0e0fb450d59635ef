package loki

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"golang.org/x/net/websocket"

	"github.com/loupe-dev/loupe/internal/store/duck"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// writeLogs writes n records of one service, one per second from start.
func writeLogs(t testing.TB, st *duck.Store, service string, start time.Time, n int, line func(i int) string) {
	t.Helper()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	rl.Resource().Attributes().PutStr("k8s.namespace.name", "shop")
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range n {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Second)))
		lr.Body().SetStr(line(i))
		lr.SetSeverityText("INFO")
	}
	require.NoError(t, st.WriteLogs(context.Background(), ld))
}

func newServer(t testing.TB) (*httptest.Server, *duck.Store) {
	st, err := duck.Open(filepath.Join(t.TempDir(), "t.duckdb"), duck.DefaultOptions(), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	opts := DefaultOptions()
	opts.TailInterval = 50 * time.Millisecond
	h := NewHandler(st.LogQL(), opts, nil, prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.Handle(Prefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, st
}

func get(t *testing.T, srv *httptest.Server, path string, params url.Values) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path + "?" + params.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func ns(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

func TestQueryRangeStreamsEnvelope(t *testing.T) {
	srv, st := newServer(t)
	writeLogs(t, st, "api", t0, 3, func(i int) string { return fmt.Sprintf("line %d", i) })
	code, body := get(t, srv, "/loki/api/v1/query_range", url.Values{
		"query": {`{service_name="api"} |= "line"`}, "start": {ns(t0)}, "end": {ns(t0.Add(time.Minute))},
		"limit": {"2"}, "direction": {"forward"}})
	require.Equal(t, http.StatusOK, code, body)
	var got struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
			Stats      struct {
				Summary map[string]any `json:"summary"`
			} `json:"stats"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Equal(t, "success", got.Status)
	require.Equal(t, "streams", got.Data.ResultType)
	require.Len(t, got.Data.Result, 1)
	require.JSONEq(t, fmt.Sprintf(`{"stream":{"service_name":"api","k8s_namespace_name":"shop","detected_level":"info"},"values":[["%s","line 0"],["%s","line 1"]]}`,
		ns(t0), ns(t0.Add(time.Second))), string(got.Data.Result[0]))
	require.EqualValues(t, 2, got.Data.Stats.Summary["totalEntriesReturned"])
	require.Contains(t, got.Data.Stats.Summary, "execTime")
}

func TestMetricEnvelopes(t *testing.T) {
	srv, st := newServer(t)
	writeLogs(t, st, "api", t0, 10, func(i int) string { return "x" })
	code, body := get(t, srv, "/loki/api/v1/query_range", url.Values{
		"query": {`sum by (service_name) (count_over_time({service_name="api"}[5s]))`},
		"start": {t0.Add(5 * time.Second).Format(time.RFC3339)}, "end": {t0.Add(10 * time.Second).Format(time.RFC3339)}, "step": {"5"}})
	require.Equal(t, http.StatusOK, code, body)
	sec := t0.Unix()
	require.JSONEq(t, fmt.Sprintf(`{"resultType":"matrix","result":[{"metric":{"service_name":"api"},"values":[[%d,"5"],[%d,"4"]]}]}`, sec+5, sec+10),
		dataWithoutStats(t, body))

	code, body = get(t, srv, "/loki/api/v1/query", url.Values{
		"query": {`count_over_time({service_name="api"}[3s]) * 2`}, "time": {strconv.FormatInt(sec+4, 10)}})
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, fmt.Sprintf(`{"resultType":"vector","result":[{"metric":{"service_name":"api","k8s_namespace_name":"shop","detected_level":"info"},"value":[%d,"6"]}]}`, sec+4),
		dataWithoutStats(t, body))

	// Grafana's health check.
	code, body = get(t, srv, "/loki/api/v1/query", url.Values{"query": {`vector(1)+vector(1)`}, "time": {"1700000000"}})
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"2"]}]}`, dataWithoutStats(t, body))

	code, body = get(t, srv, "/loki/api/v1/query", url.Values{"query": {`1 + 1.5`}, "time": {"1700000000.5"}})
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"resultType":"scalar","result":[1700000000.5,"2.5"]}`, dataWithoutStats(t, body))
}

func dataWithoutStats(t *testing.T, body string) string {
	var env struct {
		Status string                     `json:"status"`
		Data   map[string]json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &env))
	require.Equal(t, "success", env.Status)
	require.Contains(t, env.Data, "stats")
	delete(env.Data, "stats")
	b, err := json.Marshal(env.Data)
	require.NoError(t, err)
	return string(b)
}

func TestMetadataEndpoints(t *testing.T) {
	srv, st := newServer(t)
	writeLogs(t, st, "api", t0, 3, func(i int) string { return "abc" })
	writeLogs(t, st, "db", t0, 2, func(i int) string { return "de" })
	rng := url.Values{"start": {ns(t0)}, "end": {ns(t0.Add(time.Minute))}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range rng {
			v[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	code, body := get(t, srv, "/loki/api/v1/labels", with())
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"status":"success","data":["k8s_namespace_name","service_name"]}`, body)

	code, body = get(t, srv, "/loki/api/v1/label/service_name/values", with())
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"status":"success","data":["api","db"]}`, body)

	code, body = get(t, srv, "/loki/api/v1/label/service_name/values", with("query", `{service_name=~"d.*"}`))
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"status":"success","data":["db"]}`, body)

	code, body = get(t, srv, "/loki/api/v1/series", with("match[]", `{service_name="api"}`, "match[]", `{service_name="db"}`))
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"status":"success","data":[{"k8s_namespace_name":"shop","service_name":"api"},{"k8s_namespace_name":"shop","service_name":"db"}]}`, body)

	code, body = get(t, srv, "/loki/api/v1/index/stats", with("query", `{k8s_namespace_name="shop"}`))
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"streams":2,"chunks":2,"entries":5,"bytes":13}`, body)

	code, body = get(t, srv, "/loki/api/v1/index/volume", with("query", `{service_name=~".+"}`))
	require.Equal(t, http.StatusOK, code, body)
	end := float64(t0.Add(time.Minute).UnixNano()) / 1e9
	require.JSONEq(t, fmt.Sprintf(`{"status":"success","data":{"resultType":"vector","result":[
		{"metric":{"service_name":"api"},"value":[%v,"9"]},{"metric":{"service_name":"db"},"value":[%v,"4"]}]}}`, end, end), body)

	code, body = get(t, srv, "/loki/api/v1/index/volume_range", url.Values{"query": {`{service_name=~".+"}`},
		"start": {ns(t0.Add(time.Second))}, "end": {ns(t0.Add(3 * time.Second))}, "step": {"2s"}})
	require.Equal(t, http.StatusOK, code, body)
	// Points on multiples of the step, as Loki's frontend aligns start and end down to it.
	s0, s2 := t0.Unix(), t0.Unix()+2
	require.JSONEq(t, fmt.Sprintf(`{"resultType":"matrix","result":[
		{"metric":{"service_name":"api"},"values":[[%d,"3"],[%d,"6"]]},
		{"metric":{"service_name":"db"},"values":[[%d,"2"],[%d,"2"]]}]}`, s0, s2, s0, s2), dataWithoutStats(t, body))

	code, body = get(t, srv, "/loki/api/v1/label", with())
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"status":"success","data":["k8s_namespace_name","service_name"]}`, body)

	code, body = get(t, srv, "/loki/api/v1/status/buildinfo", nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"version":"3.0.0"`)
}

func TestErrors(t *testing.T) {
	srv, _ := newServer(t)
	for _, c := range []struct {
		path   string
		params url.Values
		code   int
		msg    string
	}{
		{"/loki/api/v1/query_range", url.Values{"query": {`{a="b"} |> "x"`}}, 400, "unsupported LogQL: `|>` at 1:9"},
		{"/loki/api/v1/query_range", url.Values{}, 400, "missing LogQL query"},
		{"/loki/api/v1/query_range", url.Values{"query": {`{a="b"}`}, "start": {"yesterday"}}, 400, `cannot parse "yesterday"`},
		{"/loki/api/v1/query_range", url.Values{"query": {`{a="b"}`}, "direction": {"up"}}, 400, "neither forward nor backward"},
		{"/loki/api/v1/query_range", url.Values{"query": {`{a="b"}`}, "limit": {"-1"}}, 400, "not a positive integer"},
		{"/loki/api/v1/query", url.Values{"query": {`{a="b"}`}}, 400, "not supported as an instant query"},
		{"/loki/api/v1/series", url.Values{"match[]": {`{a=~".*"}`}}, 400, "does not match the empty string"},
		{"/loki/api/v1/index/stats", url.Values{}, 400, "missing stream selector"},
		{"/loki/api/v1/tail", url.Values{"query": {`count_over_time({a="b"}[1m])`}}, 400, "tail needs a log query"},
		{"/loki/api/v1/tail", url.Values{"query": {`{a="b"}`}, "delay_for": {"9"}}, 400, "delay_for"},
	} {
		code, body := get(t, srv, c.path, c.params)
		require.Equal(t, c.code, code, "%s %v: %s", c.path, c.params, body)
		require.Contains(t, body, c.msg)
	}
	resp, err := http.NewRequest(http.MethodDelete, srv.URL+"/loki/api/v1/labels", nil)
	require.NoError(t, err)
	r, err := http.DefaultClient.Do(resp)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, r.StatusCode)
}

func TestPostForm(t *testing.T) {
	srv, st := newServer(t)
	writeLogs(t, st, "api", t0, 2, func(i int) string { return "hello" })
	form := url.Values{"query": {`{service_name="api"}`}, "start": {ns(t0)}, "end": {ns(t0.Add(time.Minute))}}
	resp, err := http.Post(srv.URL+"/loki/api/v1/query_range", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.Contains(t, string(b), `"hello"`)
}

// TestTail connects over a websocket, gets the recent entries, then an entry written
// after connecting.
func TestTail(t *testing.T) {
	srv, st := newServer(t)
	now := time.Now()
	writeLogs(t, st, "api", now.Add(-10*time.Second), 2, func(i int) string { return fmt.Sprintf("old %d", i) })
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/loki/api/v1/tail?" + url.Values{
		"query": {`{service_name="api"} != "skip"`}, "start": {ns(now.Add(-time.Minute))}}.Encode()
	conn, err := websocket.Dial(u, "", srv.URL)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))

	var lines []string
	read := func() {
		var msg tailResponse
		require.NoError(t, websocket.JSON.Receive(conn, &msg))
		for _, s := range msg.Streams {
			require.Equal(t, "api", s.Stream["service_name"])
			for _, v := range s.Values {
				lines = append(lines, v[1])
			}
		}
	}
	read()
	require.Equal(t, []string{"old 0", "old 1"}, lines)
	writeLogs(t, st, "api", time.Now(), 3, func(i int) string { return []string{"new", "skip", "newer"}[i] })
	for len(lines) < 4 {
		read()
	}
	require.Equal(t, []string{"old 0", "old 1", "new", "newer"}, lines)
}
