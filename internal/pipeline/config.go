package pipeline

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/tenant"
)

// Config sets the pipeline's queues, batching and limits. Start from DefaultConfig.
//
// Defaults:
//
//	QueueItems      65536   items (log records, spans or metric data points) waiting per signal
//	MaxBatchItems   8192    items merged into one store write (logs and spans)
//	WriteTimeout    30s     one store write
//	RetryAfter      1s      delay suggested to clients when a queue is full
//	Limits                  see Limits
type Config struct {
	// QueueItems bounds the items waiting to be written, per signal. A request that does
	// not fit fails at once with ErrQueueFull; a single request larger than QueueItems is
	// still accepted when the queue is empty, so that the request size limit of the
	// receivers, not this one, decides what is too big.
	QueueItems int
	// MaxBatchItems is the most items merged from several requests into one store write.
	// The writer takes what is queued when it becomes free, up to this many; it never
	// waits for more.
	MaxBatchItems int
	// WriteTimeout bounds one call of a store writer.
	WriteTimeout time.Duration
	// RetryAfter is the delay suggested to clients (HTTP Retry-After, gRPC RetryInfo)
	// when a queue is full or the pipeline is not running.
	RetryAfter time.Duration
	Limits     Limits
	// Scrub, when set, removes secrets from logs and spans as they arrive, in the caller's
	// goroutine, before anything else sees them (internal/scrub).
	Scrub Scrubber
	// Tenant, when set, enforces the tenant's ingest rate and bytes per day
	// (tenants.limits) on every path into this pipeline (tenantlimit.go).
	Tenant *tenant.Limiter
}

// Scrubber removes secrets from data in place; internal/scrub.Scrubber implements it.
// Safe for concurrent use.
type Scrubber interface {
	Logs(plog.Logs)
	Traces(ptrace.Traces)
}

// Limits bound the size of single items. An item over a limit is rejected, never
// truncated: the rest of its request is written and the caller gets a *store.PartialError
// that names the limit and counts the rejected items. When a resource's or a scope's own
// attributes are over a limit, every item under it is rejected. Zero disables a limit.
//
// Items that no store can hold are rejected the same way, whatever the limits: spans with
// an all-zero trace_id or span_id or an end before their start, metrics without a name,
// histograms whose bounds and bucket counts disagree, and strings (names, attribute keys
// and values, bodies) that are not valid UTF-8, which the protobuf decoder lets through.
//
// Defaults:
//
//	MaxAttributes            128      attributes of one resource, scope, log record, span,
//	                                  span event, span link or data point
//	MaxAttributeKeyLength    256      bytes
//	MaxAttributeValueLength  16 KiB   bytes of a string or bytes value; for arrays and maps the
//	                                  sum of their strings and bytes plus 8 per other value
//	MaxValueDepth            16       nesting of arrays and maps in an attribute or a log body
//	MaxBodyLength            256 KiB  a log record body, measured like an attribute value
//	MaxNameLength            1024     bytes of a span, span event or metric name
//	MaxSpanEvents            128      events of one span
//	MaxSpanLinks             128      links of one span
//	MaxFuture                0        how far after now a log record's or a span's time may be
//	MaxLogAge, MaxSpanAge    0        how far before now a log record's or a span's time may be
//	MaxLogStreams            0        active log streams (distinct resources), see streams.go
//
// The time window and the stream limit are off by default here; the server turns them on
// from its configuration (limits.max_future, limits.max_age, limits.max_log_streams). A
// log record's time is its timestamp, else its observed timestamp; a record with neither
// gets the receive time in the store and is always accepted. A span's time is its start.
type Limits struct {
	MaxAttributes           int
	MaxAttributeKeyLength   int
	MaxAttributeValueLength int
	MaxValueDepth           int
	MaxBodyLength           int
	MaxNameLength           int
	MaxSpanEvents           int
	MaxSpanLinks            int
	MaxFuture               time.Duration
	MaxLogAge               time.Duration
	MaxSpanAge              time.Duration
	MaxLogStreams           int
	// StreamIdle is how long a log stream stays active after its last record; 0 means
	// DefaultStreamIdle. Only used with MaxLogStreams.
	StreamIdle time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		QueueItems:    65536,
		MaxBatchItems: 8192,
		WriteTimeout:  30 * time.Second,
		RetryAfter:    time.Second,
		Limits:        DefaultLimits(),
	}
}

// DefaultLimits returns the documented default limits.
func DefaultLimits() Limits {
	return Limits{
		MaxAttributes:           128,
		MaxAttributeKeyLength:   256,
		MaxAttributeValueLength: 16 << 10,
		MaxValueDepth:           16,
		MaxBodyLength:           256 << 10,
		MaxNameLength:           1024,
		MaxSpanEvents:           128,
		MaxSpanLinks:            128,
	}
}

// Validate reports every invalid field, naming it and its value.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("pipeline.%s: %d, must be > 0", name, v))
		}
	}
	positive("QueueItems", c.QueueItems)
	positive("MaxBatchItems", c.MaxBatchItems)
	if c.WriteTimeout <= 0 {
		errs = append(errs, fmt.Errorf("pipeline.WriteTimeout: %s, must be > 0", c.WriteTimeout))
	}
	if c.RetryAfter < 0 {
		errs = append(errs, fmt.Errorf("pipeline.RetryAfter: %s, must be >= 0", c.RetryAfter))
	}
	notNegative := func(name string, v int) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("pipeline.Limits.%s: %d, must be >= 0 (0 disables the limit)", name, v))
		}
	}
	l := c.Limits
	notNegative("MaxAttributes", l.MaxAttributes)
	notNegative("MaxAttributeKeyLength", l.MaxAttributeKeyLength)
	notNegative("MaxAttributeValueLength", l.MaxAttributeValueLength)
	notNegative("MaxValueDepth", l.MaxValueDepth)
	notNegative("MaxBodyLength", l.MaxBodyLength)
	notNegative("MaxNameLength", l.MaxNameLength)
	notNegative("MaxSpanEvents", l.MaxSpanEvents)
	notNegative("MaxSpanLinks", l.MaxSpanLinks)
	notNegative("MaxLogStreams", l.MaxLogStreams)
	for name, d := range map[string]time.Duration{
		"MaxFuture": l.MaxFuture, "MaxLogAge": l.MaxLogAge, "MaxSpanAge": l.MaxSpanAge, "StreamIdle": l.StreamIdle,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("pipeline.Limits.%s: %s, must be >= 0 (0 disables the limit)", name, d))
		}
	}
	return errors.Join(errs...)
}
