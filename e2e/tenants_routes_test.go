package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/google/pprof/profile"
	querierv1 "github.com/grafana/pyroscope/api/gen/proto/go/querier/v1"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/websocket"

	dashapi "github.com/loupe-dev/loupe/internal/api/dashboards"
	lokiapi "github.com/loupe-dev/loupe/internal/api/loki"
	"github.com/loupe-dev/loupe/internal/api/native"
	"github.com/loupe-dev/loupe/internal/api/profiles"
	"github.com/loupe-dev/loupe/internal/api/tempo"
	"github.com/loupe-dev/loupe/internal/api/tempo/jaeger"
)

// owner says whose data a route returns, so whose marker its answer must hold.
type owner int

const (
	ownNone    owner = iota // no tenant data that carries a marker (status, counts, formatting)
	ownEach                 // every tenant's own data
	ownDefault              // the default tenant's only (scrapes, rules: not the other tenants')
)

// tenantReq is one request of a route for one tenant.
type tenantReq struct {
	method, path, contentType string
	body                      []byte
}

func get(path string) tenantReq { return tenantReq{method: "GET", path: path} }

// isoRoute is a read route of the HTTP port and how TestTenants checks it.
type isoRoute struct {
	route string                        // the path pattern, each parameter written {}
	own   owner                         // whose marker the answer must hold
	req   func(c *tenantData) tenantReq // the request that reads c's data
	// byID: the route names one item (trace, run, issue, event, dashboard) by its id, and
	// another tenant's id is not found (404).
	byID bool
	// foreignEmpty, for a route answering counts rather than names: what the answer to a
	// request for another tenant's data (its service) holds, and the answer to one for the
	// reader's own data must not.
	foreignEmpty string
	// anyStatus: a tenant without such data may answer an error (a rule namespace that only
	// the default tenant has, an endpoint the default tenant alone serves).
	anyStatus bool
	// fetch replaces the plain HTTP request (a websocket, a binary answer): it returns the
	// status and the text to look for markers in.
	fetch func(e *tenantEnv, r tenantReq, tok, org string) (int, string)
}

const pyroCPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

