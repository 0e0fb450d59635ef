package duck

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// entrySpan selects the spans that stand for requests to a service: server and consumer
// spans, and roots (a batch job's top span has no kind worth trusting). A service with no
// such span in the range (a database seen only through its clients' spans) is counted by
// all its spans instead, so that every service seen appears.
var entrySpan = "(kind IN (" + strconv.Itoa(int(ptrace.SpanKindServer)) + ", " +
	strconv.Itoa(int(ptrace.SpanKindConsumer)) + ") OR parent_span_id IS NULL)"

// ServiceStats computes rate, errors and duration quantiles of spans in one grouped query
// over the day partitions of the range: per group (service, or span name within q.Service)
// and bucket, per group, per bucket and overall, through GROUPING SETS. Quantiles are exact
// (quantile_cont) over the spans of each set.
func (s *Store) ServiceStats(ctx context.Context, q store.ServiceStatsQuery) ([]store.ServiceStatsRow, error) {
	if q.Step <= 0 {
		return nil, fmt.Errorf("service stats: step must be positive, got %s", q.Step)
	}
	if !q.Start.Before(q.End) {
		return nil, fmt.Errorf("service stats: start %s is not before end %s", q.Start, q.End)
	}
	tables := s.spans.tables(timeRange(q.Start, q.End))
	if len(tables) == 0 {
		return nil, nil
	}
	startNs, stepNs := q.Start.UnixNano(), int64(q.Step)
	query, args := serviceStatsQuery(tables, q)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("service stats: %w", err)
	}
	defer rows.Close()
	var out []store.ServiceStatsRow
	for rows.Next() {
		var (
			gGroup, gBucket int64
			name            string
			bucket          int64
			row             store.ServiceStatsRow
			qs              []any
		)
		if err := rows.Scan(&gGroup, &gBucket, &name, &bucket, &row.Count, &row.Errors, &qs); err != nil {
			return nil, fmt.Errorf("service stats: %w", err)
		}
		if row.Count == 0 {
			continue // the () set over an empty range
		}
		row.Total = gGroup == 1
		if !row.Total {
			row.Group = name
		}
		if gBucket == 0 {
			row.Bucket = time.Unix(0, startNs+bucket*stepNs).UTC()
		}
		if len(qs) != 3 {
			return nil, fmt.Errorf("service stats: want 3 quantiles, got %d", len(qs))
		}
		for i, d := range []*time.Duration{&row.P50, &row.P95, &row.P99} {
			f, ok := qs[i].(float64)
			if !ok {
				return nil, fmt.Errorf("service stats: quantile is %T, not float64", qs[i])
			}
			*d = time.Duration(f)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("service stats: %w", err)
	}
	return out, nil
}

// serviceStatsQuery is ServiceStats' SQL over tables, and its arguments. Its memory grows
// with the spans the quantiles are computed over (the entry spans, when q.Service is
// empty), not with all the spans of the range: 10M spans (2.6M entry spans) need less than
// 128 MB (docs/performance.md, 2026-12-08).
func serviceStatsQuery(tables []string, q store.ServiceStatsQuery) (string, []any) {
	startNs, stepNs := q.Start.UnixNano(), int64(q.Step)
	w := &where{}
	w.add("start_ns >= ?", startNs)
	w.add("start_ns < ?", q.End.UnixNano())
	cols := "service, name, kind, parent_span_id, start_ns, duration_ns, status_code"
	group, entries := "name", ""
	var args []any
	if q.Service != "" {
		w.add("service = ?", q.Service)
		args = w.args
	} else {
		// The services without an entry span in the range, by a grouped scan: a window
		// over the spans (bool_or OVER (PARTITION BY service)) held every span of the
		// range in memory, more than the default memory limit at 10M spans an hour.
		group = "service"
		entries = " AND (" + entrySpan + " OR service IN (SELECT service FROM " + unionAll(tables, cols) + w.sql() +
			" GROUP BY service HAVING NOT bool_or(" + entrySpan + ")))"
		args = append(slices.Clone(w.args), w.args...) // the range, then again in the subquery
	}
	// The bucket is computed in the inner select so that GROUPING SETS groups on a column.
	query := `SELECT grouping(g), grouping(b), coalesce(g, ''), coalesce(b, 0), count(*),
			count(*) FILTER (WHERE status_code = ` + strconv.Itoa(int(statusCodeError)) + `),
			quantile_cont(duration_ns::DOUBLE, [0.5, 0.95, 0.99])
		FROM (SELECT ` + group + ` AS g, (start_ns - ` + strconv.FormatInt(startNs, 10) + `) // ` +
		strconv.FormatInt(stepNs, 10) + ` AS b, duration_ns, status_code
			FROM ` + unionAll(tables, cols) + w.sql() + entries + `)
		GROUP BY GROUPING SETS ((g, b), (g), (b), ())`
	return query, args
}
