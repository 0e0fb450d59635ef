package jaeger

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/internal/store"
)

const (
	defaultLimit    = 20
	maxLimit        = 1000 // store.TraceQuery caps here too
	defaultLookback = time.Hour
)

func (a *API) services(r *http.Request) result {
	s, err := a.traces.Services(r.Context())
	if err != nil {
		return result{err: fmt.Errorf("list services: %w", err)}
	}
	return result{data: s, total: len(s)}
}

// serviceOperations serves /api/services/<s>/operations: span names as strings.
func (a *API) serviceOperations(r *http.Request) result {
	names, err := a.traces.SpanNames(r.Context(), r.PathValue("service"))
	if err != nil {
		return result{err: fmt.Errorf("list operations: %w", err)}
	}
	return result{data: names, total: len(names)}
}

type operation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

// operations serves /api/operations?service=<s>&spanKind=<k>: operations as
// {name, spanKind}, one per kind a name was seen with (operationsWithKinds).
func (a *API) operations(r *http.Request) result {
	v := r.URL.Query()
	svc := v.Get("service")
	if svc == "" {
		return result{err: badRequest("parameter 'service' is required")}
	}
	ops, err := a.operationsWithKinds(r.Context(), svc, v.Get("spanKind"))
	if err != nil {
		return result{err: err}
	}
	return result{data: ops, total: len(ops)}
}

// getTrace serves /api/traces/<id>.
func (a *API) getTrace(r *http.Request) result {
	id, err := parseTraceID(r.PathValue("id"))
	if err != nil {
		return result{err: badRequest("%v", err)}
	}
	td, err := a.traces.GetTrace(r.Context(), id)
	if err != nil {
		return result{err: fmt.Errorf("get trace %s: %w", id, err)}
	}
	return result{data: []jTrace{toJaeger(td)}, total: 1}
}

// findTraces serves /api/traces?service=&operation=&tags=&minDuration=&maxDuration=
// &start=&end=&limit= (start/end in microseconds), or ?traceID=a&traceID=b for a list
// of ids. Each result is a whole trace.
func (a *API) findTraces(r *http.Request) result {
	v := r.URL.Query()
	if ids := v["traceID"]; len(ids) > 0 {
		return a.tracesByID(r, ids)
	}
	q, err := a.traceQuery(v)
	if err != nil {
		return result{err: err}
	}
	var ids []pcommon.TraceID
	for s, err := range a.traces.FindTraces(r.Context(), q) {
		if err != nil {
			return result{err: fmt.Errorf("find traces: %w", err)}
		}
		if len(ids) == q.Limit {
			break
		}
		ids = append(ids, s.TraceID)
	}
	out := make([]jTrace, 0, len(ids))
	for _, id := range ids {
		td, err := a.traces.GetTrace(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			continue // dropped by retention between search and fetch
		}
		if err != nil {
			return result{err: fmt.Errorf("get trace %s: %w", id, err)}
		}
		out = append(out, toJaeger(td))
	}
	return result{data: out, total: len(out), limit: q.Limit}
}

func (a *API) tracesByID(r *http.Request, raw []string) result {
	out := []jTrace{}
	for _, s := range raw {
		id, err := parseTraceID(s)
		if err != nil {
			return result{err: badRequest("parameter traceID: %v", err)}
		}
		td, err := a.traces.GetTrace(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return result{err: fmt.Errorf("get trace %s: %w", id, err)}
		}
		out = append(out, toJaeger(td))
	}
	return result{data: out, total: len(out)}
}

// traceQuery reads Jaeger's search parameters.
func (a *API) traceQuery(v url.Values) (store.TraceQuery, error) {
	q := store.TraceQuery{Service: v.Get("service"), SpanName: v.Get("operation")}
	tags, err := parseTags(v)
	if err != nil {
		return q, err
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		val := tags[k]
		if k == "error" && val == "true" {
			q.ErrorsOnly = true
			continue
		}
		q.Attrs = append(q.Attrs, store.AttrFilter{Key: k, Op: store.MatchEqual, Value: val})
	}
	if q.MinDuration, err = durationParam(v, "minDuration"); err != nil {
		return q, err
	}
	if q.MaxDuration, err = durationParam(v, "maxDuration"); err != nil {
		return q, err
	}
	if q.MaxDuration > 0 && q.MaxDuration < q.MinDuration {
		return q, badRequest("maxDuration %s is less than minDuration %s", q.MaxDuration, q.MinDuration)
	}
	q.Limit = defaultLimit
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, badRequest("parameter limit: %q is not a non-negative integer", clip(s))
		}
		if n > 0 {
			q.Limit = min(n, maxLimit)
		}
	}
	end := a.now()
	if s := v.Get("end"); s != "" {
		if end, err = microsParam("end", s); err != nil {
			return q, err
		}
	}
	lookback := defaultLookback
	if s := v.Get("lookback"); s != "" && s != "custom" {
		if lookback, err = time.ParseDuration(s); err != nil || lookback <= 0 {
			return q, badRequest("parameter lookback: %q is not a duration such as 1h", clip(s))
		}
	}
	start := end.Add(-lookback)
	if s := v.Get("start"); s != "" {
		if start, err = microsParam("start", s); err != nil {
			return q, err
		}
	}
	if !start.Before(end) {
		return q, badRequest("start %d is not before end %d", start.UnixMicro(), end.UnixMicro())
	}
	q.Start, q.End = start, end.Add(time.Microsecond) // Jaeger's end is inclusive
	return q, nil
}

// parseTags reads tags={"k":"v",...} (what the Jaeger UI and Grafana send) and the older
// repeated tag=k:v form. JSON values may be strings, numbers or booleans.
func parseTags(v url.Values) (map[string]string, error) {
	tags := map[string]string{}
	if s := v.Get("tags"); s != "" {
		var raw map[string]any
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			return nil, badRequest("parameter tags: want a JSON object such as {\"http.status_code\":\"500\"}: %v", err)
		}
		for k, val := range raw {
			switch x := val.(type) {
			case string:
				tags[k] = x
			case float64:
				tags[k] = strconv.FormatFloat(x, 'f', -1, 64)
			case bool:
				tags[k] = strconv.FormatBool(x)
			default:
				return nil, badRequest("parameter tags: value of %q must be a string, number or boolean", clip(k))
			}
		}
	}
	for _, kv := range v["tag"] {
		k, val, ok := strings.Cut(kv, ":")
		if !ok || k == "" {
			return nil, badRequest("parameter tag: %q, want key:value", clip(kv))
		}
		tags[k] = val
	}
	return tags, nil
}

func durationParam(v url.Values, name string) (time.Duration, error) {
	s := v.Get(name)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, badRequest("parameter %s: %q is not a duration such as 100ms or 1.5s", name, clip(s))
	}
	return d, nil
}

func microsParam(name, s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, badRequest("parameter %s: %q is not unix microseconds", name, clip(s))
	}
	return time.UnixMicro(n), nil
}

// parseTraceID accepts 1 to 32 hex digits, left-padded with zeros (Jaeger prints 64-bit
// ids as 16 digits).
func parseTraceID(s string) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	if s == "" || len(s) > 32 {
		return id, fmt.Errorf("trace id %q: want 1 to 32 hex digits", clip(s))
	}
	if _, err := hex.Decode(id[:], []byte(strings.Repeat("0", 32-len(s))+s)); err != nil || id.IsEmpty() {
		return id, fmt.Errorf("trace id %q: want 1 to 32 hex digits, not all zeros", clip(s))
	}
	return id, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