// tenantRoutes is every read route of the HTTP port. TestTenantsRouteTableIsComplete
// fails when the docs or the API packages name a read route that is not here.
func tenantRoutes(logqlNamespace string) []isoRoute {
	now := time.Now()
	sec := func(d time.Duration) string { return fmt.Sprint(now.Add(d).Unix()) }
	promRange := "&start=" + sec(-10*time.Minute) + "&end=" + sec(time.Minute)
	all := url.QueryEscape(`{__name__=~".+"}`)
	lokiAll := url.QueryEscape(`{service_name=~".+"}`)
	q := func(s string) string { return url.QueryEscape(s) }
	fixed := func(path string) func(*tenantData) tenantReq {
		return func(*tenantData) tenantReq { return get(path) }
	}
	pyro := func(method, body string) func(*tenantData) tenantReq {
		return func(c *tenantData) tenantReq {
			ms := func(d time.Duration) string { return fmt.Sprint(now.Add(d).UnixMilli()) }
			b := strings.NewReplacer("START", ms(-10*time.Minute), "END", ms(time.Minute), "SVC", "app-"+c.mark, "TYPE", pyroCPU).Replace(body)
			return tenantReq{method: "POST", path: "/querier.v1.QuerierService/" + method, contentType: "application/json", body: []byte(b)}
		}
	}
	prof := func(route, params string) isoRoute {
		return isoRoute{route: profiles.Prefix + route, own: ownEach, req: func(c *tenantData) tenantReq {
			return get(profiles.Prefix + strings.ReplaceAll(route, "{}", "service_name") + "?" + params + "&" + pyroRange(now))
		}}
	}
	routes := []isoRoute{
		// Prometheus' API (the remote-written and OTLP metrics, their metadata and exemplars).
		{route: "/api/v1/query", own: ownEach, req: fixed("/api/v1/query?query=" + all)},
		{route: "/api/v1/query", own: ownEach, req: func(c *tenantData) tenantReq { // a tenant's metric by name
			return get("/api/v1/query?query=" + q("e2e_"+c.mark+"_requests_total"))
		}},
		{route: "/api/v1/query_range", own: ownEach, req: fixed("/api/v1/query_range?step=15&query=" + all + promRange)},
		{route: "/api/v1/query_exemplars", own: ownEach, req: fixed("/api/v1/query_exemplars?query=" + all + promRange)},
		{route: "/api/v1/series", own: ownEach, req: fixed("/api/v1/series?match[]=" + all + promRange)},
		{route: "/api/v1/labels", own: ownEach, req: fixed("/api/v1/labels?" + promRange[1:])},
		{route: "/api/v1/label/{}/values", own: ownEach, req: fixed("/api/v1/label/__name__/values?" + promRange[1:])},
		{route: "/api/v1/metadata", own: ownEach, req: fixed("/api/v1/metadata")},
		{route: "/api/v1/format_query", own: ownNone, req: fixed("/api/v1/format_query?query=up")},
		{route: "/api/v1/parse_query", own: ownNone, req: fixed("/api/v1/parse_query?query=up")},
		{route: "/api/v1/status/buildinfo", own: ownNone, req: fixed("/api/v1/status/buildinfo")},
		{route: "/api/v1/status/runtimeinfo", own: ownNone, req: fixed("/api/v1/status/runtimeinfo")},
		{route: "/api/v1/status/flags", own: ownNone, req: fixed("/api/v1/status/flags")},
		{route: "/api/v1/status/tsdb", own: ownEach, req: fixed("/api/v1/status/tsdb")},
		// Served by Prometheus' router though not in docs/metrics.md.
		{route: "/api/v1/status/walreplay", own: ownNone, req: fixed("/api/v1/status/walreplay")},
		{route: "/api/v1/notifications", own: ownNone, anyStatus: true, req: fixed("/api/v1/notifications")},
		{route: "/api/v1/targets/metadata", own: ownNone, anyStatus: true, req: fixed("/api/v1/targets/metadata")},
		{route: "/api/v1/status/config", own: ownDefault, req: fixed("/api/v1/status/config")},
		{route: "/api/v1/targets", own: ownDefault, req: fixed("/api/v1/targets")},
		{route: "/api/v1/scrape_pools", own: ownDefault, req: fixed("/api/v1/scrape_pools")},
		{route: "/api/v1/rules", own: ownDefault, req: fixed("/api/v1/rules")},
		{route: "/api/v1/alerts", own: ownDefault, req: fixed("/api/v1/alerts")},
		{route: "/api/v1/alertmanagers", own: ownNone, req: fixed("/api/v1/alertmanagers")},
		{route: "/api/v1/read", own: ownEach, req: fixed("/api/v1/read"), fetch: remoteRead},
		{route: "/metrics", own: ownNone, req: fixed("/metrics")},
		// The embedded Alertmanager is the default tenant's (off here: no alerting section).
		{route: "/alertmanager/api/v2/alerts", own: ownNone, anyStatus: true, req: fixed("/alertmanager/api/v2/alerts")},
		{route: "/alertmanager/api/v2/silences", own: ownNone, anyStatus: true, req: fixed("/alertmanager/api/v2/silences")},
		{route: "/alertmanager/api/v2/silence/{}", own: ownNone, anyStatus: true, req: fixed("/alertmanager/api/v2/silence/00000000-0000-0000-0000-000000000000")},

		// Loki's API (the pushed streams and the OTLP logs).
		{route: "/loki/api/v1/query", own: ownEach, req: fixed("/loki/api/v1/query?query=" + q(`sum by (service_name) (count_over_time({service_name=~".+"}[10m]))`))},
		{route: "/loki/api/v1/query_range", own: ownEach, req: fixed("/loki/api/v1/query_range?limit=1000&query=" + lokiAll)},
		{route: "/loki/api/v1/labels", own: ownEach, req: fixed("/loki/api/v1/labels")},
		{route: "/loki/api/v1/label", own: ownEach, req: fixed("/loki/api/v1/label")},
		{route: "/loki/api/v1/label/{}/values", own: ownEach, req: fixed("/loki/api/v1/label/service_name/values")},
		{route: "/loki/api/v1/series", own: ownEach, req: fixed("/loki/api/v1/series?match[]=" + lokiAll)},
		{route: "/loki/api/v1/index/stats", own: ownNone, foreignEmpty: `"streams":0,`, req: func(c *tenantData) tenantReq {
			return get("/loki/api/v1/index/stats?query=" + q(`{service_name="`+c.service()+`"}`))
		}},
		{route: "/loki/api/v1/index/volume", own: ownEach, req: fixed("/loki/api/v1/index/volume?query=" + lokiAll)},
		{route: "/loki/api/v1/index/volume_range", own: ownEach, req: fixed("/loki/api/v1/index/volume_range?step=60&query=" + lokiAll + promRange)},
		{route: "/loki/api/v1/detected_labels", own: ownEach, req: fixed("/loki/api/v1/detected_labels?query=" + lokiAll)},
		{route: "/loki/api/v1/detected_fields", own: ownEach, req: fixed("/loki/api/v1/detected_fields?query=" + lokiAll)},
		{route: "/loki/api/v1/detected_field/{}/values", own: ownEach, req: fixed("/loki/api/v1/detected_field/who/values?query=" + lokiAll)},
		{route: "/loki/api/v1/patterns", own: ownEach, req: fixed("/loki/api/v1/patterns?query=" + lokiAll)},
		{route: "/loki/api/v1/format_query", own: ownNone, req: fixed("/loki/api/v1/format_query?query=" + lokiAll)},
		{route: "/loki/api/v1/status/buildinfo", own: ownNone, req: fixed("/loki/api/v1/status/buildinfo")},
		{route: "/loki/api/v1/tail", own: ownEach, req: fixed("/loki/api/v1/tail?query=" + lokiAll + "&start=" + fmt.Sprint(now.Add(-10*time.Minute).UnixNano())), fetch: lokiTail},

		// Tempo's API (the spans).
		{route: "/api/traces/{}", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get("/api/traces/" + c.trace.String()) }},
		{route: "/api/v2/traces/{}", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get("/api/v2/traces/" + c.trace.String()) }},
		{route: "/api/search", own: ownEach, req: fixed("/api/search?limit=100&q=" + q("{}") + "&start=" + sec(-10*time.Minute) + "&end=" + sec(time.Minute))},
		{route: "/api/search", own: ownEach, req: func(c *tenantData) tenantReq { // a tenant's service in TraceQL
			return get("/api/search?q=" + q(`{resource.service.name="`+c.service()+`"}`) + "&start=" + sec(-10*time.Minute) + "&end=" + sec(time.Minute))
		}},
		{route: "/api/search/tags", own: ownEach, req: fixed("/api/search/tags")},
		{route: "/api/v2/search/tags", own: ownEach, req: fixed("/api/v2/search/tags")},
		{route: "/api/search/tag/{}/values", own: ownEach, req: fixed("/api/search/tag/service.name/values")},
		{route: "/api/v2/search/tag/{}/values", own: ownEach, req: fixed("/api/v2/search/tag/resource.service.name/values")},
		{route: "/api/echo", own: ownNone, req: fixed("/api/echo")},
		{route: "/api/status/buildinfo", own: ownNone, req: fixed("/api/status/buildinfo")},

		// Jaeger's API (the spans).
		{route: "/jaeger/api/services", own: ownEach, req: fixed("/jaeger/api/services")},
		{route: "/jaeger/api/services/{}/operations", own: ownEach, req: func(c *tenantData) tenantReq { return get("/jaeger/api/services/" + c.service() + "/operations") }},
		{route: "/jaeger/api/operations", own: ownEach, req: func(c *tenantData) tenantReq { return get("/jaeger/api/operations?service=" + c.service()) }},
		{route: "/jaeger/api/traces", own: ownEach, req: func(c *tenantData) tenantReq { return get("/jaeger/api/traces?lookback=1h&service=" + c.service()) }},
		{route: "/jaeger/api/traces", own: ownEach, req: func(c *tenantData) tenantReq { return get("/jaeger/api/traces?traceID=" + c.trace.String()) }},
		{route: "/jaeger/api/traces/{}", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get("/jaeger/api/traces/" + c.trace.String()) }},
		{route: "/jaeger/api/dependencies", own: ownNone, req: fixed("/jaeger/api/dependencies?lookback=3600000&endTs=" + fmt.Sprint(now.Add(time.Minute).UnixMilli()))},
		{route: "/jaeger/api/v3/services", own: ownEach, req: fixed("/jaeger/api/v3/services")},
		{route: "/jaeger/api/v3/operations", own: ownEach, req: func(c *tenantData) tenantReq { return get("/jaeger/api/v3/operations?service=" + c.service()) }},
		{route: "/jaeger/api/v3/traces", own: ownEach, req: func(c *tenantData) tenantReq {
			return get("/jaeger/api/v3/traces?query.service_name=" + c.service() + "&query.start_time_min=" + q(now.Add(-10*time.Minute).Format(time.RFC3339)) +
				"&query.start_time_max=" + q(now.Add(time.Minute).Format(time.RFC3339)))
		}},
		{route: "/jaeger/api/v3/traces/{}", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get("/jaeger/api/v3/traces/" + c.trace.String()) }},

		// Loupe's API: logs, traces, runs, issues and events.
		{route: native.Prefix + "logs", own: ownEach, req: fixed(native.Prefix + "logs?limit=1000")},
		{route: native.Prefix + "logs", own: ownEach, req: func(c *tenantData) tenantReq { return get(native.Prefix + "logs?trace_id=" + c.trace.String()) }},
		{route: native.Prefix + "traces", own: ownEach, req: func(c *tenantData) tenantReq { return get(native.Prefix + "traces?service=" + c.service()) }},
		{route: native.Prefix + "logs/counts", own: ownNone, foreignEmpty: `"buckets":[]`, req: func(c *tenantData) tenantReq {
			return get(native.Prefix + "logs/counts?service=" + c.service())
		}},
		{route: native.Prefix + "traces", own: ownEach, req: fixed(native.Prefix + "traces?limit=100")},
		{route: native.Prefix + "traces/{}", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get(native.Prefix + "traces/" + c.trace.String()) }},
		{route: native.Prefix + "services", own: ownEach, req: fixed(native.Prefix + "services")},
		{route: native.Prefix + "services/{}/span_names", own: ownEach, req: func(c *tenantData) tenantReq { return get(native.Prefix + "services/" + c.service() + "/span_names") }},
		{route: native.Prefix + "services/red", own: ownEach, req: fixed(native.Prefix + "services/red")},
		{route: native.Prefix + "runs", own: ownEach, req: fixed(native.Prefix + "runs")},
		{route: native.Prefix + "runs/names", own: ownEach, req: fixed(native.Prefix + "runs/names")},
		{route: native.Prefix + "runs/{}", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get(native.Prefix + "runs/" + c.runID) }},
		{route: native.Prefix + "runs/compare", own: ownEach, byID: true, req: func(c *tenantData) tenantReq {
			return get(native.Prefix + "runs/compare?a=" + c.runID + "&b=" + c.runID)
		}},
		{route: native.Prefix + "issues", own: ownEach, req: fixed(native.Prefix + "issues")},
		{route: native.Prefix + "issues/{}", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get(native.Prefix + "issues/" + c.issue) }},
		{route: native.Prefix + "issues/{}/events", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get(native.Prefix + "issues/" + c.issue + "/events") }},
		{route: native.Prefix + "events/{}", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get(native.Prefix + "events/" + c.event) }},
		{route: native.Prefix + "events", own: ownEach, req: func(c *tenantData) tenantReq { return get(native.Prefix + "events?trace_id=" + c.trace.String()) }},
		{route: native.Prefix + "status", own: ownNone, req: fixed(native.Prefix + "status")},

		// Dashboards.
		{route: dashapi.Prefix, own: ownEach, req: fixed(dashapi.Prefix)},
		{route: dashapi.Prefix + "/{}", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get(dashapi.Prefix + "/" + c.dashID) }},
		{route: dashapi.Prefix + "/{}/export", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get(dashapi.Prefix + "/" + c.dashID + "/export") }},
		{route: dashapi.Prefix + "/{}/versions", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get(dashapi.Prefix + "/" + c.dashID + "/versions") }},
		{route: dashapi.Prefix + "/{}/versions/{}", own: ownEach, byID: true, req: func(c *tenantData) tenantReq { return get(dashapi.Prefix + "/" + c.dashID + "/versions/1") }},

		// Profiles: Loupe's API and Pyroscope's query API (Connect, JSON).
		{route: profiles.Prefix + "types", own: ownNone, req: fixed(profiles.Prefix + "types?" + pyroRange(now))},
		{route: profiles.Prefix + "labels", own: ownNone, req: fixed(profiles.Prefix + "labels?" + pyroRange(now))},
		prof("labels/{}/values", "query="+q("{}")),
		prof("flamegraph", "type="+pyroCPU+"&query="+q("{}")),
		prof("series", "type="+pyroCPU+"&query="+q("{}")+"&group_by=service_name&step=15"),
		{route: profiles.Prefix + "diff", own: ownEach, req: fixed(profiles.Prefix + "diff?type=" + pyroCPU + "&left_query={}&right_query={}&" +
			strings.NewReplacer("start", "left_start", "end", "left_end").Replace(pyroRange(now)) + "&" +
			strings.NewReplacer("start", "right_start", "end", "right_end").Replace(pyroRange(now)))},
		{route: profiles.Prefix + "spans", own: ownNone, req: func(c *tenantData) tenantReq {
			return get(profiles.Prefix + "spans?type=" + pyroCPU + "&function=main.work_" + c.mark + "&" + pyroRange(now))
		}},
		{route: profiles.Prefix + "targets", own: ownDefault, req: fixed(profiles.Prefix + "targets")},
		{route: profiles.Prefix + "pprof", own: ownEach, req: fixed(profiles.Prefix + "pprof?type=" + pyroCPU + "&query=" + q("{}") + "&" + pyroRange(now)), fetch: pprofFunctions},
		{route: "/querier.v1.QuerierService/ProfileTypes", own: ownNone, req: pyro("ProfileTypes", `{"start": START, "end": END}`)},
		{route: "/querier.v1.QuerierService/LabelNames", own: ownNone, req: pyro("LabelNames", `{"start": START, "end": END}`)},
		{route: "/querier.v1.QuerierService/LabelValues", own: ownEach, req: pyro("LabelValues", `{"name": "service_name", "start": START, "end": END}`)},
		{route: "/querier.v1.QuerierService/Series", own: ownEach, req: pyro("Series", `{"matchers": ["{}"], "start": START, "end": END}`)},
		{route: "/querier.v1.QuerierService/SelectMergeStacktraces", own: ownEach, req: pyro("SelectMergeStacktraces", `{"profileTypeID": "TYPE", "labelSelector": "{}", "start": START, "end": END}`)},
		{route: "/querier.v1.QuerierService/SelectMergeSpanProfile", own: ownNone, anyStatus: true, req: pyro("SelectMergeSpanProfile", `{"profileTypeID": "TYPE", "labelSelector": "{}", "spanSelector": ["0102030405060708"], "start": START, "end": END}`)},
		{route: "/querier.v1.QuerierService/SelectMergeProfile", own: ownEach, req: pyro("SelectMergeProfile", `{"profileTypeID": "TYPE", "labelSelector": "{}", "start": START, "end": END}`)},
		{route: "/querier.v1.QuerierService/SelectSeries", own: ownEach, req: pyro("SelectSeries", `{"profileTypeID": "TYPE", "labelSelector": "{}", "groupBy": ["service_name"], "step": 15, "start": START, "end": END}`)},
		{route: "/querier.v1.QuerierService/SelectHeatmap", own: ownNone, anyStatus: true, req: pyro("SelectHeatmap", `{"profileTypeID": "TYPE", "labelSelector": "{}", "step": 15, "start": START, "end": END}`)},
		{route: "/querier.v1.QuerierService/Diff", own: ownEach, req: pyro("Diff", `{"left": {"profileTypeID": "TYPE", "labelSelector": "{}", "start": START, "end": END}, "right": {"profileTypeID": "TYPE", "labelSelector": "{}", "start": START, "end": END}}`)},
		{route: "/querier.v1.QuerierService/GetProfileStats", own: ownNone, req: pyro("GetProfileStats", `{}`)},
		{route: "/querier.v1.QuerierService/AnalyzeQuery", own: ownNone, anyStatus: true, req: pyro("AnalyzeQuery", `{"start": START, "end": END, "query": "{}"}`)},
	}
	// Loki's ruler API: the default tenant's LogQL rules only (logqlNamespace: their file);
	// a tenant without rules gets Loki's 404 "no rule groups found".
	for _, p := range lokiapi.RulePaths {
		p := p
		routes = append(routes, isoRoute{route: normRoute(p), own: ownDefault, anyStatus: true, req: func(*tenantData) tenantReq {
			return get(strings.NewReplacer("{namespace}", url.PathEscape(logqlNamespace), "{group}", "lgrp_qxdfltq").Replace(p))
		}})
	}
	return routes
}

