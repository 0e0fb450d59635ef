package tempo

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/tempo/internal/testtraces"
	"github.com/loupe-dev/loupe/internal/store"
)

func getJSON(t *testing.T, h http.Handler, target string, into any) {
	t.Helper()
	code, ct, body := get(t, h, target)
	require.Equal(t, http.StatusOK, code, string(body))
	require.Equal(t, "application/json", ct)
	require.NoError(t, json.Unmarshal(body, into), string(body))
}

func TestTagNames(t *testing.T) {
	a, _ := newTestAPI(t)
	var v1 tagNamesV1
	getJSON(t, a, "/api/search/tags", &v1)
	require.Equal(t, []string{"db.rows", "db.system", "host.name", "http.route", "http.status_code", "job.queue", "retry", "service.name"}, v1.TagNames)

	var v2 tagNamesV2
	getJSON(t, a, "/api/v2/search/tags", &v2)
	require.Equal(t, []tagScope{
		{Name: "resource", Tags: []string{"host.name", "service.name"}},
		{Name: "span", Tags: []string{"db.rows", "db.system", "http.route", "http.status_code", "job.queue", "retry"}},
		{Name: "intrinsic", Tags: []string{"duration", "kind", "name", "rootName", "rootServiceName", "status", "statusMessage", "traceDuration"}},
	}, v2.Scopes)

	v2 = tagNamesV2{}
	getJSON(t, a, "/api/v2/search/tags?scope=resource", &v2)
	require.Equal(t, []tagScope{{Name: "resource", Tags: []string{"host.name", "service.name"}}}, v2.Scopes)

	// The default range is the hour before now; an older range holds no spans.
	base := testtraces.Base.Unix()
	v1 = tagNamesV1{}
	getJSON(t, a, "/api/search/tags?start="+strconv.FormatInt(base-7200, 10)+"&end="+strconv.FormatInt(base-3600, 10), &v1)
	require.Equal(t, []string{"service.name"}, v1.TagNames)

	code, _, body := get(t, a, "/api/v2/search/tags?scope=event")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, string(body), `parameter scope: "event"`)
}

func TestTagValues(t *testing.T) {
	a, _ := newTestAPI(t)
	v1 := func(tag string) []string {
		t.Helper()
		var out tagValuesV1
		getJSON(t, a, "/api/search/tag/"+tag+"/values", &out)
		return out.TagValues
	}
	require.Equal(t, []string{"api", "db", "worker"}, v1("service.name"))
	require.Equal(t, []string{"500"}, v1("http.status_code"))
	require.Equal(t, []string{"web-1"}, v1("host.name"))
	require.Equal(t, []string{}, v1("no.such.attr"))

	v2 := func(tag string) []typedValue {
		t.Helper()
		var out tagValuesV2
		getJSON(t, a, "/api/v2/search/tag/"+tag+"/values", &out)
		return out.TagValues
	}
	s := func(vals ...string) []typedValue {
		out := []typedValue{}
		for _, v := range vals {
			out = append(out, typedValue{Type: "string", Value: v})
		}
		return out
	}
	require.Equal(t, s("api", "db", "worker"), v2("resource.service.name"))
	require.Equal(t, s("/users"), v2("span.http.route"))
	require.Equal(t, s(), v2("resource.http.route"), "scoped lookups do not cross scopes")
	require.Equal(t, s("/users"), v2(".http.route"))
	require.Equal(t, s("GET /users", "SELECT", "job"), v2("name"))
	require.Equal(t, []typedValue{{Type: "keyword", Value: "error"}, {Type: "keyword", Value: "ok"}, {Type: "keyword", Value: "unset"}}, v2("status"))

	require.Equal(t, []typedValue{{Type: "keyword", Value: "client"}, {Type: "keyword", Value: "consumer"},
		{Type: "keyword", Value: "internal"}, {Type: "keyword", Value: "producer"}, {Type: "keyword", Value: "server"},
		{Type: "keyword", Value: "unspecified"}}, v2("kind"))
	require.Equal(t, s("api", "db", "worker"), v2("rootServiceName"))

	code, _, body := get(t, a, "/api/v2/search/tag/event.name/values")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, string(body), `tag "event.name"`)
}

// plainReader hides the TagReader capability of a store.
type plainReader struct{ store.TraceReader }

func TestTagsWithoutTagReader(t *testing.T) {
	_, st := newTestAPI(t)
	a := New(plainReader{st}, nil)
	a.now = func() time.Time { return testtraces.Base.Add(10 * time.Minute) }
	var v1 tagNamesV1
	getJSON(t, a, "/api/search/tags", &v1)
	require.Equal(t, []string{"service.name"}, v1.TagNames)
	var vals tagValuesV1
	getJSON(t, a, "/api/search/tag/service.name/values", &vals)
	require.Equal(t, []string{"api", "db", "worker"}, vals.TagValues)
	vals = tagValuesV1{}
	getJSON(t, a, "/api/search/tag/http.route/values", &vals)
	require.Equal(t, []string{}, vals.TagValues)
}

func TestEchoAndBuildInfo(t *testing.T) {
	a := New(nil, nil)
	code, ct, body := get(t, a, "/api/echo")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "text/plain; charset=utf-8", ct)
	require.Equal(t, "echo", string(body))

	var bi buildInfo
	getJSON(t, a, "/api/status/buildinfo", &bi)
	require.Regexp(t, `^2\.7\.0\+loupe\.[0-9A-Za-z.-]+$`, bi.Version)
	require.NotEmpty(t, bi.GoVersion)

	// Without a trace store the data routes answer 503.
	code, _, body = get(t, a, "/api/search")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, string(body), "no trace store")
}
