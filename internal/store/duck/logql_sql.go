package duck

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"

	"github.com/loupe-dev/loupe/internal/query/logql/plan"
)

// This file implements plan.Store, the part of LogQL the store runs in SQL: the stream
// list, line filters and per-bucket counts. A stream is one res_id (log_resources.go):
// a resource with a scope; the engine merges streams whose labels are equal.

// LogQL returns the store as the LogQL engine sees it.
func (s *Store) LogQL() plan.Store { return logqlStore{s} }

type logqlStore struct{ s *Store }

// rowsPage is how many rows one paged query of Rows fetches. A page is a top-N over the
// filtered rows of one partition, resumed after the last (ts, rowid) seen.
const rowsPage = 2000

// streamKey returns the SQL expression of a row's stream key. Partitions written with a
// res_id column (log_resources.go) use it; older layouts with the resource text inline
// use a hash of it. The layout is read from the catalog, so the LogQL queries keep
// working across the store's layout changes.
func (l logqlStore) streamKey(ctx context.Context, table string) (string, error) {
	var n int
	err := l.s.db.QueryRowContext(ctx,
		"SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ? AND column_name = 'res_id'", table).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("read logs layout: %w", err)
	}
	if n > 0 {
		return "res_id", nil
	}
	return "(hash(resource) >> 1)::BIGINT", nil
}

func (l logqlStore) Streams(ctx context.Context, start, end int64, stats bool) ([]plan.Stream, error) {
	tables := l.s.logs.tables(start, end)
	if len(tables) == 0 {
		return nil, nil
	}
	key, err := l.streamKey(ctx, tables[0])
	if err != nil {
		return nil, err
	}
	if key == "res_id" && !stats {
		return l.streamsBySpans(ctx, l.s.logs.daysIn(start, end), start, endOrMax(end))
	}
	agg := "0, 0"
	if stats {
		agg = "count(*), sum(strlen(body))"
	}
	var q string
	if key == "res_id" {
		q = "SELECT s.k, s.svc, coalesce(r.resource, ''), s.n, s.b FROM (SELECT res_id, any_value(service), " + agg +
			" FROM " + unionAll(tables, "*") + " WHERE ts >= ? AND ts < ? GROUP BY res_id) s(k, svc, n, b)" +
			" LEFT JOIN log_resources r ON r.id = s.k"
	} else {
		q = "SELECT " + key + " AS k, any_value(service), any_value(resource), " + agg +
			" FROM " + unionAll(tables, "*") + " WHERE ts >= ? AND ts < ? GROUP BY k"
	}
	rows, err := l.s.db.QueryContext(ctx, q, start, endOrMax(end))
	if err != nil {
		return nil, fmt.Errorf("list log streams: %w", err)
	}
	defer rows.Close()
	var out []plan.Stream
	for rows.Next() {
		var st plan.Stream
		var id int64
		var res string
		var n, b sql.NullInt64
		if err := rows.Scan(&id, &st.Service, &res, &n, &b); err != nil {
			return nil, fmt.Errorf("list log streams: %w", err)
		}
		st.Key, st.Entries, st.Bytes = uint64(id), n.Int64, b.Int64
		if st.Resource, err = jsonToAny(res); err != nil {
			return nil, fmt.Errorf("list log streams: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list log streams: %w", err)
	}
	return out, nil
}

func endOrMax(end int64) int64 {
	if end <= 0 {
		return 1<<63 - 1
	}
	return end
}

// logqlWhere builds the conditions of sel (time range, streams, line filters); key is
// the stream key expression.
func logqlWhere(sel plan.Select, key string) *where {
	w := &where{}
	w.add("ts >= ? AND ts < ?", sel.Start, endOrMax(sel.End))
	if sel.Streams != nil {
		if len(sel.Streams) == 0 {
			w.add("false")
		} else {
			// Keys come from Streams (the database), and are numbers: inlined.
			var b strings.Builder
			for i, k := range sel.Streams {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.FormatInt(int64(k), 10))
			}
			w.add(key + " IN (" + b.String() + ")")
		}
	}
	for _, f := range sel.LineFilters {
		var fn string
		switch f.Op {
		case plan.LineContains, plan.LineNotContains:
			// contains is case-sensitive, as LogQL's |= is.
			fn = "contains(body, ?)"
		default:
			// regexp_matches is RE2 and unanchored, as LogQL's |~ is.
			fn = "regexp_matches(body, ?)"
		}
		conds := make([]string, len(f.Values))
		args := make([]any, len(f.Values))
		for i, v := range f.Values {
			conds[i], args[i] = fn, v
		}
		cond := "(" + strings.Join(conds, " OR ") + ")"
		if f.Op == plan.LineNotContains || f.Op == plan.LineNotMatch {
			cond = "NOT " + cond
		}
		w.add(cond, args...)
	}
	for _, f := range sel.AttrFilters {
		if f.Value == "" {
			continue
		}
		// Narrowing only (plan.AttrFilter): the value's text is in attr_vals when it is
		// a plain string, an int or a bool. A double is stored in Go's 'g' form and
		// labelled in its 'f' form, both shortest round trips, so its stored text is
		// found from the parsed value. Values stored as JSON may spell it otherwise, so
		// records with any such value are kept. The engine applies the filter exactly.
		cond := "contains(attr_vals, ?) OR contains(attr_vals, ?) OR prefix(attr_vals, 'j')"
		args := []any{f.Value, string(rune(attrSep)) + "j"}
		if x, err := strconv.ParseFloat(f.Value, 64); err == nil {
			cond += " OR contains(attr_vals, ?)"
			args = append(args, "d"+string(appendDoublePlain(nil, x)))
		}
		w.add("("+cond+")", args...)
	}
	return w
}