func pyroRange(now time.Time) string {
	return "start=" + fmt.Sprint(now.Add(-10*time.Minute).Unix()) + "&end=" + fmt.Sprint(now.Add(time.Minute).Unix())
}

// remoteRead reads every series of the last 10 minutes with Prometheus' remote read
// protocol and returns their labels.
func remoteRead(e *tenantEnv, _ tenantReq, tok, org string) (int, string) {
	now := time.Now()
	rr := &prompb.ReadRequest{Queries: []*prompb.Query{{
		StartTimestampMs: now.Add(-10 * time.Minute).UnixMilli(), EndTimestampMs: now.Add(time.Minute).UnixMilli(),
		Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_RE, Name: "__name__", Value: ".+"}},
	}}}
	raw, err := rr.Marshal()
	require.NoError(e.t, err)
	code, body := e.do("POST", "/api/v1/read", tok, org, "application/x-protobuf", snappy.Encode(nil, raw))
	if code != http.StatusOK {
		return code, body
	}
	plain, err := snappy.Decode(nil, []byte(body))
	require.NoError(e.t, err)
	var resp prompb.ReadResponse
	require.NoError(e.t, resp.Unmarshal(plain))
	var out strings.Builder
	for _, r := range resp.Results {
		for _, ts := range r.Timeseries {
			for _, l := range ts.Labels {
				fmt.Fprintf(&out, "%s=%s ", l.Name, l.Value)
			}
		}
	}
	return code, out.String()
}

