package jaeger

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// Jaeger's api_v3 HTTP gateway (jaeger-idl proto/api_v3/query_service.proto, served by
// Jaeger v2 under /api/v3/ and used by the current Jaeger UI). Its answers are not in the
// v1 envelope: traces are {"result": <OTLP JSON TracesData>} (the gRPC gateway's
// wrapper), services {"services": [...]}, operations {"operations": [{name, spanKind}]},
// errors {"error": {"httpCode": n, "message": "..."}} with the same HTTP status.
//
// Query parameters follow Jaeger's gateway: the proto3 JSON (camelCase) names, with the
// snake_case names it still accepts as aliases.

// v3Param reads a parameter by its canonical name or its deprecated alias and returns the
// name it was found under, for error messages.
func v3Param(v url.Values, canonical, alias string) (string, string) {
	if s := v.Get(canonical); s != "" {
		return s, canonical
	}
	return v.Get(alias), alias
}

type v3Func func(r *http.Request) (any, error)

func (a *API) handleV3(route string, f v3Func) {
	a.mux.HandleFunc(Prefix+route, func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.logger.Error("panic in Jaeger API handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				a.writeV3Error(w, r, errors.New("internal error (logged on the server)"))
			}
		}()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			a.writeV3Error(w, r, &apiError{status: http.StatusMethodNotAllowed, err: fmt.Errorf("method %s not allowed, use GET", r.Method)})
			return
		}
		if a.traces == nil {
			a.writeV3Error(w, r, &apiError{status: http.StatusServiceUnavailable, err: errors.New("this server has no trace store")})
			return
		}
		data, err := f(r)
		if err != nil {
			a.writeV3Error(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if raw, ok := data.([]byte); ok {
			_, err = w.Write(raw)
		} else {
			err = json.NewEncoder(w).Encode(data)
		}
		if err != nil {
			a.logger.Debug("write response", "path", r.URL.Path, "err", err)
		}
	})
}

type v3Error struct {
	Error v3ErrorDetails `json:"error"`
}

type v3ErrorDetails struct {
	HTTPCode int    `json:"httpCode"`
	Message  string `json:"message"`
}

func (a *API) writeV3Error(w http.ResponseWriter, r *http.Request, err error) {
	aerr := a.classify(r, err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(aerr.status)
	_ = json.NewEncoder(w).Encode(v3Error{Error: v3ErrorDetails{HTTPCode: aerr.status, Message: aerr.err.Error()}})
}

func (a *API) servicesV3(r *http.Request) (any, error) {
	s, err := a.traces.Services(r.Context())
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	return map[string][]string{"services": s}, nil
}

// operationV3 is api_v3.Operation; proto3 JSON leaves out an empty spanKind.
type operationV3 struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind,omitempty"`
}

func (a *API) operationsV3(r *http.Request) (any, error) {
	v := r.URL.Query()
	svc := v.Get("service")
	if svc == "" {
		return nil, badRequest("parameter service is required")
	}
	kind, _ := v3Param(v, "spanKind", "span_kind")
	ops, err := a.operationsWithKinds(r.Context(), svc, kind)
	if err != nil {
		return nil, err
	}
	out := make([]operationV3, len(ops))
	for i, op := range ops {
		out[i] = operationV3(op)
	}
	return map[string][]operationV3{"operations": out}, nil
}

// traceV3 serves /api/v3/traces/{trace_id}. The startTime/endTime hints Jaeger accepts
// are checked but not needed: the store finds a trace by id alone.
func (a *API) traceV3(r *http.Request) (any, error) {
	id, err := parseTraceID(r.PathValue("trace_id"))
	if err != nil {
		return nil, badRequest("malformed parameter trace_id: %v", err)
	}
	v := r.URL.Query()
	for _, p := range [][2]string{{"startTime", "start_time"}, {"endTime", "end_time"}} {
		if _, err := v3Time(v, p[0], p[1]); err != nil {
			return nil, err
		}
	}
	td, err := a.traces.GetTrace(r.Context(), id)
	if err != nil {
		return nil, fmt.Errorf("get trace %s: %w", id, err)
	}
	return tracesV3(td)
}

