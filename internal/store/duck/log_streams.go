package duck

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/loupe-dev/loupe/internal/query/logql/plan"
)

// Stream spans: what LogQL's Streams asks of a logs partition (which res_ids have rows in
// a time range) without a scan of the partition. Every LogQL query starts with that list;
// as a GROUP BY over the partition it read ts and res_id of every row of the range (10M
// rows on the bench) before the query proper began.
//
// Per partition, the first and last timestamp and the service of each stream over its rows
// [0, upTo) are kept in memory. Rows never change and rowids are dense (blockindex.go), so
// a call only adds the rows committed since the last one (rowid >= upTo), a small tail.
// A stream whose span lies inside the asked range surely has rows in it, one whose span
// misses the range surely has none; only the streams in between are counted by SQL, over
// the range (whose ts zone maps prune row groups). A query over the whole retained time
// (what Grafana's and the bench's queries mostly ask) then needs no scan at all.

// tsSpan is a stream's first and last timestamp in a partition, and its service.
type tsSpan struct {
	min, max int64
	service  string
}

// dayStreams is the summary of one partition's rows [0, upTo).
type dayStreams struct {
	upTo  int64
	spans map[int64]tsSpan
}

// streamSpans keeps the summaries of the partitions queried so far.
type streamSpans struct {
	mu   sync.Mutex
	days map[int64]*dayStreams
}

// day returns the summary of table (the partition of day), brought up to the rows
// committed now. The returned map must not be changed.
func (c *streamSpans) day(ctx context.Context, db *sql.DB, table string, day int64, has func(int64) bool) (map[int64]tsSpan, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.days == nil {
		c.days = map[int64]*dayStreams{}
	}
	d := c.days[day]
	if d != nil {
		// A partition dropped by retention and created again has fewer rows than the
		// summary counted: start over. (count(*) is read from metadata.)
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			return nil, err
		}
		if n < d.upTo {
			d = nil
		}
	}
	if d == nil {
		d = &dayStreams{spans: map[int64]tsSpan{}}
	}
	// One snapshot: the rows read define the new upTo (the highest rowid seen + 1).
	rows, err := db.QueryContext(ctx, "SELECT res_id, min(ts), max(ts), any_value(service), max(rowid) FROM "+table+
		" WHERE rowid >= "+strconv.FormatInt(d.upTo, 10)+" GROUP BY res_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// Copy on write: callers of an earlier day() may still read the old map.
	spans := d.spans
	copied := false
	upTo := d.upTo
	for rows.Next() {
		var id, lo, hi, last int64
		var svc string
		if err := rows.Scan(&id, &lo, &hi, &svc, &last); err != nil {
			return nil, err
		}
		if !copied {
			spans = make(map[int64]tsSpan, len(d.spans)+1)
			for k, v := range d.spans {
				spans[k] = v
			}
			copied = true
		}
		if s, ok := spans[id]; ok {
			lo, hi = min(lo, s.min), max(hi, s.max)
		}
		spans[id] = tsSpan{min: lo, max: hi, service: svc}
		upTo = max(upTo, last+1)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c.days[day] = &dayStreams{upTo: upTo, spans: spans}
	for k := range c.days {
		if !has(k) {
			delete(c.days, k) // dropped by retention
		}
	}
	return spans, nil
}

// streamsBySpans lists the streams of the partitions of days with rows in [start, end)
// (end exclusive, endOrMax applied), using the stream summaries; the caller has checked
// that the partitions have a res_id column.
func (l logqlStore) streamsBySpans(ctx context.Context, days []int64, start, end int64) ([]plan.Stream, error) {
	found := map[int64]string{} // res_id -> service
	var unsure []int64
	unsureSet := map[int64]bool{}
	var unsureTables []string
	for _, day := range days {
		table := dayName(l.s.logs.schema.prefix, day)
		spans, err := l.s.streamSpans.day(ctx, l.s.db, table, day, l.s.logs.hasDay)
		if err != nil {
			return nil, fmt.Errorf("list log streams: %w", err)
		}
		tableUnsure := false
		for id, sp := range spans {
			switch {
			case sp.max < start || sp.min >= end:
			case sp.min >= start && sp.max < end:
				found[id] = sp.service
			default:
				tableUnsure = true
				if !unsureSet[id] {
					unsureSet[id] = true
					unsure = append(unsure, id)
				}
			}
		}
		if tableUnsure {
			unsureTables = append(unsureTables, table)
		}
	}
	var pending []int64
	for _, id := range unsure {
		if _, ok := found[id]; !ok {
			pending = append(pending, id)
		}
	}
	if len(pending) > 0 {
		// Keys are numbers from the database: inlined.
		var in strings.Builder
		for i, id := range pending {
			if i > 0 {
				in.WriteByte(',')
			}
			in.WriteString(strconv.FormatInt(id, 10))
		}
		rows, err := l.s.db.QueryContext(ctx, "SELECT DISTINCT res_id, service FROM "+unionAll(unsureTables, "res_id, service, ts")+
			" WHERE ts >= ? AND ts < ? AND res_id IN ("+in.String()+")", start, end)
		if err != nil {
			return nil, fmt.Errorf("list log streams: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var svc string
			if err := rows.Scan(&id, &svc); err != nil {
				return nil, fmt.Errorf("list log streams: %w", err)
			}
			found[id] = svc
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list log streams: %w", err)
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	return l.streamResources(ctx, found)
}

// streamResources returns the streams of found (res_id -> service) with their resources.
func (l logqlStore) streamResources(ctx context.Context, found map[int64]string) ([]plan.Stream, error) {
	var in strings.Builder
	first := true
	for id := range found {
		if !first {
			in.WriteByte(',')
		}
		first = false
		in.WriteString(strconv.FormatInt(id, 10))
	}
	res := make(map[int64]string, len(found))
	rows, err := l.s.db.QueryContext(ctx, "SELECT id, resource FROM log_resources WHERE id IN ("+in.String()+")")
	if err != nil {
		return nil, fmt.Errorf("list log streams: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var r string
		if err := rows.Scan(&id, &r); err != nil {
			return nil, fmt.Errorf("list log streams: %w", err)
		}
		res[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list log streams: %w", err)
	}
	out := make([]plan.Stream, 0, len(found))
	for id, svc := range found {
		st := plan.Stream{Key: uint64(id), Service: svc}
		if st.Resource, err = jsonToAny(res[id]); err != nil {
			return nil, fmt.Errorf("list log streams: %w", err)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b plan.Stream) int { return cmp.Compare(a.Key, b.Key) })
	return out, nil
}
