package chmetrics

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// maxInlineIDs is the number of series ids up to which the samples query lists them
// (the primary key is then read for exactly those ids); above it the samples query
// repeats the series query as a subquery, which keeps the SQL text small.
const maxInlineIDs = 2000

// maxInlineMetrics is the number of metric names up to which the samples query names
// them: the samples table is ordered by metric first, so without the names ClickHouse
// cannot narrow the granules to those of the series' metrics (a series id alone only
// narrows within one metric's range).
const maxInlineMetrics = 1000

// querier answers one PromQL query's reads over [mint, maxt] (milliseconds, inclusive).
type querier struct {
	s          *Store
	mint, maxt int64
}

func (q *querier) Close() error { return nil }

// seriesWhere is the WHERE clause selecting the series rows of the matchers in q's time
// range. Every matcher becomes SQL: __name__ compares the metric column, other labels the
// map (a missing key reads as "", which is what Prometheus matches a missing label as),
// and regular expressions use match() anchored as Prometheus anchors them. ClickHouse's
// match() is RE2 with . matching newlines, as Prometheus' (?s:...) does.
func (q *querier) seriesWhere(mint, maxt int64, ms []*labels.Matcher) string {
	conds := []string{
		"tenant = " + chsql.String(q.s.opts.Tenant),
		"day >= " + chsql.String(dayOf(mint).Format(time.DateOnly)),
		"day <= " + chsql.String(dayOf(maxt).Format(time.DateOnly)),
	}
	for _, m := range ms {
		if c := matcherSQL(m); c != "" {
			conds = append(conds, c)
		}
	}
	return strings.Join(conds, " AND ")
}

func matcherSQL(m *labels.Matcher) string {
	col := "metric"
	if m.Name != labels.MetricName {
		col = "labels[" + chsql.String(m.Name) + "]"
	}
	switch m.Type {
	case labels.MatchEqual:
		return col + " = " + chsql.String(m.Value)
	case labels.MatchNotEqual:
		return col + " != " + chsql.String(m.Value)
	case labels.MatchRegexp:
		if m.Value == ".*" {
			return "" // matches everything, missing labels included
		}
		return "match(" + col + ", " + chsql.String("^(?s:"+m.Value+")$") + ")"
	case labels.MatchNotRegexp:
		if m.Value == "" {
			return col + " != ''"
		}
		return "NOT match(" + col + ", " + chsql.String("^(?s:"+m.Value+")$") + ")"
	}
	panic(fmt.Sprintf("unknown matcher type %d", m.Type))
}

// dayOf is the UTC day holding t (ms), clamped to the range of ClickHouse's Date.
func dayOf(t int64) time.Time {
	const minDay, maxDay = 0, 65535 // 1970-01-01 .. 2149-06-06
	d := t / (24 * 3600 * 1000)
	if t < 0 && t%(24*3600*1000) != 0 {
		d--
	}
	d = max(minDay, min(maxDay, d))
	return time.Unix(d*24*3600, 0).UTC()
}

// Select implements storage.Querier.
func (q *querier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	series, err := q.series(ctx, mint, maxt, ms)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	if hints != nil && hints.ShardCount > 0 {
		series = slices.DeleteFunc(series, func(s *chSeries) bool {
			return labels.StableHash(s.lset)%hints.ShardCount != hints.ShardIndex
		})
	}
	if hints != nil && hints.Limit > 0 && len(series) > hints.Limit {
		series = series[:hints.Limit]
	}
	// The series API (Func "series") needs the label sets only.
	if len(series) > 0 && (hints == nil || hints.Func != "series") {
		if err := q.samples(ctx, mint, maxt, ms, series); err != nil {
			return storage.ErrSeriesSet(err)
		}
	}
	return &seriesSet{series: series, i: -1}
}