// pprofFunctions fetches a pprof export and returns its function names.
func pprofFunctions(e *tenantEnv, r tenantReq, tok, org string) (int, string) {
	code, body := e.do("GET", r.path, tok, org, "", nil)
	if code != http.StatusOK {
		return code, body
	}
	p, err := profile.ParseData([]byte(body))
	require.NoError(e.t, err)
	var names []string
	for _, f := range p.Function {
		names = append(names, f.Name)
	}
	return code, strings.Join(names, " ")
}

// lokiTail opens Loki's tail websocket and returns its first message, which holds the
// entries since start.
func lokiTail(e *tenantEnv, r tenantReq, tok, org string) (int, string) {
	cfg, err := websocket.NewConfig(strings.Replace(e.s.HTTP, "http://", "ws://", 1)+r.path, e.s.HTTP)
	require.NoError(e.t, err)
	cfg.Header = http.Header{"Authorization": {"Bearer " + tok}}
	if org != "" {
		cfg.Header.Set("X-Scope-OrgID", org)
	}
	conn, err := websocket.DialConfig(cfg)
	if err != nil {
		return 0, err.Error()
	}
	defer conn.Close()
	require.NoError(e.t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	var msg string
	require.NoError(e.t, websocket.Message.Receive(conn, &msg))
	return http.StatusOK, msg
}

// checkTenantRoutes reads every route as each tenant, with its own token, and team-b's
// also with the token bound to none and X-Scope-OrgID: team-b. Each answer holds the
// reader's marker where the route returns such data and never another tenant's; asked
// for another tenant's items (its trace id, run id, service...), a route answers nothing
// of theirs, and 404 for an id.
func checkTenantRoutes(e *tenantEnv) {
	t := e.t
	type reader struct {
		c        *tenantData
		tok, org string
	}
	var readers []reader
	for _, c := range e.all {
		readers = append(readers, reader{c, c.token, ""})
		if c.id == "team-b" {
			readers = append(readers, reader{c, e.unbound, c.id})
		}
	}
	for _, r := range tenantRoutes(e.logqlNamespace) {
		for _, rd := range readers {
			fetch := func(req tenantReq) (int, string) {
				if r.fetch != nil {
					return r.fetch(e, req, rd.tok, rd.org)
				}
				return e.do(req.method, req.path, rd.tok, rd.org, req.contentType, req.body)
			}
			who := fmt.Sprintf("%s as tenant %s (header %q)", r.route, rd.c.id, rd.org)
			req := r.req(rd.c)
			code, body := fetch(req)
			if !r.anyStatus {
				require.Equal(t, http.StatusOK, code, "%s: %s %s: %s", who, req.method, req.path, tail(body, 5))
			}
			if r.own == ownEach || (r.own == ownDefault && rd.c.id == "default") {
				require.Contains(t, body, rd.c.mark, "%s: %s %s: its own data is missing", who, req.method, req.path)
			}
			if r.foreignEmpty != "" {
				require.NotContains(t, body, r.foreignEmpty, "%s: %s %s: its own data is missing", who, req.method, req.path)
			}
			for _, o := range e.others(rd.c) {
				require.NotContains(t, body, o.mark, "%s: %s %s: shows tenant %s's data", who, req.method, req.path, o.id)
				oreq := r.req(o)
				if oreq.path == req.path && bytes.Equal(oreq.body, req.body) {
					continue
				}
				ocode, obody := fetch(oreq)
				if r.byID { // not found, which the error message may say naming the id
					require.Equal(t, http.StatusNotFound, ocode, "%s: %s %s (tenant %s's): %s", who, oreq.method, oreq.path, o.id, tail(obody, 3))
					continue
				}
				require.NotContains(t, obody, o.mark, "%s: %s %s (tenant %s's): shows tenant %s's data", who, oreq.method, oreq.path, o.id, o.id)
				if r.foreignEmpty != "" {
					require.Contains(t, obody, r.foreignEmpty, "%s: %s %s (tenant %s's): counts tenant %s's data", who, oreq.method, oreq.path, o.id, o.id)
				}
			}
		}
	}
}

// normRoute writes a route pattern's parameters ({name}, <name>, :name) as {}.
func normRoute(p string) string {
	return regexp.MustCompile(`\{[^}]*\}|<[^>]*>|:[a-z_]+`).ReplaceAllString(p, "{}")
}

// readPrefixes are the paths under which the HTTP port serves stored data.
var readPrefixes = []string{"/api/v1/", "/loki/api/v1/", "/api/loupe/v1/", "/api/search", "/api/traces/", "/api/v2/",
	"/api/echo", "/api/status/", "/jaeger/api/", "/api/prom/rules", "/prometheus/api/v1/", "/alertmanager/api/v2/",
	"/querier.v1.QuerierService/", "/metrics"}

// notReadRoutes are routes under readPrefixes that read no tenant's data: ingest, the
// UI's sign-in, admin endpoints (answered for the default tenant only by design).
var notReadRoutes = map[string]string{
	"/api/v1/write":                                   "ingest (remote write): Prometheus sends team-a's and team-b's samples",
	"/api/v1/otlp/v1/metrics":                         "ingest (OTLP)",
	"/loki/api/v1/push":                               "ingest: pushed for each tenant",
	"/api/loupe/v1/session":                           "the UI's sign-in",
	"/api/loupe/v1/dashboards/import":                 "a write (POST)",
	"/api/v1/admin/":                                  "admin writes",
	"/alertmanager/api/v2/status":                     "the embedded Alertmanager's status (the default tenant's alerts only; off here)",
	"/api/loupe/v1/dashboards/{}/versions/{}/restore": "a write (POST)",
}

// documentedRoutes lists the routes under readPrefixes that docs/*.md name in backquotes,
// as normalized patterns.
func documentedRoutes() (map[string]string, error) {
	files, err := filepath.Glob("../docs/*.md")
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("docs: %v (%d files)", err, len(files))
	}
	code := regexp.MustCompile("`(?:(GET|POST|PUT|DELETE|HEAD)(?:/POST)? )?([^` ]+)`")
	word := regexp.MustCompile(`^[a-z_]+$`)
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			// A table row may name siblings: "`/api/v1/status/buildinfo`, `runtimeinfo`".
			dir, prevEnd := "", -1
			for _, m := range code.FindAllStringSubmatchIndex(line, -1) {
				method, p := "", line[m[4]:m[5]]
				if m[2] >= 0 {
					method = line[m[2]:m[3]]
				}
				sibling := dir != "" && word.MatchString(p) && line[prevEnd:m[0]] == ", "
				prevEnd = m[1]
				if sibling {
					p = dir + p
				}
				p, _, _ = strings.Cut(p, "?")
				if method == "PUT" || method == "DELETE" || !hasAnyPrefix(p, readPrefixes) {
					if !sibling {
						dir = ""
					}
					continue // a write, or not a path of the read APIs
				}
				dir = p[:strings.LastIndex(p, "/")+1]
				if strings.HasSuffix(p, "...") || strings.HasSuffix(p, "*") || (strings.HasSuffix(p, "/") && p != "/api/v1/admin/") {
					continue // a prefix, not a route
				}
				out[normRoute(p)] = filepath.Base(f)
			}
		}
	}
	return out, nil
}

