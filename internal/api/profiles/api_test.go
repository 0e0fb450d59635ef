package profiles

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/ingest/pprofscrape"
	"github.com/loupe-dev/loupe/internal/profile/proftest"
	"github.com/loupe-dev/loupe/internal/store"
)

var (
	cpu   = store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	alloc = store.ProfileType{Name: "memory", SampleType: "alloc_space", SampleUnit: "bytes", PeriodType: "space", PeriodUnit: "bytes"}
	t0    = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
)

func frames(rootFirst ...string) []store.Frame {
	var out []store.Frame
	for i := len(rootFirst) - 1; i >= 0; i-- {
		out = append(out, store.Frame{Function: rootFirst[i], File: "/src/" + rootFirst[i] + ".go"})
	}
	return out
}

// testData: api burns in main.work (3 s) and main.idle (1 s) each minute for 3 minutes,
// with main.work under span 00000000000000a1; worker adds main.parse 2 s at minute 1; api
// also has one allocation profile.
func testData(t testing.TB) *proftest.Mem {
	m := &proftest.Mem{}
	require.NoError(t, m.WriteProfiles(context.Background(), testProfiles()))
	return m
}

func testDataF(f *testing.F) *proftest.Mem { return testData(f) }

func testProfiles() []store.Profile {
	var ps []store.Profile
	for i := range 3 {
		ps = append(ps, store.Profile{Type: cpu, Labels: map[string]string{"service_name": "api", "env": "prod"},
			Time: t0.Add(time.Duration(i) * time.Minute), Duration: 10 * time.Second, Samples: []store.ProfileSample{
				{Stack: frames("main.main", "main.work"), Value: 3e9, SpanID: "00000000000000a1", SpanName: "GET /"},
				{Stack: frames("main.main", "main.idle"), Value: 1e9},
			}})
	}
	ps = append(ps,
		store.Profile{Type: cpu, Labels: map[string]string{"service_name": "worker"}, Time: t0.Add(time.Minute),
			Samples: []store.ProfileSample{{Stack: frames("main.main", "main.parse"), Value: 2e9}}},
		store.Profile{Type: alloc, Labels: map[string]string{"service_name": "api"}, Time: t0,
			Samples: []store.ProfileSample{{Stack: frames("main.main", "main.alloc"), Value: 1 << 20}}},
	)
	return ps
}

func newAPI(t *testing.T) *API {
	a := New(testData(t), nil)
	a.now = func() time.Time { return t0.Add(time.Hour) }
	return a
}

// get calls the API and decodes the envelope's data into out; it returns the status.
func get(t *testing.T, h http.Handler, path string, q url.Values, out any) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+path+"?"+q.Encode(), nil))
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env), "%s", rec.Body)
	if rec.Code == http.StatusOK && out != nil {
		require.Equal(t, "success", env.Status)
		require.NoError(t, json.Unmarshal(env.Data, out))
	}
	return rec.Code, env.Error
}

var rangeAll = url.Values{"start": {"2026-12-06T11:00:00Z"}, "end": {"2026-12-06T13:00:00Z"}}

func with(base url.Values, kv ...string) url.Values {
	q := url.Values{}
	for k, v := range base {
		q[k] = append([]string(nil), v...)
	}
	for i := 0; i < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	return q
}

func TestTypes(t *testing.T) {
	a := newAPI(t)
	var got struct{ Types []map[string]string }
	code, _ := get(t, a, "types", rangeAll, &got)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []map[string]string{
		{"id": "memory:alloc_space:bytes:space:bytes", "name": "memory", "sample_type": "alloc_space", "sample_unit": "bytes", "period_type": "space", "period_unit": "bytes"},
		{"id": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "name": "process_cpu", "sample_type": "cpu", "sample_unit": "nanoseconds", "period_type": "cpu", "period_unit": "nanoseconds"},
	}, got.Types)

	// The default range is the hour before now (t0+1h): the profiles at t0.. are in it.
	code, _ = get(t, a, "types", nil, &got)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, got.Types, 2)
	// Unix milliseconds, as Grafana sends, and seconds.
	code, _ = get(t, a, "types", url.Values{"start": {"1765022400000"}, "end": {"1765022401"}}, &got)
	require.Equal(t, http.StatusOK, code)
}

