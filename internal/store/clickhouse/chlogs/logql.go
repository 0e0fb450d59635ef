package chlogs

import (
	"context"
	"encoding/base64"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/loupe-dev/loupe/internal/query/logql/plan"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chattrs"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// This file implements plan.Store, the part of LogQL the store runs in SQL: the stream
// list, line filters, attribute narrowing, time range, order, limit and per-bucket counts
// (GROUP BY). A stream is one resource: its key is a hash of the resource's keys, string
// forms and type letters, computed in SQL, so Streams, Rows and Buckets agree without a
// resource table. Two records of equal resources written with their keys in another order
// get two keys; the engine merges streams whose labels are equal.

// LogQL returns the store as the LogQL engine sees it.
func (s *Store) LogQL() plan.Store { return logqlStore{s: s, services: &serviceCache{}} }

type logqlStore struct {
	s        *Store
	services *serviceCache
}

// serviceCache remembers the service of the stream keys Streams returned. The engine
// lists the streams before it reads rows of some of them by key; with the keys' services
// known, Rows and Buckets also filter on service, the ordering key's second column, so
// that ClickHouse reads the granules of those services only. The hash hides the service,
// so an unknown key (a stream listed by another engine) just goes without that filter.
type serviceCache struct {
	mu sync.Mutex
	m  map[uint64]string
}

// maxCachedStreams bounds the cache; when full it starts over.
const maxCachedStreams = 1 << 16

func (c *serviceCache) put(streams []plan.Stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(streams) > maxCachedStreams {
		c.m = make(map[uint64]string, len(streams))
	}
	for _, st := range streams {
		c.m[st.Key] = st.Service
	}
}

// of returns the distinct services of keys, or false when one is unknown.
func (c *serviceCache) of(keys []uint64) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		svc, ok := c.m[k]
		if !ok {
			return nil, false
		}
		if !seen[svc] {
			seen[svc] = true
			out = append(out, svc)
		}
	}
	return out, true
}

// streamKeyExpr is a row's stream key, stored as the column stream_key (schema.go,
// migration 2), which streamKeySQL reads.
const (
	streamKeyExpr = "cityHash64(mapKeys(resource), mapValues(resource), resource_types)"
	streamKeySQL  = "stream_key"
)

// timeRange is the conditions of [start, end); end <= 0 is no upper bound.
func timeRange(start, end int64) []string {
	conds := []string{"tenant = ''", "ts >= " + chsql.DateTime64(time.Unix(0, start))}
	if end > 0 {
		conds = append(conds, "ts < "+chsql.DateTime64(time.Unix(0, end)))
	}
	return conds
}

