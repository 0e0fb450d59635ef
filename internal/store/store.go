// Package store defines the per-signal storage interfaces every backend implements
// (embedded DuckDB today, ClickHouse later) and the types that cross them.
//
// Writers take OTLP pdata batches, the internal model for logs and traces. Readers return
// flat rows for logs and pdata for whole traces, streamed as iterators so that no result is
// held in memory at once. Every implementation must pass the conformance suite in
// store/storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ErrNotFound is returned by lookups of a single item (a trace by id) that does not exist.
var ErrNotFound = errors.New("not found")

// ErrDiskFull is returned (wrapped) by writes a store refuses because its file system is
// nearly full. It is retryable: the store takes writes again once space is freed, without
// a restart. Receivers answer 503 (gRPC UNAVAILABLE), as for any store failure.
var ErrDiskFull = errors.New("not enough free disk space")

// ErrBadInput is returned (wrapped, with the reason) by reads a store cannot run as asked
// because of what the caller gave, such as a filter value that is not valid UTF-8, which
// DuckDB refuses to bind. It is the client's fault: the APIs answer 400.
var ErrBadInput = errors.New("bad input")

// LogWriter stores log records.
//
// WriteLogs is safe for concurrent use. When it returns nil every record in the batch is
// committed and survives a restart; on error none of them is (a batch is atomic). The writer
// does not retain ld after returning.
type LogWriter interface {
	WriteLogs(ctx context.Context, ld plog.Logs) error
}

// SpanWriter stores spans. Same contract as LogWriter: safe for concurrent use, atomic per
// batch, committed on nil, td not retained.
type SpanWriter interface {
	WriteTraces(ctx context.Context, td ptrace.Traces) error
}

// MetricWriter stores OTLP metrics as Prometheus samples. Same contract as LogWriter,
// except that points the Prometheus model cannot represent (for example a histogram with
// inconsistent buckets) may be skipped while the rest of the batch commits: the writer then
// returns a *PartialError counting them.
type MetricWriter interface {
	WriteMetrics(ctx context.Context, md pmetric.Metrics) error
}

// PartialError reports that a write committed everything but Rejected items, which were
// dropped for the reason in Msg. Receivers report it as an OTLP partial success.
type PartialError struct {
	Rejected int64
	Msg      string
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d items rejected: %s", e.Rejected, e.Msg)
}

// LogReader queries stored log records. Safe for concurrent use.
type LogReader interface {
	// QueryLogs yields records matching q, newest first (by Timestamp, then by an internal
	// tie-breaker that is stable across calls so cursors work), at most q.Limit of them.
	// The iterator stops at the first error, which it yields with a zero record.
	QueryLogs(ctx context.Context, q LogQuery) iter.Seq2[LogRecord, error]
	// CountLogs counts records matching q.Filter in buckets of q.Step over [Start, End),
	// grouped by severity text. Buckets with no records are omitted.
	CountLogs(ctx context.Context, q LogCountQuery) ([]LogCount, error)
}

// TraceReader queries stored spans. Safe for concurrent use.
type TraceReader interface {
	// GetTrace returns every span of one trace, grouped by resource and scope as ingested.
	// It must not scan all spans (a trace id lookup is the hot path of the UI and of
	// "logs -> trace" links). Returns ErrNotFound when no span has that id.
	GetTrace(ctx context.Context, traceID pcommon.TraceID) (ptrace.Traces, error)
	// FindTraces yields summaries of traces having at least one span matching q, most
	// recent trace start first, at most q.Limit.
	FindTraces(ctx context.Context, q TraceQuery) iter.Seq2[TraceSummary, error]
	// Services lists service names seen in spans, sorted.
	Services(ctx context.Context) ([]string, error)
	// SpanNames lists span names seen for one service, sorted.
	SpanNames(ctx context.Context, service string) ([]string, error)
}

// Retainer is an optional capability of a store: drop data older than a cutoff. Backends
// drop whole time partitions, so data up to one partition older than the cutoff may remain.
type Retainer interface {
	DropBefore(ctx context.Context, signal Signal, cutoff time.Time) error
}

// Sizer is an optional capability: report bytes on disk per signal, for self-metrics.
type Sizer interface {
	DiskBytes(ctx context.Context) (map[Signal]int64, error)
}

// Signal names a kind of telemetry.
type Signal string

const (
	SignalLogs    Signal = "logs"
	SignalSpans   Signal = "spans"
	SignalMetrics Signal = "metrics"
	// SignalRuns are batch-job run records (internal/runs), deleted by the start of the run.
	SignalRuns Signal = "runs"
	// SignalErrors are error events (internal/errtrack), deleted by event time; issues go
	// when their last event does.
	SignalErrors Signal = "errors"
)