func TestLabels(t *testing.T) {
	a := newAPI(t)
	var names struct{ Names []string }
	get(t, a, "labels", rangeAll, &names)
	require.Equal(t, []string{"env", "service_name"}, names.Names)
	get(t, a, "labels", with(rangeAll, "query", `{service_name="worker"}`), &names)
	require.Equal(t, []string{"service_name"}, names.Names)

	var values struct{ Values []string }
	get(t, a, "labels/service_name/values", with(rangeAll, "type", cpu.ID()), &values)
	require.Equal(t, []string{"api", "worker"}, values.Values)
	get(t, a, "labels/service_name/values", with(rangeAll, "type", cpu.ID(), "query", `{env="prod"}`), &values)
	require.Equal(t, []string{"api"}, values.Values)
	get(t, a, "labels/nothing/values", rangeAll, &values)
	require.Equal(t, []string{}, values.Values)
}

func TestFlamegraph(t *testing.T) {
	a := newAPI(t)
	var g struct {
		Type  string
		Unit  string
		Total int64
		Root  struct {
			Name     string
			Total    int64
			Children []struct {
				Name     string
				Total    int64
				Children []struct {
					Name  string
					File  string
					Self  int64
					Total int64
				}
			}
		}
		Top []struct {
			Function string
			Self     int64
			Total    int64
		}
	}
	code, msg := get(t, a, "flamegraph", with(rangeAll, "type", cpu.ID(), "query", `{service_name="api"}`), &g)
	require.Equal(t, http.StatusOK, code, msg)
	require.Equal(t, cpu.ID(), g.Type)
	require.Equal(t, "nanoseconds", g.Unit)
	require.EqualValues(t, 12e9, g.Total)
	require.Equal(t, "total", g.Root.Name)
	require.Len(t, g.Root.Children, 1)
	mm := g.Root.Children[0]
	require.Equal(t, "main.main", mm.Name)
	require.Len(t, mm.Children, 2)
	require.Equal(t, "main.work", mm.Children[0].Name)
	require.Equal(t, "/src/main.work.go", mm.Children[0].File)
	require.EqualValues(t, 9e9, mm.Children[0].Self)
	require.Equal(t, "main.work", g.Top[0].Function)
	require.EqualValues(t, 9e9, g.Top[0].Self)

	// Every service: worker's main.parse joins.
	get(t, a, "flamegraph", with(rangeAll, "type", cpu.ID()), &g)
	require.EqualValues(t, 14e9, g.Total)

	// The span's profile: main.work only.
	get(t, a, "flamegraph", with(rangeAll, "type", cpu.ID(), "span_id", "00000000000000A1"), &g)
	require.EqualValues(t, 9e9, g.Total)
	require.Len(t, g.Top, 2) // main.work, main.main

	// max_nodes=1 keeps main.main and folds its callees.
	get(t, a, "flamegraph", with(rangeAll, "type", cpu.ID(), "max_nodes", "1"), &g)
	require.Len(t, g.Root.Children[0].Children, 1)
	require.Equal(t, "(other)", g.Root.Children[0].Children[0].Name)
	require.EqualValues(t, 14e9, g.Root.Children[0].Children[0].Total)
}