// logqlIndexQuery is what sel asks of the block indexes: its positive substring filters
// and its attribute equalities.
func logqlIndexQuery(sel plan.Select) logIndexQuery {
	q := logIndexQuery{needles: lineNeedles(sel.LineFilters)}
	q.terms = q.terms.bodyTerms(q.needles)
	for _, f := range sel.AttrFilters {
		q.terms = q.terms.attrTerm(f.Name, f.Value)
	}
	return q
}

// lineNeedles is what the positive substring filters (|=) ask of bodies, for the search
// index (grams.go); |~ and the negative filters do not use it.
func lineNeedles(filters []plan.LineFilter) bodyNeedles {
	var out bodyNeedles
	for _, f := range filters {
		if f.Op == plan.LineContains && len(f.Values) > 0 {
			out = append(out, f.Values)
		}
	}
	return out
}

func (l logqlStore) Rows(ctx context.Context, sel plan.Select) iter.Seq2[plan.Row, error] {
	return func(yield func(plan.Row, error) bool) {
		days := l.s.logs.daysIn(sel.Start, sel.End)
		if sel.Forward {
			slices.Reverse(days)
		}
		if len(days) == 0 {
			return
		}
		key, err := l.streamKey(ctx, dayName(l.s.logs.schema.prefix, days[0]))
		if err != nil {
			yield(plan.Row{}, err)
			return
		}
		base := logqlWhere(sel, key)
		iq := logqlIndexQuery(sel)
		if sel.Unordered {
			// One streaming scan of every partition; rowid is not needed for paging.
			source, err := l.s.unionAllSearched(ctx, days, "*", iq)
			if err != nil {
				yield(plan.Row{}, fmt.Errorf("read logs: %w", err))
				return
			}
			q := "SELECT ts, 0, " + rowColumns(key, !sel.NoAttributes) + " FROM " + source + base.sql()
			var ts, seq int64
			l.page(ctx, q, base.args, !sel.NoAttributes, &ts, &seq, yield)
			return
		}
		left := sel.Limit
		for _, day := range days {
			table := dayName(l.s.logs.schema.prefix, day)
			source, err := l.s.searchedTable(ctx, day, "*, rowid AS rowid", iq)
			if err != nil {
				yield(plan.Row{}, fmt.Errorf("read logs: %w", err))
				return
			}
			var cursorTs, cursorSeq int64
			first := true
			for {
				n := rowsPage
				if sel.Limit > 0 {
					if left <= 0 {
						return
					}
					n = min(n, left)
				}
				w := &where{conds: slices.Clone(base.conds), args: slices.Clone(base.args)}
				order := " ORDER BY ts DESC, rowid DESC"
				if sel.Forward {
					order = " ORDER BY ts, rowid"
				}
				if !first {
					if sel.Forward {
						w.add("(ts > ? OR (ts = ? AND rowid > ?))", cursorTs, cursorTs, cursorSeq)
					} else {
						w.add("(ts < ? OR (ts = ? AND rowid < ?))", cursorTs, cursorTs, cursorSeq)
					}
				}
				// Two steps, as QueryLogs does: the positions of the page (a top-N over two
				// columns), then the wide rows at those positions. One top-N over wide rows
				// materialises every column of every candidate.
				ids, err := l.positions(ctx, "SELECT rowid FROM "+source+w.sql()+order+" LIMIT "+strconv.Itoa(n), w.args)
				if err != nil {
					yield(plan.Row{}, err)
					return
				}
				got := 0
				if len(ids) > 0 {
					q := "SELECT ts, rowid, " + rowColumns(key, !sel.NoAttributes) + " FROM " + table +
						" WHERE " + rowidsCond("rowid", ids) + order
					var ok bool
					if got, ok = l.page(ctx, q, nil, !sel.NoAttributes, &cursorTs, &cursorSeq, yield); !ok {
						return
					}
				}
				first = false
				left -= got
				if got < n {
					break
				}
			}
		}
	}
}

