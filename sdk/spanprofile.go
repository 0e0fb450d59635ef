package sdk

import (
	"context"
	"runtime/pprof"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// Span profiles, as grafana/otel-profiling-go (pyroscope-go's otelpyroscope) makes them:
// while a local root span is active (a span without a parent in this process), the
// goroutine that started it carries the pprof labels span_id (16 hex digits) and
// span_name, so every CPU sample taken meanwhile names the span, and Loupe's span_id
// filter (and the trace view's "profile of this span") finds them. Goroutines started
// inside the span inherit the labels. Child spans keep their root's labels: one label
// value per request, not per span, keeps the number of series small. The span gets the
// attribute pyroscope.profile.id, as otelpyroscope sets it.

const (
	spanIDLabel   = "span_id"
	spanNameLabel = "span_name"
	profileIDAttr = "pyroscope.profile.id"
)

type profiledTracerProvider struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p *profiledTracerProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return &profiledTracer{tr: p.tp.Tracer(name, opts...)}
}

type profiledTracer struct {
	embedded.Tracer
	tr trace.Tracer
}

func (t *profiledTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanContextFromContext(ctx)
	cfg := trace.NewSpanStartConfig(opts...)
	newRoot := cfg.NewRoot()
	spanCtx, span := t.tr.Start(ctx, name, opts...)
	sc := span.SpanContext()
	if !sc.IsValid() || (parent.IsValid() && !parent.IsRemote() && !newRoot) {
		return spanCtx, span
	}
	span.SetAttributes(attribute.String(profileIDAttr, sc.SpanID().String()))
	spanCtx = pprof.WithLabels(spanCtx, pprof.Labels(spanIDLabel, sc.SpanID().String(), spanNameLabel, name))
	pprof.SetGoroutineLabels(spanCtx)
	ps := &profiledSpan{Span: span, restore: ctx}
	return trace.ContextWithSpan(spanCtx, ps), ps
}

// profiledSpan puts back the goroutine's labels of before the span when it ends.
type profiledSpan struct {
	trace.Span
	restore context.Context
}

func (s *profiledSpan) End(opts ...trace.SpanEndOption) {
	s.Span.End(opts...)
	pprof.SetGoroutineLabels(s.restore)
}
