package loki

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDetectedFields(t *testing.T) {
	srv, st := newServer(t)
	res := map[string]string{"service.name": "api", "k8s.namespace.name": "shop"}
	writeStream(t, st, res, t0,
		record{line: `level=info msg="user logged in" duration=15ms status=200 size=1.5KB`, level: "INFO", attrs: map[string]any{"user_id": "u-1"}},
		record{line: `level=warn msg="slow" duration=2s status=504 size=200`, level: "WARN", attrs: map[string]any{"user_id": "u-2"}},
		record{line: `{"ok":true,"latency":0.25,"req":{"method":"GET","path":"/a"},"tags":["x"]}`, level: "INFO"},
		record{line: `{"ok":false,"latency":1,"req":{"method":"POST","path":"/a"}}`, level: "INFO"},
		record{line: `plain text without fields`, level: "INFO"},
	)
	rng := url.Values{"start": {ns(t0)}, "end": {ns(t0.Add(time.Minute))}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range rng {
			v[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	code, body := get(t, srv, "/loki/api/v1/detected_fields", with("query", `{service_name="api"}`))
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"limit":1000,"fields":[
		{"label":"detected_level","type":"string","cardinality":2,"parsers":null},
		{"label":"duration","type":"duration","cardinality":2,"parsers":["logfmt"]},
		{"label":"latency","type":"float","cardinality":2,"parsers":["json"],"jsonPath":["latency"]},
		{"label":"level","type":"string","cardinality":2,"parsers":["logfmt"]},
		{"label":"msg","type":"string","cardinality":2,"parsers":["logfmt"]},
		{"label":"ok","type":"boolean","cardinality":2,"parsers":["json"],"jsonPath":["ok"]},
		{"label":"req_method","type":"string","cardinality":2,"parsers":["json"],"jsonPath":["req","method"]},
		{"label":"req_path","type":"string","cardinality":1,"parsers":["json"],"jsonPath":["req","path"]},
		{"label":"size","type":"bytes","cardinality":2,"parsers":["logfmt"]},
		{"label":"status","type":"int","cardinality":2,"parsers":["logfmt"]},
		{"label":"user_id","type":"string","cardinality":2,"parsers":null}]}`, body)

	// The query's filters apply; limit caps the fields (the first seen are kept).
	code, body = get(t, srv, "/loki/api/v1/detected_fields", with("query", `{service_name="api"} |= "slow"`, "limit", "2"))
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"limit":2,"fields":[
		{"label":"detected_level","type":"string","cardinality":1,"parsers":null},
		{"label":"user_id","type":"string","cardinality":1,"parsers":null}]}`, body)

	code, body = get(t, srv, "/loki/api/v1/detected_field/status/values", with("query", `{service_name="api"}`))
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"values":["200","504"],"limit":1000}`, body)
	code, body = get(t, srv, "/loki/api/v1/detected_field/user_id/values", with("query", `{service_name="api"}`, "limit", "1"))
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"values":["u-1"],"limit":1}`, body)

	code, body = get(t, srv, "/loki/api/v1/detected_fields", with("query", `{service_name="none"}`))
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"limit":1000,"fields":[]}`, body)

	for _, c := range []struct {
		path   string
		params url.Values
		msg    string
	}{
		{"/loki/api/v1/detected_fields", with(), "missing LogQL log query"},
		{"/loki/api/v1/detected_fields", with("query", `{a="b"`), "parse error"},
		{"/loki/api/v1/detected_fields", with("query", `rate({a="b"}[1m])`), "want a log query"},
		{"/loki/api/v1/detected_fields", with("query", `{a="b"}`, "line_limit", "x"), "line_limit"},
		{"/loki/api/v1/detected_fields", with("query", `{a="b"}`, "line_limit", "100000"), "over the maximum"},
		{"/loki/api/v1/detected_fields", with("query", `{a="b"}`, "limit", "-1"), "limit"},
		{"/loki/api/v1/detected_field/x/values", with("query", `{a="b"}`, "start", "later"), "cannot parse"},
	} {
		code, body := get(t, srv, c.path, c.params)
		require.Equal(t, http.StatusBadRequest, code, "%s %v: %s", c.path, c.params, body)
		require.Contains(t, body, c.msg)
	}
}

func TestFieldTypes(t *testing.T) {
	f := func(want string, vals ...string) {
		t.Helper()
		fs := &fieldStat{types: -1, values: map[string]bool{}}
		for _, v := range vals {
			fs.add(v)
		}
		require.Equal(t, want, typeName(fs.types), "%q", vals)
	}
	f("int", "1", "-20")
	f("float", "1", "1.5")
	f("boolean", "true", "false")
	f("duration", "10ms", "1h2m")
	f("bytes", "200", "10KB", "1.5 MiB")
	f("string", "10ms", "10KB")
	f("string", "GET")
}