// series reads the label sets of the matching series, sorted by labels.
func (q *querier) series(ctx context.Context, mint, maxt int64, ms []*labels.Matcher) ([]*chSeries, error) {
	rows, err := q.s.conn.Query(ctx, fmt.Sprintf(
		"SELECT DISTINCT series_id, metric, labels FROM %s WHERE %s", seriesTable, q.seriesWhere(mint, maxt, ms)))
	if err != nil {
		return nil, fmt.Errorf("select series: %w", err)
	}
	defer rows.Close()
	var out []*chSeries
	b := labels.NewScratchBuilder(8)
	for rows.Next() {
		var id uint64
		var metric string
		var m map[string]string
		if err := rows.Scan(&id, &metric, &m); err != nil {
			return nil, fmt.Errorf("scan series: %w", err)
		}
		b.Reset()
		if metric != "" {
			b.Add(labels.MetricName, metric)
		}
		for k, v := range m {
			b.Add(k, v)
		}
		b.Sort()
		out = append(out, &chSeries{id: id, lset: b.Labels()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select series: %w", err)
	}
	slices.SortFunc(out, func(a, b *chSeries) int { return labels.Compare(a.lset, b.lset) })
	return out, nil
}

// samples reads the samples of series in [mint, maxt], one row per series: ClickHouse
// sorts each series' samples by time and version and drops the copies of a sample (a
// re-sent write), keeping the first written (lowest ver), and sends times as deltas.
// One row of arrays per series instead of one row per sample is a fraction of the bytes
// and of the decoding work on the client.
func (q *querier) samples(ctx context.Context, mint, maxt int64, ms []*labels.Matcher, series []*chSeries) error {
	byID := make(map[uint64]*chSeries, len(series))
	for _, s := range series {
		byID[s.id] = s
	}
	rows, err := q.s.conn.Query(ctx, q.samplesQuery(mint, maxt, ms, series))
	if err != nil {
		return fmt.Errorf("select samples: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uint64
		var first int64
		var deltas, stale []int64
		var vals []float64
		if err := rows.Scan(&id, &first, &deltas, &vals, &stale); err != nil {
			return fmt.Errorf("scan samples: %w", err)
		}
		cur := byID[id]
		if cur == nil || len(deltas) != len(vals) {
			continue // a series row written after the series query
		}
		for _, i := range stale {
			vals[i-1] = math.Float64frombits(value.StaleNaN)
		}
		cur.samples = make(fSamples, len(vals))
		t := first
		for i, v := range vals {
			t += deltas[i]
			cur.samples[i] = fSample{t: t, f: v}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("select samples: %w", err)
	}
	return nil
}

// samplesQuery is the SQL of samples: the samples of series in [mint, maxt], in the
// ranges of the table's key that hold their metric names.
func (q *querier) samplesQuery(mint, maxt int64, ms []*labels.Matcher, series []*chSeries) string {
	names := map[string]struct{}{}
	for _, s := range series {
		names[s.lset.Get(labels.MetricName)] = struct{}{}
	}
	// The names of the series found, whatever the matchers (a regular expression on
	// __name__, or none, included): every sample's row holds its series' name.
	metricCond := ""
	if len(names) <= maxInlineMetrics {
		quoted := make([]string, 0, len(names))
		for _, n := range slices.Sorted(maps.Keys(names)) {
			quoted = append(quoted, chsql.String(n))
		}
		metricCond = " AND metric IN (" + strings.Join(quoted, ",") + ")"
	}
	var in string
	if len(series) <= maxInlineIDs {
		ids := make([]string, 0, len(series))
		for _, s := range series {
			ids = append(ids, strconv.FormatUint(s.id, 10))
		}
		in = strings.Join(ids, ",")
	} else {
		in = fmt.Sprintf("SELECT series_id FROM %s WHERE %s", seriesTable, q.seriesWhere(mint, maxt, ms))
	}
	// On a cluster both tables are Distributed: the subquery runs once and its result is
	// sent to every shard (GLOBAL IN), as ClickHouse refuses a distributed subquery in a
	// distributed query.
	inOp := "IN"
	if q.s.schema.Cluster != "" {
		inOp = "GLOBAL IN"
	}
	// No lambda captures an array column: ClickHouse copies a captured array for each
	// element, which makes a series of n samples cost n².
	return fmt.Sprintf(`SELECT series_id, ts[1] AS first, arrayDifference(ts) AS deltas, vals,
	CAST(arrayFilter((i, st) -> st, arrayEnumerate(sts), sts) AS Array(Int64)) AS stale
FROM (
	SELECT series_id,
		arrayFilter((x, keep) -> keep, s, arrayMap((dt, i) -> i = 1 OR dt != 0, arrayDifference(arrayMap(x -> x.1, s)), arrayEnumerate(s))) AS d,
		arrayMap(x -> x.1, d) AS ts, arrayMap(x -> x.3, d) AS vals, arrayMap(x -> x.4, d) AS sts
	FROM (
		SELECT series_id, arraySort(groupArray((ts_ms, ver, value, stale))) AS s
		FROM %s
		WHERE tenant = %s%s AND ts_ms >= %d AND ts_ms <= %d AND series_id %s (%s)
		GROUP BY series_id
	)
)`, samplesTable, chsql.String(q.s.opts.Tenant), metricCond, mint, maxt, inOp, in)
}

// LabelValues implements storage.LabelQuerier.
func (q *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	col := "metric"
	where := q.seriesWhere(q.mint, q.maxt, ms)
	if name != labels.MetricName {
		col = "labels[" + chsql.String(name) + "]"
		where += " AND mapContains(labels, " + chsql.String(name) + ")"
	}
	vals, err := q.strings(ctx, fmt.Sprintf("SELECT DISTINCT %s AS v FROM %s WHERE %s AND v != '' ORDER BY v%s",
		col, seriesTable, where, limit(hints)))
	return vals, nil, err
}

// LabelNames implements storage.LabelQuerier.
func (q *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	where := q.seriesWhere(q.mint, q.maxt, ms)
	names, err := q.strings(ctx, fmt.Sprintf(
		"SELECT DISTINCT n FROM (SELECT arrayJoin(if(metric = '', mapKeys(labels), arrayPushBack(mapKeys(labels), %s))) AS n FROM %s WHERE %s) ORDER BY n%s",
		chsql.String(labels.MetricName), seriesTable, where, limit(hints)))
	return names, nil, err
}

func limit(h *storage.LabelHints) string {
	if h == nil || h.Limit <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(h.Limit)
}

func (q *querier) strings(ctx context.Context, query string) ([]string, error) {
	rows, err := q.s.conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("label query: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// chunkQuerier serves remote read from the samples the querier reads.
type chunkQuerier struct{ q querier }

func (c chunkQuerier) Select(ctx context.Context, sorted bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.ChunkSeriesSet {
	return storage.NewSeriesSetToChunkSet(c.q.Select(ctx, sorted, hints, ms...))
}

func (c chunkQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return c.q.LabelValues(ctx, name, hints, ms...)
}

func (c chunkQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return c.q.LabelNames(ctx, hints, ms...)
}

func (c chunkQuerier) Close() error { return nil }