// tracesV3 encodes td as the gateway's {"result": TracesData} with OTLP JSON (hex ids).
func tracesV3(td ptrace.Traces) ([]byte, error) {
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return nil, fmt.Errorf("encode traces: %w", err)
	}
	return append(append([]byte(`{"result":`), b...), "}\n"...), nil
}

func v3Time(v url.Values, canonical, alias string) (time.Time, error) {
	s, name := v3Param(v, canonical, alias)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badRequest("malformed parameter %s: %q is not an RFC 3339 time", name, clip(s))
	}
	return t, nil
}

// findTracesV3 serves /api/v3/traces?query.serviceName=...&query.startTimeMin=...: the
// matching traces' resource spans in one TracesData, 404 when there are none (as Jaeger).
func (a *API) findTracesV3(r *http.Request) (any, error) {
	q, err := queryV3(r.URL.Query())
	if err != nil {
		return nil, err
	}
	all := ptrace.NewTraces()
	err = a.eachTrace(r.Context(), q, func(td ptrace.Traces) {
		td.ResourceSpans().MoveAndAppendTo(all.ResourceSpans())
	})
	if err != nil {
		return nil, err
	}
	if all.ResourceSpans().Len() == 0 {
		//lint:ignore ST1005 Jaeger's own message, which clients may match
		return nil, &apiError{status: http.StatusNotFound, err: errors.New("No traces found")}
	}
	return tracesV3(all)
}

// queryV3 reads TraceQueryParameters. startTimeMin and startTimeMax are required, as
// Jaeger requires them.
func queryV3(v url.Values) (store.TraceQuery, error) {
	var q store.TraceQuery
	q.Service, _ = v3Param(v, "query.serviceName", "query.service_name")
	q.SpanName, _ = v3Param(v, "query.operationName", "query.operation_name")
	if s := v.Get("query.attributes"); s != "" {
		var attrs map[string]string
		if err := json.Unmarshal([]byte(s), &attrs); err != nil {
			return q, badRequest("malformed parameter query.attributes: want a JSON object of strings such as {\"http.status_code\":\"500\"}: %v", err)
		}
		for _, k := range slices.Sorted(maps.Keys(attrs)) {
			if k == "error" && attrs[k] == "true" {
				q.ErrorsOnly = true
				continue
			}
			q.Attrs = append(q.Attrs, store.AttrFilter{Key: k, Op: store.MatchEqual, Value: attrs[k]})
		}
	}
	start, err := v3Time(v, "query.startTimeMin", "query.start_time_min")
	if err != nil {
		return q, err
	}
	end, err := v3Time(v, "query.startTimeMax", "query.start_time_max")
	if err != nil {
		return q, err
	}
	if start.IsZero() || end.IsZero() {
		return q, badRequest("query.startTimeMin and query.startTimeMax are required")
	}
	if end.Before(start) {
		return q, badRequest("query.startTimeMax %s is before query.startTimeMin %s", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	}
	q.Start, q.End = start, end.Add(1) // the range is inclusive
	for _, d := range []struct {
		canonical, alias string
		dst              *time.Duration
	}{{"query.durationMin", "query.duration_min", &q.MinDuration}, {"query.durationMax", "query.duration_max", &q.MaxDuration}} {
		s, name := v3Param(v, d.canonical, d.alias)
		if s == "" {
			continue
		}
		dur, err := time.ParseDuration(s)
		if err != nil || dur < 0 {
			return q, badRequest("malformed parameter %s: %q is not a duration such as 100ms", name, clip(s))
		}
		*d.dst = dur
	}
	if q.MaxDuration > 0 && q.MaxDuration < q.MinDuration {
		return q, badRequest("query.durationMax %s is less than query.durationMin %s", q.MaxDuration, q.MinDuration)
	}
	q.Limit = defaultLimit
	s, name := v3Param(v, "query.searchDepth", "query.search_depth")
	if s == "" {
		s, name = v.Get("query.num_traces"), "query.num_traces"
	}
	if s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, badRequest("malformed parameter %s: %q is not a non-negative integer", name, clip(s))
		}
		if n > 0 {
			q.Limit = min(n, maxLimit)
		}
	}
	if s, name := v3Param(v, "query.rawTraces", "query.raw_traces"); s != "" {
		if _, err := strconv.ParseBool(s); err != nil {
			return q, badRequest("malformed parameter %s: %q is not true or false", name, clip(s))
		}
	}
	return q, nil
}
