package chspans

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// entrySpan selects the spans that stand for requests to a service: server and consumer
// spans, and roots. A service with no such span in the range (a database seen only
// through its clients' spans) is counted by all its spans instead, so that every service
// seen appears. Same rule as the embedded backend (store/duck/red.go).
var entrySpan = "(kind IN (" + strconv.Itoa(int(ptrace.SpanKindServer)) + ", " +
	strconv.Itoa(int(ptrace.SpanKindConsumer)) + ") OR parent_span_id = '')"

// ServiceStats computes rate, errors and duration quantiles of spans in one grouped query:
// per group (service, or span name within q.Service) and bucket, per group, per bucket and
// overall, through GROUPING SETS. Quantiles are exact and interpolated
// (quantilesExactInclusive, as DuckDB's quantile_cont). See store.ServiceStatsReader.
func (s *Store) ServiceStats(ctx context.Context, q store.ServiceStatsQuery) ([]store.ServiceStatsRow, error) {
	if q.Step <= 0 {
		return nil, fmt.Errorf("service stats: step must be positive, got %s", q.Step)
	}
	if !q.Start.Before(q.End) {
		return nil, fmt.Errorf("service stats: start %s is not before end %s", q.Start, q.End)
	}
	startNs, stepNs := q.Start.UnixNano(), int64(q.Step)
	c := s.spanTimeConds(q.Start, q.End)
	group := "service"
	if q.Service != "" {
		c.add("service = " + chsql.String(q.Service))
		group = "name"
	} else {
		// Services with entry spans in the range are counted by those alone.
		c.add("(" + entrySpan + " OR service NOT IN (SELECT service FROM " + s.table("spans") +
			s.spanTimeConds(q.Start, q.End).sql() + " AND " + entrySpan + "))")
	}
	// The bucket is computed in the inner select so that GROUPING SETS groups on a column.
	// Sets that leave out g or b give them their default ('' and 0); grouping() tells.
	query := `SELECT toInt64(grouping(g)), toInt64(grouping(b)), g, b, toInt64(count()),
			toInt64(countIf(status_code = ` + strconv.Itoa(statusError) + `)),
			quantilesExactInclusive(0.5, 0.95, 0.99)(toFloat64(duration_ns))
		FROM (SELECT toString(` + group + `) AS g,
			intDiv(toUnixTimestamp64Nano(start) - ` + strconv.FormatInt(startNs, 10) + `, ` + strconv.FormatInt(stepNs, 10) + `) AS b,
			duration_ns, status_code
			FROM ` + s.table("spans") + c.sql() + `)
		GROUP BY GROUPING SETS ((g, b), (g), (b), ())`
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("service stats: %w", err)
	}
	defer rows.Close()
	var out []store.ServiceStatsRow
	for rows.Next() {
		var (
			gGroup, gBucket, bucket int64
			name                    string
			row                     store.ServiceStatsRow
			qs                      []float64
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
		row.P50, row.P95, row.P99 = time.Duration(qs[0]), time.Duration(qs[1]), time.Duration(qs[2])
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("service stats: %w", err)
	}
	return out, nil
}