func TestDiff(t *testing.T) {
	a := newAPI(t)
	var d struct {
		LT   int64 `json:"left_total"`
		RT   int64 `json:"right_total"`
		Root map[string]any
		Top  []map[string]any
	}
	q := url.Values{"type": {cpu.ID()},
		"left_query": {`{service_name="api"}`}, "left_start": {"2026-12-06T12:00:00Z"}, "left_end": {"2026-12-06T12:01:00Z"},
		"right_query": {`{}`}, "right_start": {"2026-12-06T12:01:00Z"}, "right_end": {"2026-12-06T12:02:00Z"}}
	code, msg := get(t, a, "diff", q, &d)
	require.Equal(t, http.StatusOK, code, msg)
	require.EqualValues(t, 4e9, d.LT)
	require.EqualValues(t, 6e9, d.RT) // api 4 s + worker 2 s
	require.Equal(t, "total", d.Root["name"])
	require.EqualValues(t, 4e9, d.Root["left_total"])
	require.NotContains(t, d.Root, "self")
	// main.parse is what changed: 0 → 2/6 of the right side.
	require.Equal(t, "main.parse", d.Top[0]["function"])
	require.EqualValues(t, 0, d.Top[0]["left_self"])
	require.EqualValues(t, 2e9, d.Top[0]["right_self"])
}

func TestSeries(t *testing.T) {
	a := newAPI(t)
	var s struct {
		Series []struct {
			Labels map[string]string
			Points [][2]int64
		}
	}
	code, msg := get(t, a, "series", url.Values{"type": {cpu.ID()}, "start": {"2026-12-06T12:00:00Z"},
		"end": {"2026-12-06T12:03:00Z"}, "step": {"60"}, "group_by": {"service_name"}}, &s)
	require.Equal(t, http.StatusOK, code, msg)
	require.Len(t, s.Series, 2)
	require.Equal(t, map[string]string{"service_name": "api"}, s.Series[0].Labels)
	ms := t0.UnixMilli()
	require.Equal(t, [][2]int64{{ms, 4e9}, {ms + 60000, 4e9}, {ms + 120000, 4e9}}, s.Series[0].Points)
	require.Equal(t, [][2]int64{{ms + 60000, 2e9}}, s.Series[1].Points)
}

func TestSpans(t *testing.T) {
	a := newAPI(t)
	var s struct{ Spans []map[string]any }
	code, msg := get(t, a, "spans", with(rangeAll, "type", cpu.ID(), "function", "main.work"), &s)
	require.Equal(t, http.StatusOK, code, msg)
	require.Equal(t, []map[string]any{{"span_id": "00000000000000a1", "span_name": "GET /", "value": 9e9}}, s.Spans)
	get(t, a, "spans", with(rangeAll, "type", cpu.ID(), "function", "main.idle"), &s)
	require.Empty(t, s.Spans)
}

func TestPprof(t *testing.T) {
	a := newAPI(t)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+"pprof?"+with(rangeAll, "type", cpu.ID(), "query", `{service_name="api"}`).Encode(), nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/octet-stream", rec.Header().Get("Content-Type"))
	require.Equal(t, []byte{0x1f, 0x8b}, rec.Body.Bytes()[:2]) // gzipped
	p, err := profile.Parse(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err)
	byLeaf := map[string]int64{}
	for _, s := range p.Sample {
		byLeaf[s.Location[0].Line[0].Function.Name] += s.Value[0]
	}
	require.Equal(t, map[string]int64{"main.work": 9e9, "main.idle": 3e9}, byLeaf)
}