// positions runs a query of rowids and returns them.
func (l logqlStore) positions(ctx context.Context, q string, args []any) ([]int64, error) {
	rows, err := l.s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read logs: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	return ids, nil
}

// rowColumns are the columns page scans after ts and the position.
func rowColumns(key string, attrs bool) string {
	cols := key + ", body, severity_text, severity_number, trace_hi, trace_lo, span_id, "
	if attrs {
		return cols + "attr_keys, attr_vals"
	}
	return cols + "'', ''"
}

// page runs one page query and yields its rows; it returns how many rows it yielded and
// false when iteration must stop.
func (l logqlStore) page(ctx context.Context, q string, args []any, attrs bool, cursorTs, cursorSeq *int64, yield func(plan.Row, error) bool) (int, bool) {
	rows, err := l.s.db.QueryContext(ctx, q, args...)
	if err != nil {
		yield(plan.Row{}, fmt.Errorf("read logs: %w", err))
		return 0, false
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			r                        plan.Row
			sev                      int8
			traceHi, traceLo, spanID sql.NullInt64
			keys, vals               string
		)
		var key int64
		if err := rows.Scan(&r.Timestamp, cursorSeq, &key, &r.Body, &r.SeverityText, &sev,
			&traceHi, &traceLo, &spanID, &keys, &vals); err != nil {
			yield(plan.Row{}, fmt.Errorf("read logs: %w", err))
			return n, false
		}
		r.Stream = uint64(key)
		*cursorTs = r.Timestamp
		r.SeverityNumber = int32(sev)
		if traceHi.Valid && traceLo.Valid {
			r.TraceID = traceIDFrom(traceHi.Int64, traceLo.Int64).String()
		}
		if spanID.Valid {
			r.SpanID = spanIDFrom(spanID.Int64).String()
		}
		if attrs {
			if r.Attributes, err = attrColsToAny(keys, vals); err != nil {
				yield(plan.Row{}, fmt.Errorf("read logs: %w", err))
				return n, false
			}
		}
		n++
		if !yield(r, nil) {
			return n, false
		}
	}
	if err := rows.Err(); err != nil {
		yield(plan.Row{}, fmt.Errorf("read logs: %w", err))
		return n, false
	}
	return n, true
}

func (l logqlStore) Buckets(ctx context.Context, sel plan.Select, origin, width int64) ([]plan.Bucket, error) {
	if width <= 0 {
		return nil, fmt.Errorf("count logs: bucket width must be > 0")
	}
	days := l.s.logs.daysIn(sel.Start, sel.End)
	if len(days) == 0 {
		return nil, nil
	}
	key, err := l.streamKey(ctx, dayName(l.s.logs.schema.prefix, days[0]))
	if err != nil {
		return nil, err
	}
	source, err := l.s.unionAllSearched(ctx, days, "*", logqlIndexQuery(sel))
	if err != nil {
		return nil, fmt.Errorf("count logs: %w", err)
	}
	w := logqlWhere(sel, key)
	w.add("ts > ?", origin)
	bytes := "0"
	if sel.BodyBytes {
		bytes = "sum(strlen(body))"
	}
	q := "SELECT " + key + " AS k, " + detectedLevelSQL + " AS lvl, (ts - ? - 1) // ? AS b, count(*), " + bytes + " FROM " +
		source + w.sql() + " GROUP BY k, lvl, b"
	rows, err := l.s.db.QueryContext(ctx, q, append([]any{origin, width}, w.args...)...)
	if err != nil {
		return nil, fmt.Errorf("count logs: %w", err)
	}
	defer rows.Close()
	var out []plan.Bucket
	for rows.Next() {
		var b plan.Bucket
		var id int64
		var n sql.NullInt64
		if err := rows.Scan(&id, &b.Level, &b.Index, &b.Count, &n); err != nil {
			return nil, fmt.Errorf("count logs: %w", err)
		}
		b.Stream, b.Bytes = uint64(id), n.Int64
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count logs: %w", err)
	}
	return out, nil
}

// detectedLevelSQL is LogQL's detected_level of a record, as the engine computes it for
// rows (logql.detectedLevel).
const detectedLevelSQL = `CASE
	WHEN severity_text <> '' THEN lower(severity_text)
	WHEN severity_number BETWEEN 1 AND 4 THEN 'trace'
	WHEN severity_number BETWEEN 5 AND 8 THEN 'debug'
	WHEN severity_number BETWEEN 9 AND 12 THEN 'info'
	WHEN severity_number BETWEEN 13 AND 16 THEN 'warn'
	WHEN severity_number BETWEEN 17 AND 20 THEN 'error'
	WHEN severity_number > 20 THEN 'fatal'
	ELSE '' END`