// Streams lists the streams in two queries. The first groups the range's records by
// stream_key (8 bytes a record) and keeps, per stream, its service and the time of one of
// its records; the second reads the resource of those records only, found by the primary
// key (service, ts). Reading the resource maps of every record in the range (one query
// with any(resource)) took 1.6 s on 2M records.
func (l logqlStore) Streams(ctx context.Context, start, end int64, stats bool) ([]plan.Stream, error) {
	conds := timeRange(start, end)
	rows, err := l.s.conn.Query(ctx, l.streamsQuery(start, end, stats))
	if err != nil {
		return nil, fmt.Errorf("list log streams: %w", err)
	}
	defer rows.Close()
	var out []plan.Stream
	var first []int64
	for rows.Next() {
		var (
			st   plan.Stream
			n, b uint64
			t    int64
		)
		if err := rows.Scan(&st.Key, &st.Service, &t, &n, &b); err != nil {
			return nil, fmt.Errorf("list log streams: %w", err)
		}
		if stats {
			st.Entries, st.Bytes = int64(n), int64(b)
		}
		out = append(out, st)
		first = append(first, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list log streams: %w", err)
	}
	if err := l.resources(ctx, conds, out, first); err != nil {
		return nil, fmt.Errorf("list log streams: %w", err)
	}
	l.services.put(out)
	return out, nil
}

// streamsQuery is the first query of Streams: per stream key, its service, the time of
// its first record in [start, end) (end <= 0: no end), and with stats its records and
// body bytes. A stream's service is that of its resource, so grouping by (key, service)
// groups by key. The whole seconds of the range are read from the projection p_streams
// (migration 3: the same per stream and second), the partial seconds at its ends from
// the table, and the two summed: on 2M records 48 ms against 250 ms for the table alone.
func (l logqlStore) streamsQuery(start, end int64, stats bool) string {
	from := l.s.schema.From(table)
	const sec = int64(time.Second)
	first := (start + sec - 1) / sec * sec // the first whole second
	last := end / sec * sec                // the end of the last whole second
	if start < 0 || start > maxDate.UnixNano() || end > 0 && last <= first {
		agg := "toUInt64(0), toUInt64(0)"
		if stats {
			agg = "count(), sum(length(body))"
		}
		return "SELECT " + streamKeySQL + " AS k, service, toUnixTimestamp64Nano(min(ts)), " + agg + " FROM " + from +
			" WHERE " + strings.Join(timeRange(start, end), " AND ") + " GROUP BY k, service"
	}
	cols := "SELECT " + streamKeySQL + " AS k, service, min(ts) AS t, count() AS n, sum(length(body)) AS b FROM " + from
	whole := []string{"tenant = ''", "toStartOfSecond(ts) >= " + chsql.DateTime64(time.Unix(0, first))}
	edges := "(ts >= " + chsql.DateTime64(time.Unix(0, start)) + " AND ts < " + chsql.DateTime64(time.Unix(0, first)) + ")"
	if end > 0 {
		whole = append(whole, "toStartOfSecond(ts) < "+chsql.DateTime64(time.Unix(0, last)))
		edges += " OR (ts >= " + chsql.DateTime64(time.Unix(0, last)) + " AND ts < " + chsql.DateTime64(time.Unix(0, end)) + ")"
	}
	return "SELECT k, service, toUnixTimestamp64Nano(min(t)), sum(n), sum(b) FROM (" +
		cols + " WHERE " + strings.Join(whole, " AND ") + " GROUP BY k, service UNION ALL " +
		cols + " WHERE tenant = '' AND (" + edges + ") GROUP BY k, service) GROUP BY k, service"
}

// resources fills in the resources of streams, each from its record at time first[i]
// (by the primary key), or for the streams whose record is gone meanwhile (retention),
// from any of their records in the range (conds).
func (l logqlStore) resources(ctx context.Context, conds []string, streams []plan.Stream, first []int64) error {
	if len(streams) == 0 {
		return nil
	}
	at := make([]string, len(streams))
	keys := make([]string, len(streams))
	byKey := make(map[uint64]int, len(streams))
	for i, st := range streams {
		at[i] = "(" + chsql.String(st.Service) + ", " + chsql.DateTime64(time.Unix(0, first[i])) + ")"
		keys[i] = strconv.FormatUint(st.Key, 10)
		byKey[st.Key] = i
	}
	read := func(where string) error {
		q := "SELECT " + streamKeySQL + " AS k, mapKeys(resource), mapValues(resource), resource_types FROM " + l.s.schema.From(table) +
			" WHERE " + where + " AND k IN (" + strings.Join(keys, ",") + ") LIMIT 1 BY k"
		rows, err := l.s.conn.Query(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k      uint64
				rk, rv []string
				types  string
			)
			if err := rows.Scan(&k, &rk, &rv, &types); err != nil {
				return err
			}
			i, ok := byKey[k]
			if !ok {
				continue
			}
			if streams[i].Resource, err = chattrs.Join(rk, rv, types); err != nil {
				return err
			}
			delete(byKey, k)
		}
		return rows.Err()
	}
	if err := read("tenant = '' AND (service, ts) IN (" + strings.Join(at, ", ") + ")"); err != nil {
		return err
	}
	if len(byKey) == 0 {
		return nil
	}
	keys = keys[:0]
	for k := range byKey {
		keys = append(keys, strconv.FormatUint(k, 10))
	}
	return read(strings.Join(conds, " AND "))
}