// registeredRoutes lists the GET routes the API packages register (their source), the
// Tempo and Loki ruler paths, and the methods of Pyroscope's QuerierService.
func registeredRoutes() (map[string]string, error) {
	out := map[string]string{}
	for _, p := range tempo.Paths() {
		out[normRoute(p)] = "tempo.Paths"
	}
	for _, p := range lokiapi.RulePaths {
		out[normRoute(p)] = "loki.RulePaths"
	}
	svc := querierv1.File_querier_v1_querier_proto.Services().ByName("QuerierService")
	for i := 0; i < svc.Methods().Len(); i++ {
		out["/querier.v1.QuerierService/"+string(svc.Methods().Get(i).Name())] = "querier.v1.QuerierService"
	}
	// handle("logs", ...), HandleFunc("/loki/api/v1/query", ...), route("GET "+Prefix+"/{uid}", ...)
	call := regexp.MustCompile(`\.(handle|handleV3|route|HandleFunc|Handle)\(((?:"[^"]*"|Prefix)(?:\s*\+\s*(?:"[^"]*"|Prefix))*)\s*,`)
	for dir, prefix := range map[string]string{"native": native.Prefix, "profiles": profiles.Prefix, "tempo/jaeger": jaeger.Prefix,
		"dashboards": dashapi.Prefix, "loki": lokiapi.Prefix} {
		files, err := filepath.Glob("../internal/api/" + dir + "/*.go")
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			for _, m := range call.FindAllStringSubmatch(string(b), -1) {
				var p string
				for _, part := range regexp.MustCompile(`\s*\+\s*`).Split(m[2], -1) {
					if part == "Prefix" {
						p += prefix
					} else {
						p += strings.Trim(part, `"`)
					}
				}
				if method, rest, ok := strings.Cut(p, " "); ok {
					if method != "GET" {
						continue // writes
					}
					p = rest
				}
				if (m[1] == "handle" || m[1] == "handleV3") && !strings.HasPrefix(p, "/") {
					p = prefix + p
				}
				if p == prefix || p == prefix+"/" || !strings.HasPrefix(p, "/") {
					continue // the catch-all 404
				}
				out[normRoute(p)] = filepath.Base(f)
			}
		}
	}
	return out, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// missingTenantRoutes are the documented or registered read routes that tenantRoutes does
// not check.
func missingTenantRoutes() ([]string, error) {
	// A table pattern's {} matches one path segment: the docs may name a concrete path.
	var have []*regexp.Regexp
	for _, r := range tenantRoutes("") {
		have = append(have, regexp.MustCompile("^"+strings.ReplaceAll(regexp.QuoteMeta(r.route), `\{\}`, "[^/]+")+"$"))
	}
	checked := func(p string) bool {
		for _, re := range have {
			if re.MatchString(p) {
				return true
			}
		}
		return false
	}
	doc, err := documentedRoutes()
	if err != nil {
		return nil, err
	}
	reg, err := registeredRoutes()
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, src := range []map[string]string{doc, reg} {
		for p, where := range src {
			if !checked(p) && notReadRoutes[p] == "" {
				missing = append(missing, p+" ("+where+")")
			}
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// TestTenantsRouteTableIsComplete: every read route that the docs or the API packages name
// is in TestTenants' table, so that a route added later is checked for isolation too.
func TestTenantsRouteTableIsComplete(t *testing.T) {
	missing, err := missingTenantRoutes()
	require.NoError(t, err)
	require.Empty(t, missing, "read routes without a tenant isolation check in tenantRoutes (tenants_routes_test.go)")
}
