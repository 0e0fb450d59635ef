package chlogs

import (
	"context"
	"encoding/hex"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chattrs"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

const (
	defaultLimit = 100
	maxLimit     = 10_000
)

// filterConds translates f into SQL conditions. Every value goes through chsql's quoting.
func filterConds(f store.LogFilter) ([]string, error) {
	// Tenants come later (issue 12); the condition already uses the key's first column.
	conds := []string{"tenant = ''"}
	if !f.Start.IsZero() {
		conds = append(conds, "ts >= "+chsql.DateTime64(f.Start))
	}
	if !f.End.IsZero() {
		conds = append(conds, "ts < "+chsql.DateTime64(f.End))
	}
	if len(f.Services) > 0 {
		quoted := make([]string, len(f.Services))
		for i, svc := range f.Services {
			quoted[i] = chsql.String(svc)
		}
		conds = append(conds, "service IN ("+strings.Join(quoted, ", ")+")")
	}
	if f.MinSeverity > 0 {
		conds = append(conds, "severity_number >= "+strconv.Itoa(int(f.MinSeverity)))
	}
	if f.Contains != "" {
		// The same expression as the ngrambf_v1 index, so that ClickHouse uses it.
		lower := strings.ToLower(f.Contains)
		conds = append(conds, "lowerUTF8(body) LIKE "+chsql.String("%"+likeEscape(lower)+"%"))
		// Necessary conditions the body token index answers (tokens.go).
		conds = append(conds, tokenConds(lower)...)
	}
	if !f.TraceID.IsEmpty() {
		conds = append(conds, "trace_id = "+chsql.String(string(f.TraceID[:])))
	}
	if !f.SpanID.IsEmpty() {
		conds = append(conds, "span_id = "+chsql.String(string(f.SpanID[:])))
	}
	for _, a := range f.Attrs {
		c, err := attrCond(a)
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
	}
	return conds, nil
}

// likeEscape makes s match literally inside a LIKE pattern.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// attrCond is the condition of one attribute filter (chattrs.Cond): the record's
// attributes, then the resource's.
func attrCond(a store.AttrFilter) (string, error) {
	return chattrs.Cond(a, func(k, v string) string {
		// Written so that the bloom_filter indexes on the maps' values skip the granules
		// holding the value in neither map.
		return "(attributes[" + k + "] = " + v + " OR resource[" + k + "] = " + v + ")"
	})
}

// cursor is a record's position in the newest-first order (ts DESC, seq DESC).
type cursor struct {
	ts  int64
	seq uint64
}

func (c cursor) String() string {
	return strconv.FormatInt(c.ts, 10) + "." + strconv.FormatUint(c.seq, 10)
}

func parseCursor(s string) (cursor, error) {
	a, b, ok := strings.Cut(s, ".")
	ts, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return cursor{}, fmt.Errorf("bad cursor %q", s)
	}
	return cursor{ts: ts, seq: seq}, nil
}

const selectCols = `ts, seq, observed_ts, service, severity_number, severity_text, body,
	hex(trace_id), hex(span_id), flags, mapKeys(attributes), mapValues(attributes), attr_types,
	mapKeys(resource), mapValues(resource), resource_types, scope_name, scope_version`

// QueryLogs yields matching records newest first, in one query ordered by (ts, seq)
// descending: ClickHouse reads the filtered columns, keeps the top rows and reads the
// other columns of those rows only (lazy materialisation). See store.LogReader.
func (s *Store) QueryLogs(ctx context.Context, q store.LogQuery) iter.Seq2[store.LogRecord, error] {
	return func(yield func(store.LogRecord, error) bool) {
		fail := func(err error) { yield(store.LogRecord{}, fmt.Errorf("query logs: %w", err)) }
		limit := q.Limit
		if limit <= 0 {
			limit = defaultLimit
		}
		limit = min(limit, maxLimit)
		conds, err := filterConds(q.LogFilter)
		if err != nil {
			fail(err)
			return
		}
		hi := q.End
		if q.Cursor != "" {
			c, err := parseCursor(q.Cursor)
			if err != nil {
				fail(err)
				return
			}
			t := chsql.DateTime64(time.Unix(0, c.ts))
			seq := strconv.FormatUint(c.seq, 10)
			conds = append(conds, "ts <= "+t, "(ts < "+t+" OR seq < "+seq+")")
			if at := time.Unix(0, c.ts+1); hi.IsZero() || at.Before(hi) {
				hi = at
			}
		}
		// The windows end at the newest record when it is older than the range's end: a
		// range that ends after the last record (the last two hours of a service that
		// stopped logging an hour ago, or of a bench that loaded its data earlier) would
		// otherwise put every record in its last window.
		newest := hi
		if windowCuts(q.Start, hi) != nil {
			t, ok, err := s.newest(ctx)
			if err != nil {
				fail(err)
				return
			}
			if !ok || t.Before(q.Start) {
				return // no record in the range
			}
			if t.Before(hi) {
				newest = t.Add(time.Nanosecond)
			}
		}
		// Window i is [cuts[i], cuts[i-1]), the last one everything before the last cut.
		cuts := windowCuts(q.Start, newest)
		upper := ""
		for i := 0; i <= len(cuts); i++ {
			wconds := slices.Clip(conds)
			if upper != "" {
				wconds = append(wconds, "ts < "+upper)
			}
			if i < len(cuts) {
				wconds = append(wconds, "ts >= "+chsql.DateTime64(cuts[i]))
				upper = chsql.DateTime64(cuts[i])
			}
			n, ok, err := s.queryWindow(ctx, wconds, limit, yield)
			if err != nil {
				fail(err)
				return
			}
			if limit -= n; !ok || limit == 0 {
				return
			}
			if i == 0 && n == 0 && len(cuts) > 0 {
				// Nothing in the newest window: a rare match, for which each further window
				// would cost a query (4-7 ms on chDB for a window that reads nothing) for
				// little. The rest in one query.
				i = len(cuts) - 1
			}
		}
	}
}