// logqlConds is the WHERE conditions of sel: time range, streams, line filters and the
// attribute narrowing (which looks up the attribute keys of the range: attrKeys).
func (l logqlStore) logqlConds(ctx context.Context, sel plan.Select) ([]string, error) {
	conds := timeRange(sel.Start, sel.End)
	if sel.Streams != nil {
		if len(sel.Streams) == 0 {
			conds = append(conds, "false")
		} else {
			keys := make([]string, len(sel.Streams))
			for i, k := range sel.Streams {
				keys[i] = strconv.FormatUint(k, 10)
			}
			conds = append(conds, streamKeySQL+" IN ("+strings.Join(keys, ",")+")")
			if services, ok := l.services.of(sel.Streams); ok {
				for i, svc := range services {
					services[i] = chsql.String(svc)
				}
				conds = append(conds, "service IN ("+strings.Join(services, ",")+")")
			}
		}
	}
	for _, f := range sel.LineFilters {
		conds = append(conds, lineFilterConds(f)...)
	}
	var keys map[string][]string
	for _, f := range sel.AttrFilters {
		if f.Value == "" {
			continue
		}
		if keys == nil {
			var err error
			if keys, err = l.attrKeys(ctx, sel, conds); err != nil {
				return nil, err
			}
		}
		conds = append(conds, attrNarrowing(keys[f.Name], f.Value))
	}
	return conds, nil
}

