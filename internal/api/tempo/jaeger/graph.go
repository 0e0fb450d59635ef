package jaeger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// The store keeps neither span kinds per operation nor a dependency graph, so both are
// computed here from whole traces: the most recent ones the store finds in a window,
// fetched by id. Results are therefore a sample of the window, bounded by these limits.
const (
	// kindSampleTraces bounds the traces read to learn the span kinds of one service's
	// operations (about 3 ms each on the 2-core development machine).
	kindSampleTraces = 100
	kindSampleWindow = 24 * time.Hour
	// depsMaxTraces bounds the traces read for /api/dependencies (the store's cap).
	depsMaxTraces          = maxLimit
	defaultDepsLookback    = 24 * time.Hour
	serviceNameAttr        = "service.name"
	unknownServiceFallback = "unknown_service"
)

// eachTrace fetches the traces the store finds for q, most recent first, and calls f
// with each. Traces dropped by retention between search and fetch are skipped.
func (a *API) eachTrace(ctx context.Context, q store.TraceQuery, f func(ptrace.Traces)) error {
	var ids []pcommon.TraceID
	for s, err := range a.traces.FindTraces(ctx, q) {
		if err != nil {
			return fmt.Errorf("find traces: %w", err)
		}
		ids = append(ids, s.TraceID)
	}
	// Fetched after the search finished: the store's iterator holds a connection.
	for _, id := range ids {
		td, err := a.traces.GetTrace(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get trace %s: %w", id, err)
		}
		f(td)
	}
	return nil
}

func serviceName(res pcommon.Resource) string {
	if v, ok := res.Attributes().Get(serviceNameAttr); ok && v.AsString() != "" {
		return v.AsString()
	}
	return unknownServiceFallback
}

// operationsWithKinds lists the operations of service as Jaeger does, one entry per
// (name, span kind), sorted. Kinds come from the spans of the service's most recent
// traces (kindSampleTraces in the last kindSampleWindow); a name seen only in older
// spans is listed once with an empty kind. A non-empty kind keeps only that kind.
func (a *API) operationsWithKinds(ctx context.Context, service, kind string) ([]operation, error) {
	names, err := a.traces.SpanNames(ctx, service)
	if err != nil {
		return nil, fmt.Errorf("list operations: %w", err)
	}
	now := a.now()
	q := store.TraceQuery{Service: service, Start: now.Add(-kindSampleWindow), End: now.Add(time.Minute), Limit: kindSampleTraces}
	seen := map[operation]bool{}
	err = a.eachTrace(ctx, q, func(td ptrace.Traces) {
		for _, rs := range td.ResourceSpans().All() {
			if serviceName(rs.Resource()) != service {
				continue
			}
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					seen[operation{Name: sp.Name(), SpanKind: spanKind(sp.Kind())}] = true
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list operations: %w", err)
	}
	known := map[string]bool{}
	for op := range seen {
		known[op.Name] = true
	}
	for _, n := range names {
		if !known[n] {
			seen[operation{Name: n}] = true
		}
	}
	ops := []operation{}
	for op := range seen {
		if kind == "" || op.SpanKind == kind {
			ops = append(ops, op)
		}
	}
	slices.SortFunc(ops, func(x, y operation) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.SpanKind, y.SpanKind))
	})
	return ops, nil
}

// dependencyLink is Jaeger's model.DependencyLink.
type dependencyLink struct {
	Parent    string `json:"parent"`
	Child     string `json:"child"`
	CallCount uint64 `json:"callCount"`
}

// dependencies serves /api/dependencies?endTs=<ms>&lookback=<ms>: for every pair of
// services where a span of one is the parent of a span of the other, the number of such
// spans, as Jaeger's dependency jobs count them. Computed from the most recent
// depsMaxTraces traces that started in (endTs - lookback, endTs].
func (a *API) dependencies(r *http.Request) result {
	v := r.URL.Query()
	end := a.now()
	if s := v.Get("endTs"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 {
			return result{err: badRequest("parameter endTs: %q is not unix milliseconds", clip(s))}
		}
		end = time.UnixMilli(ms)
	}
	lookback := defaultDepsLookback
	if s := v.Get("lookback"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms <= 0 {
			return result{err: badRequest("parameter lookback: %q is not a positive number of milliseconds", clip(s))}
		}
		lookback = time.Duration(ms) * time.Millisecond
	}
	q := store.TraceQuery{Start: end.Add(-lookback), End: end.Add(time.Millisecond), Limit: depsMaxTraces}
	calls := map[[2]string]uint64{}
	err := a.eachTrace(r.Context(), q, func(td ptrace.Traces) {
		services := map[pcommon.SpanID]string{}
		for _, rs := range td.ResourceSpans().All() {
			svc := serviceName(rs.Resource())
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					services[sp.SpanID()] = svc
				}
			}
		}
		for _, rs := range td.ResourceSpans().All() {
			child := serviceName(rs.Resource())
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					parent, ok := services[sp.ParentSpanID()]
					if ok && !sp.ParentSpanID().IsEmpty() && parent != child {
						calls[[2]string{parent, child}]++
					}
				}
			}
		}
	})
	if err != nil {
		return result{err: fmt.Errorf("dependencies: %w", err)}
	}
	links := []dependencyLink{}
	for k, n := range calls {
		links = append(links, dependencyLink{Parent: k[0], Child: k[1], CallCount: n})
	}
	slices.SortFunc(links, func(x, y dependencyLink) int {
		return cmp.Or(cmp.Compare(x.Parent, y.Parent), cmp.Compare(x.Child, y.Child))
	})
	return result{data: links, total: len(links)}
}