func TestBadParameters(t *testing.T) {
	a := newAPI(t)
	for _, c := range []struct {
		path  string
		q     url.Values
		param string
	}{
		{"flamegraph", url.Values{}, `"type"`},
		{"flamegraph", url.Values{"type": {"cpu"}}, `"type"`},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "query": {`{service_name="api"`}}, `"query"`},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "query": {`service_name="api"`}}, `"query"`},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "start": {"yesterday"}}, `"start"`},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "start": {"-5"}}, `"start"`},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "end": {"9999999999999999"}}, `"end"`},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "start": {"now-290y"}}, `"start"`},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "start": {"2026-12-06T13:00:00Z"}, "end": {"2026-12-06T12:00:00Z"}}, `"end"`},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "max_nodes": {"0"}}, `"max_nodes"`},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "span_id": {"xyz"}}, `"span_id"`},
		{"flamegraph", url.Values{"type": {cpu.ID()}, "sevice": {"x"}}, `"sevice"`},
		{"diff", url.Values{"type": {cpu.ID()}, "left_query": {"{"}}, `"left_query"`},
		{"diff", url.Values{"type": {cpu.ID()}, "right_start": {"x"}}, `"right_start"`},
		{"series", url.Values{"type": {cpu.ID()}, "step": {"0"}}, `"step"`},
		{"series", url.Values{"type": {cpu.ID()}, "step": {"1ms"}}, `"step"`},
		{"spans", url.Values{"type": {cpu.ID()}}, `"function"`},
		{"spans", url.Values{"type": {cpu.ID()}, "function": {"f"}, "limit": {"-1"}}, `"limit"`},
		{"labels", url.Values{"type": {"a:b"}}, `"type"`},
		{"pprof", url.Values{}, `"type"`},
	} {
		code, msg := get(t, a, c.path, c.q, nil)
		require.Equal(t, http.StatusBadRequest, code, "%s %v: %s", c.path, c.q, msg)
		require.Contains(t, msg, c.param, "%s %v", c.path, c.q)
	}
	code, msg := get(t, a, "nothing", nil, nil)
	require.Equal(t, http.StatusNotFound, code, msg)

	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Prefix+"types", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestSelectors(t *testing.T) {
	for _, s := range []string{"", "{}", " {} ", `{service_name="api"}`, `{env=~".*"}`, `{env=~".*",}`, `process_cpu{env!=""}`} {
		_, err := ParseSelector(s)
		require.NoError(t, err, s)
	}
	ms, err := ParseSelector(`{env=~".*", service_name="api"}`)
	require.NoError(t, err)
	require.Len(t, ms, 2)
	for _, s := range []string{"{", `{a="b"`, `{a=b}`, `{1a="b"}`, `a b`} {
		_, err := ParseSelector(s)
		require.Error(t, err, s)
	}
}

func TestStoreErrors(t *testing.T) {
	m := testData(t)
	a := New(m, nil)
	m.Err = errors.New("disk on fire")
	code, msg := get(t, a, "flamegraph", with(rangeAll, "type", cpu.ID()), nil)
	require.Equal(t, http.StatusInternalServerError, code)
	require.Contains(t, msg, "disk on fire")

	m.Err = context.DeadlineExceeded
	code, _ = get(t, a, "types", rangeAll, nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
}

func TestTargets(t *testing.T) {
	var got struct{ Targets []pprofscrape.Target }
	// Without pull mode, an empty list.
	code, _ := get(t, newAPI(t), "targets", nil, &got)
	require.Equal(t, http.StatusOK, code)
	require.NotNil(t, got.Targets)
	require.Empty(t, got.Targets)

	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	a := newAPI(t).WithTargets(func() []pprofscrape.Target {
		return []pprofscrape.Target{{Job: "api", URL: "http://10.0.0.1:6060/debug/pprof/heap", Type: "heap",
			Labels: map[string]string{"service_name": "api"}, Health: "down", LastScrape: &at, LastScrapeDuration: 0.5, LastError: "503 Service Unavailable"}}
	})
	var raw struct{ Targets []map[string]any }
	code, _ = get(t, a, "targets", nil, &raw)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []map[string]any{{"job": "api", "url": "http://10.0.0.1:6060/debug/pprof/heap", "type": "heap",
		"labels": map[string]any{"service_name": "api"}, "health": "down", "last_scrape": "2026-12-07T03:00:00Z",
		"last_scrape_duration_seconds": 0.5, "last_error": "503 Service Unavailable"}}, raw.Targets)
	code, body := get(t, a, "targets", url.Values{"job": {"api"}}, nil)
	require.Equal(t, http.StatusBadRequest, code, body)
}