// MatchOp is how an attribute filter compares.
type MatchOp int

const (
	MatchEqual MatchOp = iota
	MatchNotEqual
	MatchRegexp    // RE2 syntax, anchored like Prometheus (^(?:re)$)
	MatchNotRegexp //
)

// AttrFilter filters on one attribute. Key is looked up in the record (log or span)
// attributes first and then in the resource attributes, so `service.name=api` and
// `http.route=/x` both work. Values compare as strings (ints and bools in their decimal /
// "true"/"false" form).
type AttrFilter struct {
	Key   string
	Op    MatchOp
	Value string
}

// LogFilter selects log records. Zero fields do not filter.
type LogFilter struct {
	Start, End  time.Time // [Start, End); zero means unbounded
	Services    []string  // service.name in this set
	MinSeverity int32     // OTLP severity number; records with number >= MinSeverity
	Contains    string    // case-insensitive substring of the body
	Attrs       []AttrFilter
	TraceID     pcommon.TraceID // empty id does not filter
	SpanID      pcommon.SpanID
}

// LogQuery is a page of a log search.
type LogQuery struct {
	LogFilter
	Limit int // maximum records; implementations cap it at 10,000 and default 100
	// Cursor continues a previous query: pass the Cursor of the last record received to get
	// the records after it (older). Empty starts at the newest.
	Cursor string
}

// LogRecord is one stored log record, flattened for query results.
type LogRecord struct {
	Timestamp         time.Time
	ObservedTimestamp time.Time
	Service           string
	SeverityNumber    int32
	SeverityText      string
	Body              string // string form; structured bodies as JSON
	TraceID           pcommon.TraceID
	SpanID            pcommon.SpanID
	Flags             uint32
	Attributes        map[string]any // JSON-compatible values
	Resource          map[string]any
	ScopeName         string
	ScopeVersion      string
	// Cursor identifies this record's position in the result order; see LogQuery.Cursor.
	Cursor string
}

// LogCountQuery asks for counts over time.
type LogCountQuery struct {
	LogFilter
	Step time.Duration // bucket width; must be > 0
}

// LogCount is the number of records in one bucket with one severity text.
type LogCount struct {
	Bucket   time.Time // start of the bucket
	Severity string    // severity text as normalised by the store ("INFO", "ERROR", ...; "" when unset)
	Count    int64
}

// TraceQuery selects traces by their spans. Zero fields do not filter. A trace matches when
// one of its spans satisfies every set field at once.
type TraceQuery struct {
	Start, End  time.Time // span start time in [Start, End)
	Service     string
	SpanName    string
	Attrs       []AttrFilter
	MinDuration time.Duration // span duration >= MinDuration
	MaxDuration time.Duration // span duration <= MaxDuration, when > 0
	ErrorsOnly  bool          // span status code is ERROR
	Limit       int           // default 20, capped at 1,000
}

// TraceSummary describes one trace found by FindTraces.
type TraceSummary struct {
	TraceID      pcommon.TraceID
	RootService  string // service of the root span, or of the earliest span when the root is missing
	RootSpanName string
	Start        time.Time
	Duration     time.Duration // last span end - first span start
	SpanCount    int
	ErrorCount   int      // spans with status ERROR
	Services     []string // sorted, distinct
}

// ServiceStatsReader is an optional capability of a trace store: rate, errors and duration
// (RED) of spans, computed by the store in one grouped query rather than by loading spans.
type ServiceStatsReader interface {
	// ServiceStats returns one row per (group, bucket) with data, one per group over the
	// whole range (Bucket zero, Total false), one per bucket over all groups (Group "",
	// Total true) and one for everything (Bucket zero, Total true), in no particular
	// order. Buckets start at q.Start + k*q.Step. Safe for concurrent use.
	ServiceStats(ctx context.Context, q ServiceStatsQuery) ([]ServiceStatsRow, error)
}

// ServiceStatsQuery selects the spans ServiceStats summarises and how they are grouped.
type ServiceStatsQuery struct {
	Start, End time.Time     // span start in [Start, End)
	Step       time.Duration // bucket width, > 0
	// Service empty: group entry spans (kind server or consumer, or without a parent) by
	// service; a service without entry spans in the range counts all its spans.
	// Service set: group every span of that service by span name.
	Service string
}

// ServiceStatsRow is one group's (or the total's) figures in one bucket or the whole range.
type ServiceStatsRow struct {
	Group         string    // service or span name; "" in total rows
	Bucket        time.Time // bucket start; zero in rows over the whole range
	Total         bool      // the row sums over all groups
	Count, Errors int64     // spans, and spans with status ERROR
	P50, P95, P99 time.Duration
}
