package duck

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/internal/store"
)

// Term index, part 2: the block index of log_term_index (blockindex.go) with the filters of
// terms.go, and how queries combine it with the trigram filters.

// newTermIndex returns the block index of log body tokens and attribute values, stored
// in log_term_index, in blocks of termBlockRows rows unless blockRows is set (tests).
// It replaces log_term_filters (whose writer-built filters of blocks straddled by a batch
// of several chunks may hold the wrong rows, fixed in grams_write.go), log_term_blocks
// (three probes per term, see terms.go) and log_terms (32,768-row blocks, five-byte
// prefixes, keys with any value in the Bloom filter), which are dropped: the indexer
// rebuilds the filters of older partitions by reading them back.
func newTermIndex(logs *signalTables, blockRows int64) *blockIndex {
	if blockRows <= 0 {
		blockRows = termBlockRows
	}
	ix := newBlockIndex("log_term_index", logs, blockRows, termsReadBack)
	ix.replaces = []string{"log_term_filters", "log_term_blocks", "log_terms"}
	return ix
}

// termsReadBack reads rows [first, last] of table back and returns their term filter:
// for blocks the writer did not see (older data, a block in progress at a restart,
// bodies stored as JSON text, whose text is what a search reads).
func termsReadBack(ctx context.Context, db *sql.DB, table string, first, last int64) ([]byte, error) {
	rows, err := db.QueryContext(ctx, "SELECT body, attr_keys, attr_vals, res_id, coalesce(r.resource, '') FROM "+
		table+" l"+logResourceJoin+" WHERE l.rowid BETWEEN ? AND ?", first, last)
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	defer rows.Close()
	f := newTermFilter()
	var (
		n                     int64
		body, keys, vals, res string
		resID                 int64
	)
	for rows.Next() {
		if err := rows.Scan(&body, &keys, &vals, &resID, &res); err != nil {
			return nil, fmt.Errorf("read rows: %w", err)
		}
		f.addBody(body)
		attrs := pcommon.NewMap()
		if err := decodeAttrCols(keys, vals, attrs); err != nil {
			return nil, err
		}
		f.addAttrs(attrs)
		if !f.res[resID] {
			m := pcommon.NewMap()
			if err := decodeMapJSON(res, m); err != nil {
				return nil, err
			}
			f.addResource(resID, m)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	if n != last-first+1 {
		return nil, fmt.Errorf("found %d rows, want %d", n, last-first+1)
	}
	return f.bytes(), nil
}

// logIndexQuery is what a logs query asks of the block indexes: needles for the
// trigram filters and the term filters, and attribute equalities for the term filters.
type logIndexQuery struct {
	needles bodyNeedles
	terms   termQuery
}

// nativeIndexQuery returns the index query of a native filter.
func nativeIndexQuery(f store.LogFilter) logIndexQuery {
	q := logIndexQuery{needles: logNeedles(f)}
	q.terms = q.terms.bodyTerms(q.needles)
	for _, a := range f.Attrs {
		if a.Op == store.MatchEqual {
			q.terms = q.terms.attrTerm(a.Key, a.Value)
		}
	}
	return q
}

// maxCandidateShare is the share of blocks above which reading candidate ranges costs no
// less than a plain scan.
const maxCandidateShare = 0.5

// searchRanges returns the rowid ranges of the logs partition of day that the block
// indexes cannot rule out for q, or nil when they do not help (nothing to prune with,
// nothing indexed, or most blocks may match). A block is kept when every index that has
// its filter may match; rows past an index's filters are kept.
func (s *Store) searchRanges(ctx context.Context, day int64, q logIndexQuery) ([]rowRange, error) {
	var lists [][]rowRange
	if grams := q.needles.grams(); len(grams) > 0 {
		r, _, err := s.bodyIndex.matching(ctx, s.db, day, func(f []byte) bool { return blockMayMatch(f, grams) })
		if err != nil {
			return nil, err
		}
		if r != nil {
			lists = append(lists, r)
		}
	}
	if len(q.terms) > 0 {
		r, _, err := s.termIndex.matching(ctx, s.db, day, q.terms.mayMatch)
		if err != nil {
			return nil, err
		}
		if r != nil {
			lists = append(lists, r)
		}
	}
	if len(lists) == 0 {
		return nil, nil
	}
	keep := lists[0]
	// The indexed end: each list ends with its index's tail (rows without filters),
	// and the intersection prunes up to the furthest of them. The indexes' blocks
	// differ in size (termBlockRows, defaultBlockRows).
	end := keep[len(keep)-1].first
	for _, l := range lists[1:] {
		keep = intersectRanges(keep, l)
		end = max(end, l[len(l)-1].first)
	}
	// Blocks kept, counted in rows below the indexed end.
	var rows int64
	for _, r := range keep {
		if r.first < end {
			last := r.last
			if last < 0 || last >= end {
				last = end - 1
			}
			rows += last - r.first + 1
		}
	}
	if float64(rows) > maxCandidateShare*float64(end) {
		return nil, nil
	}
	return mergeRanges(keep, maxCandidateRanges), nil
}

// mergeRanges returns ranges (sorted, disjoint) with the closest neighbours merged until
// at most n remain: small term blocks keep more ranges than a UNION ALL should have
// branches, and reading the rows between two close ranges costs less than a full scan.
func mergeRanges(ranges []rowRange, n int) []rowRange {
	if len(ranges) <= n {
		return ranges
	}
	// Merge every gap up to the (len-n)th smallest; an open range is last and stays so.
	gaps := make([]int64, len(ranges)-1)
	for i := range gaps {
		gaps[i] = ranges[i+1].first - ranges[i].last - 1
	}
	sorted := slices.Clone(gaps)
	slices.Sort(sorted)
	limit := sorted[len(ranges)-n-1]
	out := []rowRange{ranges[0]}
	for i, r := range ranges[1:] {
		if gaps[i] <= limit {
			out[len(out)-1].last = r.last
		} else {
			out = append(out, r)
		}
	}
	return out
}

// intersectRanges returns the rowids in both a and b (each sorted and disjoint).
func intersectRanges(a, b []rowRange) []rowRange {
	var out []rowRange
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		first := max(a[i].first, b[j].first)
		la, lb := a[i].last, b[j].last
		var last int64
		switch {
		case la < 0:
			last = lb
		case lb < 0:
			last = la
		default:
			last = min(la, lb)
		}
		if last < 0 || first <= last {
			out = append(out, rowRange{first, last})
		}
		// Advance the range that ends first (an open range ends last).
		if la >= 0 && (lb < 0 || la < lb) {
			i++
		} else {
			j++
		}
	}
	return out
}

// searchedTable returns what to read instead of the logs partition of day for q: the
// table itself, or the UNION ALL of cols over the ranges searchRanges keeps (pass
// "*, rowid AS rowid" as cols to keep rowid).
func (s *Store) searchedTable(ctx context.Context, day int64, cols string, q logIndexQuery) (string, error) {
	ranges, err := s.searchRanges(ctx, day, q)
	if err != nil {
		return "", err
	}
	return rangesSource(dayName(s.logs.schema.prefix, day), ranges, cols), nil
}

// unionAllSearched is unionAll over the logs partitions of days, each read through
// searchedTable.
func (s *Store) unionAllSearched(ctx context.Context, days []int64, cols string, q logIndexQuery) (string, error) {
	return unionAllDays(days, cols, func(day int64) (string, error) { return s.searchedTable(ctx, day, cols, q) })
}
