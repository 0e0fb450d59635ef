package tsdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/deltatocumulativeprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/metric/noop"
)

// Delta sums and histograms are accumulated into cumulative ones by the OpenTelemetry
// Collector's deltatocumulative processor, configured as Prometheus configures it for
// --enable-feature=otlp-deltatocumulative. The running totals live in memory: after a
// restart a stream starts again from zero, which PromQL's rate() treats as a counter
// reset. Streams idle for 5 minutes are forgotten.

// newDeltaToCumulative builds and starts the processor, sending its output to s.write.
func newDeltaToCumulative(s *Store) (processor.Metrics, error) {
	fac := deltatocumulativeprocessor.NewFactory()
	set := processor.Settings{
		ID:                component.NewID(fac.Type()),
		TelemetrySettings: component.TelemetrySettings{MeterProvider: noop.NewMeterProvider()},
	}
	p, err := fac.CreateMetrics(context.Background(), set, fac.CreateDefaultConfig(), deltaSink{s: s})
	if err != nil {
		return nil, fmt.Errorf("create delta to cumulative converter: %w", err)
	}
	if err := p.Start(context.Background(), nil); err != nil {
		return nil, fmt.Errorf("start delta to cumulative converter: %w", err)
	}
	return p, nil
}

// deltaCall carries one WriteMetrics call through the processor, which calls the sink
// synchronously with the caller's context.
type deltaCall struct {
	rej  *rejections
	seen int // data points that reached the sink
}

type deltaCallKey struct{}

// writeThroughDelta accumulates the deltas in md and writes the result. Points the
// processor drops (a delta older than the stream's running total, or a stream over the
// limit) are counted as rejected.
func (s *Store) writeThroughDelta(ctx context.Context, md pmetric.Metrics, rej *rejections) error {
	// The processor rewrites points in place; the caller's batch stays untouched.
	cp := pmetric.NewMetrics()
	md.CopyTo(cp)
	in := cp.DataPointCount()

	call := &deltaCall{rej: rej}
	err := s.delta.ConsumeMetrics(context.WithValue(ctx, deltaCallKey{}, call), cp)
	if err != nil {
		return err
	}
	rej.add(reasonDelta, int64(in-call.seen), "delta point overlaps the running total of its stream (out of order or duplicate)")
	return nil
}

// deltaSink receives the processor's output.
type deltaSink struct{ s *Store }

func (d deltaSink) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	call, ok := ctx.Value(deltaCallKey{}).(*deltaCall)
	if !ok {
		return errors.New("delta converter output outside of a write")
	}
	call.seen = md.DataPointCount()
	return d.s.write(ctx, md, call.rej)
}

func (deltaSink) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}
