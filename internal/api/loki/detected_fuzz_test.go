package loki

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzLineFields feeds arbitrary lines to the json/logfmt field detection and the
// pattern tokenizer: no panic, and every field has a name and a value.
func FuzzLineFields(f *testing.F) {
	for _, s := range []string{`level=info msg="a b" d=1ms`, `{"a":{"b":[1,2]},"c":null,"d":1e400}`, `k="unterminated`,
		`=x ==y "q\"x" a=`, `{"a":`, strings.Repeat(`{"a":`, 200), "\t \"\\", `x="\xff"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		fields, parser := parseLineFields(line)
		for _, p := range fields {
			if p.name == "" || parser == "" {
				t.Fatalf("%q: empty name or parser in %+v (%q)", line, p, parser)
			}
			_ = typeName(valueTypes(p.value))
		}
		toks := tokenize(line)
		for _, tok := range toks {
			if tok == "" || !strings.Contains(line, tok) {
				t.Fatalf("%q: bad token %q", line, tok)
			}
		}
		if len(toks) > 0 {
			d := &drain{groups: map[string][]*patternCluster{}}
			d.add(toks, "", 0)
			d.add(toks, "", 0)
			if r := d.results(); len(r) != 1 || r[0].total != 2 {
				t.Fatalf("%q: %+v", line, r)
			}
		}
	})
}

// FuzzDetectedParams sends arbitrary query strings to detected_fields, detected_field
// values, patterns and the volume endpoints: a success or a 4xx, never a 5xx or a panic.
func FuzzDetectedParams(f *testing.F) {
	for _, s := range []string{`query={service_name="api"}`, `query={service_name="api"}|="x"&line_limit=5&limit=1`,
		`query={service_name="api"}&step=1ms&start=0&end=1e18`, `query=rate({a="b"}[1m])`, `aggregateBy=labels&targetLabels=,a,&query={a="b"}`,
		`limit=-1`, `%zz`, `step=-5s&query={a="b"}`} {
		f.Add(s)
	}
	_, st := newServer(f)
	writeLogs(f, st, "api", t0, 20, func(i int) string { return `{"level":"info","x":` + strings.Repeat("1", i%5+1) + `}` })
	h := NewHandler(st.LogQL(), DefaultOptions(), nil, nil)
	h.now = func() time.Time { return t0.Add(time.Minute) }
	f.Fuzz(func(t *testing.T, raw string) {
		for _, path := range []string{"/loki/api/v1/detected_fields", "/loki/api/v1/detected_field/x/values", "/loki/api/v1/patterns",
			"/loki/api/v1/index/volume", "/loki/api/v1/index/volume_range"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.URL.RawQuery = raw
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 && rec.Code != http.StatusGatewayTimeout {
				t.Fatalf("%s?%s: %d %s", path, raw, rec.Code, rec.Body.String())
			}
		}
	})
}
