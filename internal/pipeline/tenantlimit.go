package pipeline

import (
	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/tenant"
)

// Tenant limits (Config.Tenant, tenants.limits): the ingest rate and the bytes per day of
// the tenant this pipeline is. Every path that takes data for the tenant passes here:
// ConsumeLogs, ConsumeTraces and ConsumeMetrics (OTLP, Loki push, Sentry spans),
// AdmittedAppendable's appenders (scrapes, StatsD) and AdmitTenant (remote write,
// Pyroscope profiles). A refused request is refused whole, with a *tenant.LimitError;
// nothing of it is stored. Refusals are counted in loupe_ingest_rejected_items_total with
// the limit's key as the reason. (max_series is the metric store's: internal/store/tsdb.)
//
// Bytes are measured cheaply and close to what a client sends: the OTLP protobuf size of
// the accepted items (for Loki push and Sentry spans too, which the receivers turn into
// OTLP), the decoded (snappy-decompressed) body of a remote write, the decoded profile of
// a Pyroscope upload, and for a scrape or StatsD sample its labels' names and values plus
// sampleOverhead.

// sampleOverhead is what a Prometheus sample counts besides its labels: its value and
// timestamp, as remote write encodes them.
const sampleOverhead = 16

// sizers measure the items a Consume* call hands on, for max_bytes_per_day.
var (
	logsSizer    plog.ProtoMarshaler
	tracesSizer  ptrace.ProtoMarshaler
	metricsSizer pmetric.ProtoMarshaler
)

// AdmitTenant takes items and bytes from the tenant's limits for a path that writes to a
// store itself: remote write (after AdmitMetrics granted room), Pyroscope profiles
// (signal "profiles"). A refusal is a *tenant.LimitError. Without Config.Tenant it always
// admits. Safe for concurrent use.
func (p *Pipeline) AdmitTenant(signal string, items int, bytes int64) error {
	return admitTenant(p.cfg.Tenant, p.metrics.m, signal, items, bytes)
}

// CountsTenantBytes reports whether AdmitTenant needs the bytes (max_bytes_per_day is
// set), so that a caller measures them only then.
func (p *Pipeline) CountsTenantBytes() bool { return p.cfg.Tenant.CountsBytes() }

func admitTenant(l *tenant.Limiter, m *selfMetrics, signal string, items int, bytes int64) error {
	err := l.Admit(items, bytes)
	if le, ok := tenant.AsLimit(err); ok {
		m.rejected.WithLabelValues(signal, le.Key).Add(float64(items))
	}
	return err
}

// tenantPartialError is a partial success some of whose items the store refused for a
// tenant's limit (max_series), joined with the pipeline's own rejections (joinPartial).
type tenantPartialError struct {
	*store.PartialError
	limit *tenant.LimitError
}

func (e *tenantPartialError) Unwrap() []error { return []error{e.PartialError, e.limit} }

// sampleBytes is what one Prometheus sample of series l counts against max_bytes_per_day.
func sampleBytes(l labels.Labels) int64 {
	n := int64(sampleOverhead)
	l.Range(func(lb labels.Label) { n += int64(len(lb.Name) + len(lb.Value)) })
	return n
}
