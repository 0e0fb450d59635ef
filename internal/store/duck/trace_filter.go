package duck

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/duckdb/duckdb-go/v2"
)

// Trace id index: the block index of spans (blockindex.go) with one Bloom filter of the
// trace ids (their first half, trace_hi) per block. Trace ids are random, so zone maps
// cannot skip anything for them; with the filters, a trace lookup reads the few blocks
// that may hold the trace and the tail instead of every span of every day.
//
// A filter is 16 KiB with three hashes, about 0.5 B per span. By the Bloom filter
// formula (not measured): a block of 32k spans of ~17-span traces (the bench's mean) holds
// ~1.9k ids and is 4% full, so another trace's block is read about one time in 12,000; at
// the worst, 32k single-span traces, it is half full and one block in 7 is read for
// nothing.

const (
	traceFilterBits   = 1 << 17
	traceFilterHashes = 3
)

// newTraceIndex returns the block index of trace ids, stored in span_traces.
func newTraceIndex(spans *signalTables, blockRows int64) *blockIndex {
	return newBlockIndex("span_traces", spans, blockRows, traceFilter)
}

// traceFilter reads the trace ids of rows [first, last] of table and returns their filter.
// One query both counts the rows and lists the distinct ids (a count then a DISTINCT
// scanned the block twice, ~20% more CPU per block).
func traceFilter(ctx context.Context, db *sql.DB, table string, first, last int64) ([]byte, error) {
	var n int64
	var ids duckdb.Composite[[]int64]
	err := db.QueryRowContext(ctx, "SELECT count(*), coalesce(list(DISTINCT trace_hi), []) FROM "+table+" WHERE rowid BETWEEN ? AND ?",
		first, last).Scan(&n, &ids)
	if err != nil {
		return nil, fmt.Errorf("read trace ids: %w", err)
	}
	if n != last-first+1 {
		// Rowids not dense after all: a filter would claim rows it never saw.
		return nil, fmt.Errorf("found %d spans, want %d", n, last-first+1)
	}
	f := make([]byte, traceFilterBits/8)
	for _, hi := range ids.Get() {
		h1, h2 := traceHash(hi)
		for i := range uint32(traceFilterHashes) {
			p := (h1 + i*h2) & (traceFilterBits - 1)
			f[p>>3] |= 1 << (p & 7)
		}
	}
	return f, nil
}

// traceHash derives the two hashes of double hashing from a trace id half. The ids are
// random already; the multiply only guards against ids that are not (sequential test ids).
func traceHash(hi int64) (uint32, uint32) {
	x := uint64(hi) * 0x9E3779B97F4A7C15
	return uint32(x >> 32), uint32(x) | 1
}

// traceFilterHas reports whether filter f may hold trace id half hi.
func traceFilterHas(f []byte, hi int64) bool {
	if len(f) != traceFilterBits/8 {
		return true // not a filter this code wrote: assume anything
	}
	h1, h2 := traceHash(hi)
	for i := range uint32(traceFilterHashes) {
		p := (h1 + i*h2) & (traceFilterBits - 1)
		if f[p>>3]&(1<<(p&7)) == 0 {
			return false
		}
	}
	return true
}

// traceRanges returns the rowid ranges of the spans partition of day that may hold a
// trace whose trace_hi is one of his, or nil when the index does not help.
func (s *Store) traceRanges(ctx context.Context, day int64, his []int64) ([]rowRange, error) {
	return s.traceIndex.candidates(ctx, s.db, day, 0.5, func(f []byte) bool {
		for _, hi := range his {
			if traceFilterHas(f, hi) {
				return true
			}
		}
		return false
	})
}

// unionAllTraces is unionAll of cols over the spans partitions of days, each read only in
// the blocks that may hold a trace whose trace_hi is one of his (with the tail).
func (s *Store) unionAllTraces(ctx context.Context, days []int64, his []int64, cols string) (string, error) {
	return unionAllDays(days, cols, func(day int64) (string, error) {
		ranges, err := s.traceRanges(ctx, day, his)
		return rangesSource(dayName(s.spans.schema.prefix, day), ranges, cols), err
	})
}
