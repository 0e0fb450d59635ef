package loki

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzQueryParams sends arbitrary query strings to the query, query_range, labels and series
// routes: the answer is a success or a client error (4xx), never a 5xx or a panic. Query
// timeouts are the one 5xx allowed, and with a few records none happens.
func FuzzQueryParams(f *testing.F) {
	for _, s := range []string{
		`query={service_name="api"}`,
		`query=sum(rate({service_name="api"}[1m]))&start=0&end=100&step=10`,
		`query={a="b"}|json|line_format"{{.x}}"&limit=5&direction=forward`,
		`query={a=~"(("}&since=1h`, `start=1e400&end=-1`, `step=0&query=1`, `%zz`, `limit=-1`,
		`query=count_over_time({a="b"}[1y])&step=1ms&start=0&end=1e18`,
		`query={service_name="ap%97i"}`, `query={service_name="api"}|x="%97"`, // not UTF-8: DuckDB will not bind it
	} {
		f.Add(s)
	}
	_, st := newServer(f)
	writeLogs(f, st, "api", t0, 20, func(i int) string { return `{"level":"info","x":` + strings.Repeat("1", i%5+1) + `}` })
	h := NewHandler(st.LogQL(), DefaultOptions(), nil, nil)
	h.now = func() time.Time { return t0.Add(time.Minute) }
	f.Fuzz(func(t *testing.T, raw string) {
		for _, path := range []string{"/loki/api/v1/query", "/loki/api/v1/query_range", "/loki/api/v1/labels", "/loki/api/v1/series"} {
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

// FuzzTailParams checks the parameters of /tail as it does before the websocket upgrade:
// an error or nil, never a panic.
func FuzzTailParams(f *testing.F) {
	for _, s := range []string{`query={a="b"}`, `query={a="b"}&delay_for=5&limit=10&start=0`, `query=rate({a="b"}[1m])`,
		`delay_for=-1`, `query={a="b"}&start=notatime`, `%zz`} {
		f.Add(s)
	}
	h := NewHandler(nil, DefaultOptions(), nil, nil)
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest(http.MethodGet, "/loki/api/v1/tail", nil)
		req.URL.RawQuery = raw
		_ = h.checkTail(req)
	})
}
