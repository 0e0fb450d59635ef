package tempo

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/api/tempo/internal/testtraces"
)

// TestSearchTraceQL runs the TraceQL Grafana's query builder and users write beyond one
// filter over the seeded store: the checkout trace (api "GET /users", server, calls db
// "SELECT", client, error) and the job trace (worker "job", internal, ok).
func TestSearchTraceQL(t *testing.T) {
	a, _ := newTestAPI(t)
	const both, checkout, job = "both", testtraces.CheckoutID, testtraces.JobID
	f := func(want, q string) {
		t.Helper()
		wantIDs := []string{}
		switch want {
		case both:
			wantIDs = []string{job, checkout}
		case "":
		default:
			wantIDs = []string{want}
		}
		require.Equal(t, wantIDs, search(t, a, url.Values{"q": {q}}), q)
	}
	// != does not match a span without the attribute: the job span has no http.route.
	f(checkout, `{ span.http.route != "/x" }`)
	f(checkout, `{ .http.route !~ "/x.*" }`)
	f(job, `{ span.job.queue != nil }`)
	f(both, `{ .http.route = nil }`)
	// Intrinsics and numeric comparison.
	f(checkout, `{ kind = server }`)
	f(job, `{ status = ok }`)
	f(checkout, `{ status != ok && status != unset }`)
	f(checkout, `{ statusMessage = "timeout" }`)
	f(checkout, `{ span.http.status_code >= 500 }`)
	f("", `{ span.http.status_code > 500 }`)
	f(checkout, `{ span.db.rows < 2 && span.db.rows > 1.4 }`)
	f(checkout, `{ traceDuration > 100ms }`)
	f(checkout, `{ rootServiceName = "api" && resource.service.name = "db" }`)
	f(checkout, `{ rootName =~ "GET.*" && name = "SELECT" }`)
	f(checkout, `{ name =~ "GET.*|SELECT" }`)
	f(both, `{ .http.route = "/users" || name = "job" }`)
	// Structural operators, && and || between spansets, pipelines.
	f(checkout, `{ resource.service.name = "api" } > { resource.service.name = "db" }`)
	f("", `{ resource.service.name = "db" } > { resource.service.name = "api" }`)
	f(checkout, `{ .service.name = "db" } < { .service.name = "api" }`)
	f(checkout, `{ name = "GET /users" } >> { status = error }`)
	f(job, `{ } !< { status = ok }`)
	f(checkout, `{ kind = server } && { kind = client }`)
	f(both, `{ kind = server } || { name = "job" }`)
	f(checkout, `{ } | count() > 1`)
	f(job, `{ } | count() = 1`)
	f(checkout, `{ } | avg(duration) > 100ms`)
	f(job, `{ } | max(duration) < 50ms`)
	f(checkout, `{ kind = client } | select(span.db.system)`)

	// Span sets list the matched spans, the first spss of them, with the fields the query
	// names and those select() adds.
	code, _, body := get(t, a, "/api/search?q="+url.QueryEscape(`{ duration > 50ms } | select(resource.service.name, kind)`)+"&spss=1")
	require.Equal(t, http.StatusOK, code, string(body))
	var resp searchResponse
	require.NoError(t, json.Unmarshal(body, &resp))
	require.Len(t, resp.Traces, 1)
	set := resp.Traces[0].SpanSets[0]
	require.Equal(t, 2, set.Matched)
	require.Len(t, set.Spans, 1)
	require.Equal(t, []attrJSON{
		{Key: "service.name", Value: map[string]any{"stringValue": "api"}},
		{Key: "kind", Value: map[string]any{"stringValue": "server"}},
	}, set.Spans[0].Attributes)
	require.Equal(t, 1, resp.Metrics.InspectedTraces, "the store pre-filters on duration: the job trace is not fetched")
}