// windowCuts splits [start, end) into the time windows QueryLogs reads one after
// another, newest first, and returns the start of each but the oldest (nil: one query for
// the whole range): the newest 1/1024 of the range, then windows 8 times as long, 7/1024
// and 56/1024, then the rest. The order, ts DESC, does not follow the ordering key
// (service comes first), so one query reads the filter's columns in every granule of the
// range to find the newest matches; when matches are common (a status code, a frequent
// word) the newest window holds enough of them and the rest is not read
// (http.status_code=503 on 2M records: one query over the range read 2M records). When the
// newest window holds no match, the rest is read in one query. Ranges without both ends,
// or shorter than minWindowedSpan, are read in one query.
func windowCuts(start, end time.Time) []time.Time {
	span := end.Sub(start)
	if start.IsZero() || end.IsZero() || span < minWindowedSpan {
		return nil
	}
	return []time.Time{end.Add(-span / 1024), end.Add(-span / 128), end.Add(-span / 16)}
}

// newest returns the time of the newest record of every tenant, and false when there is
// none. ClickHouse answers it from the parts' minmax index of ts (the partition key's
// column) without reading the column: min, max and count of the whole table took 1.8-1.9 ms
// on 10M records, a maximum over a time range, which reads ts, 85-94 ms.
func (s *Store) newest(ctx context.Context) (time.Time, bool, error) {
	rows, err := s.conn.Query(ctx, "SELECT toInt64(count()), max(ts) FROM "+s.schema.From(table))
	if err != nil {
		return time.Time{}, false, err
	}
	defer rows.Close()
	var n int64
	var t time.Time
	if rows.Next() {
		if err := rows.Scan(&n, &t); err != nil {
			return time.Time{}, false, err
		}
	}
	return t, n > 0, rows.Err()
}

// minWindowedSpan is the shortest range QueryLogs reads in windows.
const minWindowedSpan = 10 * time.Minute

// queryWindow yields up to limit records matching conds, newest first, and returns how
// many it yielded and false when yield asked to stop.
func (s *Store) queryWindow(ctx context.Context, conds []string, limit int, yield func(store.LogRecord, error) bool) (int, bool, error) {
	query := "SELECT " + selectCols + " FROM " + s.schema.From(table) + " WHERE " + strings.Join(conds, " AND ") +
		" ORDER BY ts DESC, seq DESC LIMIT " + strconv.Itoa(limit)
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return 0, true, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return n, true, err
		}
		n++
		if !yield(rec, nil) {
			return n, false, nil
		}
	}
	return n, true, rows.Err()
}

func scanRecord(rows chsql.Rows) (store.LogRecord, error) {
	var (
		r                   store.LogRecord
		seq                 uint64
		sev                 uint8
		traceHex, spanHex   string
		keys, vals          []string
		resKeys, resVals    []string
		attrTypes, resTypes string
	)
	err := rows.Scan(&r.Timestamp, &seq, &r.ObservedTimestamp, &r.Service, &sev, &r.SeverityText, &r.Body,
		&traceHex, &spanHex, &r.Flags, &keys, &vals, &attrTypes, &resKeys, &resVals, &resTypes,
		&r.ScopeName, &r.ScopeVersion)
	if err != nil {
		return r, err
	}
	r.Timestamp, r.ObservedTimestamp = r.Timestamp.UTC(), r.ObservedTimestamp.UTC()
	r.SeverityNumber = int32(sev)
	if err := decodeID(traceHex, r.TraceID[:]); err != nil {
		return r, err
	}
	if err := decodeID(spanHex, r.SpanID[:]); err != nil {
		return r, err
	}
	if r.Attributes, err = chattrs.Join(keys, vals, attrTypes); err != nil {
		return r, err
	}
	if r.Resource, err = chattrs.Join(resKeys, resVals, resTypes); err != nil {
		return r, err
	}
	r.Cursor = cursor{ts: r.Timestamp.UnixNano(), seq: seq}.String()
	return r, nil
}