// attrKeys returns the record attribute keys of the rows matching conds, by the label
// name they sanitize to. It reads only the maps' keys (a LowCardinality subcolumn); with
// the keys known, an attribute filter is written as attributes[key] = value, the form the
// bloom_filter index on the map's values answers (has(mapValues(attributes), value) does
// not let ClickHouse 26.7 skip granules: TestLogQLSkipIndexes).
func (l logqlStore) attrKeys(ctx context.Context, sel plan.Select, conds []string) (map[string][]string, error) {
	rows, err := l.s.conn.Query(ctx, l.attrKeysQuery(sel, conds))
	if err != nil {
		return nil, fmt.Errorf("attribute keys: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("attribute keys: %w", err)
		}
		name := sanitizeLabelName(k)
		out[name] = append(out[name], k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attribute keys: %w", err)
	}
	return out, nil
}

// maxDate is the last day of ClickHouse's Date type.
var maxDate = time.Date(2149, 6, 6, 0, 0, 0, 0, time.UTC)

// attrKeysQuery is the SQL of attrKeys: the keys of the range's days, a superset of the
// range's, from the projection p_attr_keys (schema.go), as a narrowing by more keys keeps
// the same records; the keys of the rows matching conds when the range is outside Date.
func (l logqlStore) attrKeysQuery(sel plan.Select, conds []string) string {
	if start, end, ok := days(sel); ok {
		return "SELECT arrayJoin(groupUniqArrayArray(mapKeys(attributes))) FROM " + l.s.schema.From(table) +
			" WHERE tenant = '' AND toDate(ts) >= " + start + " AND toDate(ts) <= " + end
	}
	return "SELECT DISTINCT arrayJoin(mapKeys(attributes)) FROM " + l.s.schema.From(table) + " WHERE " + strings.Join(conds, " AND ")
}

// days returns the first and last UTC day of sel's range as Date literals, or false
// when the range starts before 1970 (outside ClickHouse's Date).
func days(sel plan.Select) (string, string, bool) {
	if sel.Start < 0 || sel.Start >= maxDate.UnixNano() {
		return "", "", false
	}
	day := func(ns int64) string { return "'" + time.Unix(0, ns).UTC().Format(time.DateOnly) + "'" }
	last := maxDate.UnixNano()
	if sel.End > 0 && sel.End-1 < last {
		last = sel.End - 1
	}
	return day(sel.Start), day(last), true
}

// sanitizeLabelName is logql.SanitizeLabelName (a copy, so that the store does not import
// the engine; TestSanitizeLabelName keeps them equal): every rune outside [A-Za-z0-9_]
// becomes '_', and a leading digit gets a '_' before it.
func sanitizeLabelName(k string) string {
	var b strings.Builder
	for i, r := range k {
		if i == 0 && r >= '0' && r <= '9' {
			b.WriteByte('_')
		}
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// lineFilterConds is the condition of one line filter, plus, for a positive substring
// filter of ASCII needles, the same test on lowerUTF8(body) as a LIKE, which the body's
// ngrambf_v1 index (on lowerUTF8(body), schema.go) can use to skip granules. The LIKE
// never rejects a row the case-sensitive test keeps: ASCII letters lower-case the same in
// Go and in lowerUTF8, code point by code point.
func lineFilterConds(f plan.LineFilter) []string {
	if len(f.Values) == 0 {
		return nil
	}
	tests := make([]string, len(f.Values))
	for i, v := range f.Values {
		switch f.Op {
		case plan.LineContains, plan.LineNotContains:
			// position is case-sensitive, as LogQL's |= is.
			tests[i] = "position(body, " + chsql.String(v) + ") > 0"
		default:
			// match is RE2, unanchored, as LogQL's |~ is; but ClickHouse lets '.' match a
			// newline unless told otherwise, which Go's RE2 (and Loki) do not.
			tests[i] = "match(body, " + chsql.String("(?-s)"+v) + ")"
		}
	}
	cond := "(" + strings.Join(tests, " OR ") + ")"
	if f.Op == plan.LineNotContains || f.Op == plan.LineNotMatch {
		return []string{"NOT " + cond}
	}
	if f.Op != plan.LineContains {
		return []string{cond}
	}
	likes := make([]string, len(f.Values))
	toks := make([]string, 0, len(f.Values))
	for i, v := range f.Values {
		if !isASCII(v) {
			return []string{cond}
		}
		lower := strings.ToLower(v)
		likes[i] = "lowerUTF8(body) LIKE " + chsql.String("%"+likeEscape(lower)+"%")
		if tc := tokenConds(lower); len(tc) > 0 {
			toks = append(toks, "("+strings.Join(tc, " AND ")+")")
		}
	}
	out := []string{"(" + strings.Join(likes, " OR ") + ")", cond}
	if len(toks) == len(f.Values) {
		// Every value has tokens the body token index answers (tokens.go).
		out = append(out, "("+strings.Join(toks, " OR ")+")")
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// attrNarrowing keeps the records whose attribute under one of keys (those sanitizing to
// the filter's name) may be labelled v (plan.AttrFilter: narrowing only, the engine applies
// the filter exactly). The label of a string, int or bool is its stored string form
// (chattrs). A double is labelled in its 'f' form and stored in the 'g' form, so its
// stored form is added from the parsed value. Bytes are stored as {"@bytes":"<base64>"}
// and labelled as the base64. Arrays and maps are stored as typed JSON that may spell the
// label otherwise, so when v may be one (mayBeJSONLabel) records having any such value
// (type letter j) are kept too; that test no index answers, so such a filter skips no
// granules. No key: no record has the attribute, none matches.
func attrNarrowing(keys []string, v string) string {
	forms := []string{v}
	if x, err := strconv.ParseFloat(v, 64); err == nil {
		if d := string(chattrs.AppendDouble(nil, x)); d != v {
			forms = append(forms, d)
		}
	}
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && base64.StdEncoding.EncodeToString(b) == v {
		forms = append(forms, `{"`+chattrs.TagBytes+`":"`+v+`"}`)
	}
	var alts []string
	for _, k := range keys {
		for _, f := range forms {
			alts = append(alts, "attributes["+chsql.String(k)+"] = "+chsql.String(f))
		}
	}
	if len(alts) == 0 {
		return "false"
	}
	if mayBeJSONLabel(v) {
		alts = append(alts, "position(attr_types, 'j') > 0")
	}
	return "(" + strings.Join(alts, " OR ") + ")"
}

// mayBeJSONLabel tells whether v may be the label of an array or map, as the engine
// spells it (logql's valueString): JSON, or fmt's "map[" when it holds what JSON cannot
// encode (NaN).
func mayBeJSONLabel(v string) bool {
	return strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{") || strings.HasPrefix(v, "map[")
}

func (l logqlStore) Rows(ctx context.Context, sel plan.Select) iter.Seq2[plan.Row, error] {
	return func(yield func(plan.Row, error) bool) {
		fail := func(err error) { yield(plan.Row{}, fmt.Errorf("read logs: %w", err)) }
		cols := "toUnixTimestamp64Nano(ts), " + streamKeySQL + ", body, severity_text, severity_number, hex(trace_id), hex(span_id)"
		attrs := !sel.NoAttributes
		if attrs {
			cols += ", mapKeys(attributes), mapValues(attributes), attr_types"
		}
		conds, err := l.logqlConds(ctx, sel)
		if err != nil {
			fail(err)
			return
		}
		q := "SELECT " + cols + " FROM " + l.s.schema.From(table) + " WHERE " + strings.Join(conds, " AND ")
		if !sel.Unordered {
			// One query: ClickHouse keeps the top rows while it reads (a LIMIT over ORDER
			// BY), and reads the wide columns of those rows only.
			if sel.Forward {
				q += " ORDER BY ts, seq"
			} else {
				q += " ORDER BY ts DESC, seq DESC"
			}
			if sel.Limit > 0 {
				q += " LIMIT " + strconv.Itoa(sel.Limit)
			}
		}
		rows, err := l.s.conn.Query(ctx, q)
		if err != nil {
			fail(err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r                 plan.Row
				sev               uint8
				traceHex, spanHex string
				keys, vals        []string
				types             string
			)
			dest := []any{&r.Timestamp, &r.Stream, &r.Body, &r.SeverityText, &sev, &traceHex, &spanHex}
			if attrs {
				dest = append(dest, &keys, &vals, &types)
			}
			if err := rows.Scan(dest...); err != nil {
				fail(err)
				return
			}
			r.SeverityNumber = int32(sev)
			r.TraceID, r.SpanID = idText(traceHex), idText(spanHex)
			if attrs {
				if r.Attributes, err = chattrs.Join(keys, vals, types); err != nil {
					fail(err)
					return
				}
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			fail(err)
		}
	}
}

// idText is an id as the engine shows it: lower-case hex, "" for the all-zero id that
// stands for an absent one.
func idText(h string) string {
	if strings.Trim(h, "0") == "" {
		return ""
	}
	return strings.ToLower(h)
}

func (l logqlStore) Buckets(ctx context.Context, sel plan.Select, origin, width int64) ([]plan.Bucket, error) {
	if width <= 0 {
		return nil, fmt.Errorf("count logs: bucket width must be > 0")
	}
	conds, err := l.logqlConds(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("count logs: %w", err)
	}
	conds = append(conds, "ts > "+chsql.DateTime64(time.Unix(0, origin)))
	bytes := "toUInt64(0)"
	if sel.BodyBytes {
		bytes = "sum(length(body))"
	}
	// Bucket j holds (origin + j*width, origin + (j+1)*width]; ts > origin, so the
	// dividend is never negative and intDiv's truncation is a floor.
	o, w := strconv.FormatInt(origin, 10), strconv.FormatInt(width, 10)
	q := "SELECT " + streamKeySQL + " AS k, " + detectedLevelSQL + " AS lvl, intDiv(toUnixTimestamp64Nano(ts) - toInt64(" + o +
		") - 1, toInt64(" + w + ")) AS b, count(), " + bytes + " FROM " + l.s.schema.From(table) + " WHERE " + strings.Join(conds, " AND ") +
		" GROUP BY k, lvl, b"
	rows, err := l.s.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("count logs: %w", err)
	}
	defer rows.Close()
	var out []plan.Bucket
	for rows.Next() {
		var b plan.Bucket
		var n, size uint64
		if err := rows.Scan(&b.Stream, &b.Level, &b.Index, &n, &size); err != nil {
			return nil, fmt.Errorf("count logs: %w", err)
		}
		b.Count, b.Bytes = int64(n), int64(size)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count logs: %w", err)
	}
	return out, nil
}

// detectedLevelSQL is LogQL's detected_level of a record, as the engine computes it for
// rows (logql.detectedLevel) and the embedded backend in SQL.
const detectedLevelSQL = `multiIf(severity_text != '', lowerUTF8(severity_text),
	severity_number BETWEEN 1 AND 4, 'trace',
	severity_number BETWEEN 5 AND 8, 'debug',
	severity_number BETWEEN 9 AND 12, 'info',
	severity_number BETWEEN 13 AND 16, 'warn',
	severity_number BETWEEN 17 AND 20, 'error',
	severity_number > 20, 'fatal', '')`
