package tempo

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	// defaultTagRange bounds the spans read for tag names and values when the request
	// has no start/end: the tag lists scan span attributes, so the window stays small.
	defaultTagRange = time.Hour
	defaultTagLimit = 1000
	maxTagLimit     = 10000
)

// intrinsics are the TraceQL intrinsics Grafana's search builder offers and the search
// evaluates (traceql.go); listing others would let Grafana build queries this server
// refuses.
var intrinsics = []string{"duration", "kind", "name", "rootName", "rootServiceName", "status", "statusMessage", "traceDuration"}

type tagNamesV1 struct {
	TagNames []string `json:"tagNames"`
}

type tagScope struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

type tagNamesV2 struct {
	Scopes []tagScope `json:"scopes"`
}

type tagValuesV1 struct {
	TagValues []string `json:"tagValues"`
}

type typedValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type tagValuesV2 struct {
	TagValues []typedValue `json:"tagValues"`
}

// tagRequest holds the parameters common to the tag endpoints.
type tagRequest struct {
	start, end time.Time
	limit      int
}

func (a *API) tagParams(r *http.Request) (tagRequest, error) {
	v := r.URL.Query()
	var tr tagRequest
	var err error
	if tr.start, tr.end, err = a.timeRange(v, defaultTagRange); err != nil {
		return tr, err
	}
	if tr.limit, err = intParam(v, "limit", defaultTagLimit); err != nil {
		return tr, err
	}
	if tr.limit <= 0 || tr.limit > maxTagLimit {
		return tr, badRequest("parameter limit: %d, want 1 to %d", tr.limit, maxTagLimit)
	}
	return tr, nil
}

// attributeKeys returns span and resource attribute keys, or only service.name (as a
// resource key) when the store cannot list keys.
func (a *API) attributeKeys(ctx context.Context, tr tagRequest) (span, resource []string, err error) {
	if a.tags == nil {
		return []string{}, []string{"service.name"}, nil
	}
	span, resource, err = a.tags.SpanAttributeKeys(ctx, tr.start, tr.end, tr.limit)
	if err != nil {
		return nil, nil, fmt.Errorf("list tag names: %w", err)
	}
	if !slices.Contains(resource, "service.name") {
		resource = append(resource, "service.name")
		slices.Sort(resource)
	}
	return span, resource, nil
}

// tagNamesV1 serves GET /api/search/tags: unscoped attribute names.
func (a *API) tagNamesV1(r *http.Request) result {
	tr, err := a.tagParams(r)
	if err != nil {
		return result{err: err}
	}
	span, resource, err := a.attributeKeys(r.Context(), tr)
	if err != nil {
		return result{err: err}
	}
	names := append(slices.Clone(span), resource...)
	slices.Sort(names)
	names = slices.Compact(names)
	return result{data: tagNamesV1{TagNames: names[:min(len(names), tr.limit)]}}
}

// tagNamesV2 serves GET /api/v2/search/tags?scope=span|resource|intrinsic|none.
func (a *API) tagNamesV2(r *http.Request) result {
	tr, err := a.tagParams(r)
	if err != nil {
		return result{err: err}
	}
	scope := r.URL.Query().Get("scope")
	switch scope {
	case "", "none", "all", "span", "resource", "intrinsic":
	default:
		return result{err: badRequest("parameter scope: %q, want span, resource, intrinsic or none", clip(scope))}
	}
	all := scope == "" || scope == "none" || scope == "all"
	var out tagNamesV2
	if all || scope == "span" || scope == "resource" {
		span, resource, err := a.attributeKeys(r.Context(), tr)
		if err != nil {
			return result{err: err}
		}
		if all || scope == "resource" {
			out.Scopes = append(out.Scopes, tagScope{Name: "resource", Tags: resource})
		}
		if all || scope == "span" {
			out.Scopes = append(out.Scopes, tagScope{Name: "span", Tags: span})
		}
	}
	if all || scope == "intrinsic" {
		out.Scopes = append(out.Scopes, tagScope{Name: "intrinsic", Tags: slices.Clone(intrinsics)})
	}
	return result{data: out}
}

