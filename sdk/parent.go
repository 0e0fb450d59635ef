package sdk

import (
	"context"
	"os"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ContextFromEnv returns ctx carrying the remote parent span named by the TRACEPARENT (and
// TRACESTATE) environment variables, the W3C trace context that `loupe run` and other job
// runners hand to the processes they start. Spans started from the returned context are
// children of that span. When TRACEPARENT is unset or invalid, ctx is returned unchanged.
func ContextFromEnv(ctx context.Context) context.Context {
	return withParent(ctx, parentFromEnv(os.Getenv))
}

// Context is ContextFromEnv with the TRACEPARENT that Start read, so it gives the same
// answer wherever it is called, even after the program changed its environment. A ctx that
// already carries a span is returned unchanged: a span in progress is a nearer parent.
func (s *SDK) Context(ctx context.Context) context.Context {
	return withParent(ctx, s.parent)
}

// Parent returns the span context read from TRACEPARENT at Start; it is invalid (IsValid
// false) when the program was not started with one.
func (s *SDK) Parent() trace.SpanContext { return s.parent }

func parentFromEnv(getenv func(string) string) trace.SpanContext {
	carrier := propagation.MapCarrier{
		"traceparent": getenv("TRACEPARENT"),
		"tracestate":  getenv("TRACESTATE"),
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), carrier)
	return trace.SpanContextFromContext(ctx)
}

func withParent(ctx context.Context, parent trace.SpanContext) context.Context {
	if !parent.IsValid() || trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, parent)
}