// decodeID decodes hex(id) into dst, of the id's length.
func decodeID(h string, dst []byte) error {
	if len(h) != 2*len(dst) {
		return fmt.Errorf("id %q: want %d hex digits", h, 2*len(dst))
	}
	_, err := hex.Decode(dst, []byte(h))
	return err
}

// severitySQL normalises severity for counting, as the embedded backend does: the
// upper-cased text when set, else the OTLP short name of the number's range, else "".
const severitySQL = `multiIf(severity_text != '', upperUTF8(severity_text),
	severity_number BETWEEN 1 AND 4, 'TRACE',
	severity_number BETWEEN 5 AND 8, 'DEBUG',
	severity_number BETWEEN 9 AND 12, 'INFO',
	severity_number BETWEEN 13 AND 16, 'WARN',
	severity_number BETWEEN 17 AND 20, 'ERROR',
	severity_number BETWEEN 21 AND 24, 'FATAL', '')`

// CountLogs counts matching records per bucket and normalised severity in one grouped
// query. Buckets are aligned to q.Start, or to the Unix epoch when Start is zero. See
// store.LogReader.
func (s *Store) CountLogs(ctx context.Context, q store.LogCountQuery) ([]store.LogCount, error) {
	if q.Step <= 0 {
		return nil, fmt.Errorf("count logs: step must be > 0, got %s", q.Step)
	}
	query, err := s.countQuery(q)
	if err != nil {
		return nil, fmt.Errorf("count logs: %w", err)
	}
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("count logs: %w", err)
	}
	defer rows.Close()
	var out []store.LogCount
	for rows.Next() {
		var b int64
		var sev string
		var n uint64
		if err := rows.Scan(&b, &sev, &n); err != nil {
			return nil, fmt.Errorf("count logs: %w", err)
		}
		out = append(out, store.LogCount{Bucket: time.Unix(0, b).UTC(), Severity: sev, Count: int64(n)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count logs: %w", err)
	}
	return out, nil
}

// countQuery is the SQL of CountLogs.
func (s *Store) countQuery(q store.LogCountQuery) (string, error) {
	f, ns := q.LogFilter, "toUnixTimestamp64Nano(ts)"
	var secConds []string
	if wholeSeconds(q) {
		// Every bucket edge and range end is a whole second, so a record counts as its
		// second would: the query is written on toStartOfSecond(ts), which the
		// projection p_counts (schema.go) answers when the other filters are on its
		// columns (service, severity), and the table otherwise, with the same counts.
		sec := "toStartOfSecond(ts)"
		secConds = append(secConds, sec+" >= "+chsql.DateTime64(q.Start))
		if !q.End.IsZero() {
			secConds = append(secConds, sec+" < "+chsql.DateTime64(q.End))
		}
		f.Start, f.End, ns = time.Time{}, time.Time{}, "toUnixTimestamp64Nano("+sec+")"
	}
	conds, err := filterConds(f)
	if err != nil {
		return "", err
	}
	conds = append(conds, secConds...)
	var origin int64
	if !q.Start.IsZero() {
		origin = q.Start.UnixNano()
	}
	o, step := strconv.FormatInt(origin, 10), strconv.FormatInt(int64(q.Step), 10)
	// Floor division, also for records before the origin (possible without a Start).
	bucket := "toInt64(" + o + " + intDiv(" + ns + " - " + o + " - if(" + ns + " < " + o + ", " + step + " - 1, 0), " + step + ") * " + step + ")"
	return "SELECT " + bucket + " AS bucket, " + severitySQL + " AS sev, count() FROM " + s.schema.From(table) +
		" WHERE " + strings.Join(conds, " AND ") + " GROUP BY bucket, sev ORDER BY bucket, sev", nil
}

// wholeSeconds tells whether q's range and buckets start and end on whole seconds, from
// 1970 on (toStartOfSecond's range; a count without a start goes to the table).
func wholeSeconds(q store.LogCountQuery) bool {
	sec := int64(time.Second)
	if q.Start.IsZero() || q.Start.Year() >= 2262 || q.End.Year() >= 2262 { // UnixNano's range
		return false
	}
	if q.Start.UnixNano() < 0 || q.Start.UnixNano()%sec != 0 || int64(q.Step)%sec != 0 {
		return false
	}
	return q.End.IsZero() || q.End.UnixNano()%sec == 0
}
