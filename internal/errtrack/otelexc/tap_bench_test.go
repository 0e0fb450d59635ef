package otelexc

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// The Tap's cost on the ingest path, over writers that do nothing: what it adds to every
// log and span batch. Batches are 1,000 records with 10 attributes each in 10 resources,
// like the store benchmarks' (internal/store/duck/bench_test.go); "with=N" batches carry N
// exceptions (a Python traceback of ~15 frames in a log record, a Go RecordError stack in
// a span event), "with=0" none.

type nopWriter struct{}

func (nopWriter) WriteLogs(context.Context, plog.Logs) error       { return nil }
func (nopWriter) WriteTraces(context.Context, ptrace.Traces) error { return nil }
func (nopWriter) Record(context.Context, []errtrack.Event) error   { return nil }

const benchPython = `Traceback (most recent call last):
  File "/srv/app/venv/lib/python3.11/site-packages/flask/app.py", line 1484, in full_dispatch_request
    rv = self.dispatch_request()
  File "/srv/app/venv/lib/python3.11/site-packages/flask/app.py", line 1469, in dispatch_request
    return self.ensure_sync(self.view_functions[rule.endpoint])(**view_args)
  File "/srv/app/shop/views.py", line 42, in checkout
    order = service.charge(cart, user)
  File "/srv/app/shop/service.py", line 88, in charge
    return gateway.post(order)
  File "/srv/app/shop/gateway.py", line 17, in post
    raise PaymentError(f"card declined for order {order.id}")
shop.errors.PaymentError: card declined for order 1234
`

func benchLogs(withExceptions int) plog.Logs {
	ld := plog.NewLogs()
	n := 0
	for r := range 10 {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		sl := rl.ScopeLogs().AppendEmpty()
		for i := range 100 {
			lr := sl.LogRecords().AppendEmpty()
			lr.Body().SetStr("GET /api/users 200 in 12ms")
			a := lr.Attributes()
			for k := range 10 {
				a.PutStr(fmt.Sprintf("attr.%d", k), fmt.Sprintf("value-%d", i))
			}
			if n < withExceptions {
				a.PutStr("exception.type", "PaymentError")
				a.PutStr("exception.message", "card declined for order 1234")
				a.PutStr("exception.stacktrace", benchPython)
				n++
			}
		}
	}
	return ld
}

func benchTraces(withExceptions int) ptrace.Traces {
	td := ptrace.NewTraces()
	n := 0
	for r := range 10 {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range 100 {
			sp := spans.AppendEmpty()
			sp.SetName("GET /api/users")
			sp.SetTraceID(pcommon.TraceID{byte(r), byte(i), 1})
			sp.SetSpanID(pcommon.SpanID{byte(r), byte(i), 2})
			a := sp.Attributes()
			for k := range 10 {
				a.PutStr(fmt.Sprintf("attr.%d", k), fmt.Sprintf("value-%d", i))
			}
			if i%3 == 0 { // other span events are common (retries, messages)
				sp.Events().AppendEmpty().SetName("message")
			}
			if n < withExceptions {
				e := sp.Events().AppendEmpty()
				e.SetName("exception")
				e.Attributes().PutStr("exception.type", "*errors.errorString")
				e.Attributes().PutStr("exception.message", "card declined")
				e.Attributes().PutStr("exception.stacktrace", benchGoStack)
				n++
			}
		}
	}
	return td
}

const benchGoStack = "goroutine 42 [running]:\n" +
	"go.opentelemetry.io/otel/sdk/trace.recordStackTrace(...)\n\t/root/go/pkg/mod/go.opentelemetry.io/otel/sdk@v1.47.0/trace/span.go:527\n" +
	"go.opentelemetry.io/otel/sdk/trace.(*recordingSpan).RecordError(0xc000162000, {0x6975c0, 0xc000128380}, {0xc00011e3d0, 0x1, 0x1})\n\t/root/go/pkg/mod/go.opentelemetry.io/otel/sdk@v1.47.0/trace/span.go:509 +0x4de\n" +
	"example.com/shop/payments.(*Gateway).Charge(0xc0001a4000, {0x699030, 0xc0001b2000}, 0x4d2)\n\t/src/shop/payments/gateway.go:88 +0x1e2\n" +
	"example.com/shop/api.(*Server).checkout(0xc0001a6000, {0x698420, 0xc0001c4000}, 0xc0001d0000)\n\t/src/shop/api/checkout.go:42 +0x96\n" +
	"net/http.HandlerFunc.ServeHTTP(0xc0001e0000?, {0x698420?, 0xc0001c4000?}, 0xc0001d0000?)\n\t/usr/local/go/src/net/http/server.go:2294 +0x29\n" +
	"net/http.serverHandler.ServeHTTP({0xc0001f0000?}, {0x698420?, 0xc0001c4000?}, 0x6?)\n\t/usr/local/go/src/net/http/server.go:3301 +0x8e\n" +
	"net/http.(*conn).serve(0xc000200000, {0x699030, 0xc0001b2000})\n\t/usr/local/go/src/net/http/server.go:2102 +0x625\n" +
	"created by net/http.(*Server).Serve in goroutine 1\n\t/usr/local/go/src/net/http/server.go:3454 +0x485\n"

func BenchmarkTapLogs(b *testing.B) {
	for _, with := range []int{0, 1, 10} {
		ld := benchLogs(with)
		b.Run(fmt.Sprintf("direct/with=%d", with), func(b *testing.B) { benchWrite(b, nopWriter{}, ld) })
		b.Run(fmt.Sprintf("tap/with=%d", with), func(b *testing.B) {
			benchWrite(b, NewTap(nopWriter{}, nopWriter{}, nopWriter{}, nil, nil), ld)
		})
	}
}

func BenchmarkTapTraces(b *testing.B) {
	for _, with := range []int{0, 1, 10} {
		td := benchTraces(with)
		b.Run(fmt.Sprintf("direct/with=%d", with), func(b *testing.B) { benchWriteTraces(b, nopWriter{}, td) })
		b.Run(fmt.Sprintf("tap/with=%d", with), func(b *testing.B) {
			benchWriteTraces(b, NewTap(nopWriter{}, nopWriter{}, nopWriter{}, nil, nil), td)
		})
	}
}

func benchWrite(b *testing.B, w interface {
	WriteLogs(context.Context, plog.Logs) error
}, ld plog.Logs) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteLogs(ctx, ld); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*ld.LogRecordCount()), "ns/record")
}

func benchWriteTraces(b *testing.B, w interface {
	WriteTraces(context.Context, ptrace.Traces) error
}, td ptrace.Traces) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*td.SpanCount()), "ns/span")
}
