// Package plan holds the parts of a LogQL query that a log store executes itself: stream
// selection, line filters, time range, order, limit, and per-bucket counting.
//
// It has no dependencies so that stores can implement it without importing the LogQL
// engine.
package plan

import (
	"context"
	"iter"
)

// Store is what the LogQL engine needs from a log store. Safe for concurrent use.
type Store interface {
	// Streams lists the distinct streams (resources) having records in [Start, End).
	// With stats, Entries and Bytes are filled in (which costs a scan of the bodies).
	Streams(ctx context.Context, start, end int64, stats bool) ([]Stream, error)
	// Rows yields the records selected by sel in time order (newest first unless
	// sel.Forward; any order with sel.Unordered), at most sel.Limit when > 0. The iterator
	// stops at the first error.
	Rows(ctx context.Context, sel Select) iter.Seq2[Row, error]
	// Buckets counts the records selected by sel (its Limit, Forward are ignored) per stream,
	// detected level and bucket j of width Width, where bucket j holds timestamps in
	// (Origin + j*Width, Origin + (j+1)*Width]. Buckets without records are omitted.
	Buckets(ctx context.Context, sel Select, origin, width int64) ([]Bucket, error)
}

// Stream is one distinct resource of stored logs.
type Stream struct {
	Key      uint64         // opaque identifier, the same in Rows and Buckets
	Service  string         // the service column ("" when the resource has no service.name)
	Resource map[string]any // resource attributes
	Entries  int64          // with stats only
	Bytes    int64          // body bytes, with stats only
}

// LineOp is a line filter operator.
type LineOp int

const (
	LineContains    LineOp = iota // |=  (case-sensitive substring)
	LineNotContains               // !=
	LineMatch                     // |~  (RE2, unanchored)
	LineNotMatch                  // !~
)

// LineFilter is one line filter; a positive filter with several Values matches any of
// them (LogQL `|= "a" or "b"`), a negative one matches none of them.
type LineFilter struct {
	Op     LineOp
	Values []string
}

// AttrFilter is an equality on a record attribute, as a LogQL label filter names it
// (`| user_id="u-1"`): some attribute of the record whose key sanitizes to Name has the
// label value Value (ints in decimal, bools as true/false). A store may use it to skip
// records and may return records that do not satisfy it (an index that narrows, not an
// exact test); the engine still applies the filter. An empty Value is not pushed down.
type AttrFilter struct {
	Name, Value string
}

// Select picks records.
type Select struct {
	Start, End  int64    // nanoseconds, [Start, End)
	Streams     []uint64 // stream keys to read; nil reads every stream
	LineFilters []LineFilter
	AttrFilters []AttrFilter // narrowing only: see AttrFilter
	Forward     bool         // oldest first
	Limit       int          // 0: no limit
	// Unordered lets the store yield rows in any order (one scan instead of pages); the
	// caller sorts what it keeps. Forward and Limit are then ignored.
	Unordered bool
	// NoAttributes leaves Row.Attributes nil, which saves decoding them when the query
	// cannot look at them.
	NoAttributes bool
	// BodyBytes asks Buckets for Bucket.Bytes; without it they are 0 and the bodies are
	// not read.
	BodyBytes bool
}

// Row is one record as the engine needs it.
type Row struct {
	Timestamp      int64 // ns
	Stream         uint64
	Body           string
	SeverityText   string
	SeverityNumber int32
	TraceID        string // hex, "" when absent
	SpanID         string
	Attributes     map[string]any
}

// Bucket is the count of one stream and level in one bucket.
type Bucket struct {
	Stream uint64
	Level  string // detected level: lower-case severity text, else the name of the severity number, else ""
	Index  int64
	Count  int64
	Bytes  int64
}
