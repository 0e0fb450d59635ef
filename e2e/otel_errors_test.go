package e2e

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// notFoundError is a second, different bug.
type notFoundError struct{ key string }

func (e notFoundError) Error() string { return "order not found: " + e.key }

// chargeCard reports err the two OpenTelemetry ways: span.RecordError with a stack trace,
// and an error log record carrying exception.* attributes with the same stack (as a
// logging bridge writes it). Both come from this function, so both events have the same
// in-app frames and must land in one issue.
func chargeCard(ctx context.Context, tracer trace.Tracer, logger otellog.Logger, err error) (trace.TraceID, trace.SpanID) {
	ctx, span := tracer.Start(ctx, "POST /charge", trace.WithAttributes(attribute.String("http.route", "/charge")))
	defer span.End()
	span.RecordError(err, trace.WithStackTrace(true))
	emitLog(ctx, logger, otellog.SeverityError, "charge failed",
		attribute.String("exception.type", fmt.Sprintf("%T", err)),
		attribute.String("exception.message", err.Error()),
		attribute.String("exception.stacktrace", string(debug.Stack())))
	return span.SpanContext().TraceID(), span.SpanContext().SpanID()
}

func lookUpOrder(ctx context.Context, tracer trace.Tracer, key string) {
	_, span := tracer.Start(ctx, "GET /orders/{id}")
	defer span.End()
	span.RecordError(notFoundError{key}, trace.WithStackTrace(true))
}

// TestOTelExceptionsBecomeIssues: the OpenTelemetry Go SDK's span.RecordError and a log
// record with exception.* attributes become error events, grouped into issues.
func TestOTelExceptionsBecomeIssues(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t, t.TempDir())
	tp := newTracerProvider(t, ctx, s, viaGRPC, "payments")
	lp := newLoggerProvider(t, ctx, s, viaHTTP, "payments")

	traceID, spanID := chargeCard(ctx, tp.Tracer("e2e"), lp.Logger("e2e"), errors.New("card declined"))
	// The same bug again, with another message: same issue (messages do not group when
	// there are frames).
	chargeCard(ctx, tp.Tracer("e2e"), lp.Logger("e2e"), errors.New("card declined by acme"))
	lookUpOrder(ctx, tp.Tracer("e2e"), "A-17")
	// The exporters are synchronous: each batch was acknowledged, so its events are stored.
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))

	// Read what a user sees: the issues list, the issue's events and the event itself.
	issues := getIssues(t, s)
	require.Len(t, issues, 2, "%+v", issues)
	byType := map[string]errtrack.Issue{}
	for _, is := range issues {
		byType[is.Type] = is
	}
	declined, ok := byType["*errors.errorString"]
	require.True(t, ok, "%+v", issues)
	require.EqualValues(t, 4, declined.Events, "2 span events and 2 log records")
	require.Equal(t, "payments", declined.Service)
	require.Equal(t, []string{"e2e"}, declined.Environments)
	notFound, ok := byType["e2e.notFoundError"]
	require.True(t, ok, "the Go type as sentry-go writes it: %+v", issues)
	require.EqualValues(t, 1, notFound.Events)

	events := getIssueEvents(t, s, declined.ID)
	require.Len(t, events, 4)
	sources := map[string]int{}
	for _, ev := range events {
		sources[ev.Source]++
		require.Equal(t, "payments", ev.Service)
	}
	require.Equal(t, map[string]int{"otel.span": 2, "otel.log": 2}, sources)
	var linked bool
	for _, listed := range events {
		if listed.TraceID == traceID.String() && listed.SpanID == spanID.String() {
			linked = true
			var resp apiEnvelope[errtrack.Event]
			getJSON(t, s.HTTP+"/api/loupe/v1/events/"+listed.EventID, 200, &resp)
			ev := resp.Data
			require.Equal(t, listed.EventID, ev.EventID)
			require.NotEmpty(t, ev.Exceptions)
			last := ev.Exceptions[len(ev.Exceptions)-1]
			require.Equal(t, "chargeCard", last.Frames[len(last.Frames)-1].Function)
			require.Contains(t, last.RawStacktrace, "goroutine ")
		}
	}
	require.True(t, linked, "an event carries the span's trace and span id")
}

// refundOrder reports err every way from one place, as a service in the middle of moving
// from Sentry to OpenTelemetry might: span.RecordError, a log record with exception.*
// attributes and sentry-go's CaptureException.
func refundOrder(ctx context.Context, tracer trace.Tracer, logger otellog.Logger, hub *sentry.Hub, err error) {
	ctx, span := tracer.Start(ctx, "POST /refund")
	defer span.End()
	span.RecordError(err, trace.WithStackTrace(true))
	emitLog(ctx, logger, otellog.SeverityError, "refund failed",
		attribute.String("exception.type", fmt.Sprintf("%T", err)),
		attribute.String("exception.message", err.Error()),
		attribute.String("exception.stacktrace", string(debug.Stack())))
	hub.CaptureException(err)
}

// TestOTelAndSentryGoGroupTogether: the same exception (type and frames) from the
// OpenTelemetry Go SDK (a span event and a log record) and from
// github.com/getsentry/sentry-go is one issue.
func TestOTelAndSentryGoGroupTogether(t *testing.T) {
	ctx := testContext(t)
	s := startSentryServer(t)
	tp := newTracerProvider(t, ctx, s, viaHTTP, "shop-api")
	lp := newLoggerProvider(t, ctx, s, viaHTTP, "shop-api")
	hub := newSentryHub(t, s.dsn(sentryKeyAPI, "1"))

	refundOrder(ctx, tp.Tracer("e2e"), lp.Logger("e2e"), hub, errors.New("refund refused for order 81"))
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))
	require.True(t, hub.Flush(10*time.Second))
	waitSentryItems(t, s, "1", "event", 1)

	issues := getIssues(t, s)
	var keys []string
	for _, is := range issues {
		keys = append(keys, is.Fingerprint)
	}
	require.Len(t, issues, 1, "grouping keys: %q", keys)
	require.EqualValues(t, 3, issues[0].Events)
	var sources []string
	for _, ev := range getIssueEvents(t, s, issues[0].ID) {
		sources = append(sources, ev.Source)
	}
	require.ElementsMatch(t, []string{"otel.span", "otel.log", "sentry"}, sources)
}

// getIssues returns the issues of GET /api/loupe/v1/issues (those seen in the last 24 hours).
func getIssues(t *testing.T, s *server) []errtrack.Issue {
	t.Helper()
	var resp apiEnvelope[struct {
		Issues []errtrack.Issue `json:"issues"`
	}]
	getJSON(t, s.HTTP+"/api/loupe/v1/issues", 200, &resp)
	return resp.Data.Issues
}

// getIssueEvents returns the events of GET /api/loupe/v1/issues/{id}/events, newest first.
func getIssueEvents(t *testing.T, s *server, issueID string) []errtrack.Event {
	t.Helper()
	var resp apiEnvelope[struct {
		Events []errtrack.Event `json:"events"`
	}]
	getJSON(t, s.HTTP+"/api/loupe/v1/issues/"+issueID+"/events", 200, &resp)
	return resp.Data.Events
}