// tagValuesV1 serves GET /api/search/tag/<tag>/values with an unscoped attribute name.
func (a *API) tagValuesV1(r *http.Request) result {
	tr, err := a.tagParams(r)
	if err != nil {
		return result{err: err}
	}
	vals, _, err := a.values(r.Context(), "", r.PathValue("tag"), tr)
	if err != nil {
		return result{err: err}
	}
	return result{data: tagValuesV1{TagValues: vals}}
}

// tagValuesV2 serves GET /api/v2/search/tag/<tag>/values with a TraceQL name:
// resource.X, span.X, .X, or an intrinsic (name, status). The `q` filter Tempo accepts
// to narrow the values is ignored: values come from every span of the range.
func (a *API) tagValuesV2(r *http.Request) result {
	tr, err := a.tagParams(r)
	if err != nil {
		return result{err: err}
	}
	tag := r.PathValue("tag")
	var scope, key string
	switch {
	case strings.HasPrefix(tag, "resource."):
		scope, key = "resource", strings.TrimPrefix(tag, "resource.")
	case strings.HasPrefix(tag, "span."):
		scope, key = "span", strings.TrimPrefix(tag, "span.")
	case strings.HasPrefix(tag, "."):
		key = tag[1:]
	case slices.Contains(intrinsics, tag):
		scope, key = "intrinsic", tag
	default:
		return result{err: badRequest("tag %q: want resource.<attr>, span.<attr>, .<attr> or one of %s",
			clip(tag), strings.Join(intrinsics, ", "))}
	}
	vals, typ, err := a.values(r.Context(), scope, key, tr)
	if err != nil {
		return result{err: err}
	}
	out := tagValuesV2{TagValues: make([]typedValue, len(vals))}
	for i, v := range vals {
		out.TagValues[i] = typedValue{Type: typ, Value: v}
	}
	return result{data: out}
}

// values lists the values of one tag and their TraceQL type: "keyword" for status,
// "string" otherwise (attributes are compared as text by the search subset).
func (a *API) values(ctx context.Context, scope, key string, tr tagRequest) ([]string, string, error) {
	if key == "" {
		return nil, "", badRequest("empty tag name")
	}
	switch {
	case scope == "intrinsic" && key == "status":
		return []string{"error", "ok", "unset"}, "keyword", nil
	case scope == "intrinsic" && key == "kind":
		return []string{"client", "consumer", "internal", "producer", "server", "unspecified"}, "keyword", nil
	case scope == "intrinsic" && (key == "duration" || key == "traceDuration"):
		return []string{}, "duration", nil
	case scope == "intrinsic" && key == "statusMessage":
		return []string{}, "string", nil
	case scope == "intrinsic" && key == "rootServiceName":
		svcs, err := a.traces.Services(ctx)
		return svcs, "string", err
	case scope == "intrinsic" && (key == "name" || key == "rootName"):
		names, err := a.spanNames(ctx, tr.limit)
		return names, "string", err
	case key == "service.name" && (scope != "span" || a.tags == nil):
		svcs, err := a.traces.Services(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("list services: %w", err)
		}
		return svcs[:min(len(svcs), tr.limit)], "string", nil
	case a.tags == nil:
		return []string{}, "string", nil
	}
	vals, err := a.tags.SpanAttributeValues(ctx, scope, key, tr.start, tr.end, tr.limit)
	if err != nil {
		return nil, "", fmt.Errorf("list values of %s: %w", key, err)
	}
	return vals, "string", nil
}

// spanNames merges the span names of every service, sorted, at most limit.
func (a *API) spanNames(ctx context.Context, limit int) ([]string, error) {
	svcs, err := a.traces.Services(ctx)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	var names []string
	for _, s := range svcs {
		n, err := a.traces.SpanNames(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("list span names of %s: %w", s, err)
		}
		names = append(names, n...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if names == nil {
		names = []string{}
	}
	return names[:min(len(names), limit)], nil
}
