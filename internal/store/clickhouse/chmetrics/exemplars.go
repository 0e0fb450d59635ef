package chmetrics

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// exemplarRow is an exemplar waiting for its appender's Commit.
type exemplarRow struct {
	id  uint64
	t   int64
	v   float64
	lbl map[string]string
}

// AppendExemplar implements storage.ExemplarAppender. As in the TSDB, an exemplar needs a
// timestamp and its labels at most 128 UTF-8 characters (names and values together).
func (a *appender) AppendExemplar(_ storage.SeriesRef, l labels.Labels, e exemplar.Exemplar) (storage.SeriesRef, error) {
	if l.IsEmpty() {
		return 0, fmt.Errorf("exemplar of an empty label set: %w", promtsdb.ErrInvalidExemplar)
	}
	if !e.HasTs {
		return 0, fmt.Errorf("exemplar without a timestamp: %w", promtsdb.ErrInvalidExemplar)
	}
	n := 0
	m := make(map[string]string, e.Labels.Len())
	e.Labels.Range(func(lb labels.Label) {
		n += utf8.RuneCountInString(lb.Name) + utf8.RuneCountInString(lb.Value)
		m[lb.Name] = lb.Value
	})
	if n > exemplar.ExemplarMaxLabelSetLength {
		return 0, storage.ErrExemplarLabelLength
	}
	id := labels.StableHash(l)
	if _, ok := a.series[id]; !ok {
		if name, dup := l.HasDuplicateLabelNames(); dup {
			return 0, fmt.Errorf("label name %q repeated in %s: %w", name, l, promtsdb.ErrInvalidExemplar)
		}
		a.series[id] = l.Copy()
	}
	a.exemplars = append(a.exemplars, exemplarRow{id: id, t: e.Ts, v: e.Value, lbl: m})
	return storage.SeriesRef(id), nil
}

// exemplarQuerier answers /api/v1/query_exemplars.
type exemplarQuerier struct {
	s   *Store
	ctx context.Context
}

// Select implements storage.ExemplarQuerier: the exemplars in [start, end] of the series
// matching any of the matcher sets, by series labels, each series' exemplars in time
// order. An exemplar written twice (same time, value and labels) is returned once.
func (e exemplarQuerier) Select(start, end int64, matchers ...[]*labels.Matcher) ([]exemplar.QueryResult, error) {
	q := &querier{s: e.s, mint: start, maxt: end}
	found := map[uint64]*chSeries{}
	for _, ms := range matchers {
		series, err := q.series(e.ctx, start, end, ms)
		if err != nil {
			return nil, err
		}
		for _, s := range series {
			found[s.id] = s
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(found))
	for id := range found {
		ids = append(ids, strconv.FormatUint(id, 10))
	}
	rows, err := e.s.conn.Query(e.ctx, fmt.Sprintf(
		"SELECT DISTINCT series_id, ts_ms, value, labels FROM %s WHERE tenant = %s AND ts_ms >= %d AND ts_ms <= %d AND series_id IN (%s) ORDER BY series_id, ts_ms",
		exemplarsTable, chsql.String(e.s.opts.Tenant), start, end, strings.Join(ids, ",")))
	if err != nil {
		return nil, fmt.Errorf("select exemplars: %w", err)
	}
	defer rows.Close()
	byID := map[uint64]*exemplar.QueryResult{}
	for rows.Next() {
		var id uint64
		var ex exemplar.Exemplar
		var m map[string]string
		if err := rows.Scan(&id, &ex.Ts, &ex.Value, &m); err != nil {
			return nil, fmt.Errorf("scan exemplars: %w", err)
		}
		s := found[id]
		if s == nil {
			continue
		}
		r := byID[id]
		if r == nil {
			r = &exemplar.QueryResult{SeriesLabels: s.lset}
			byID[id] = r
		}
		ex.HasTs = true
		ex.Labels = labels.FromMap(m)
		r.Exemplars = append(r.Exemplars, ex)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select exemplars: %w", err)
	}
	out := make([]exemplar.QueryResult, 0, len(byID))
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		r := byID[id]
		// DISTINCT does not keep the order; exemplars of one time are ordered by value.
		slices.SortStableFunc(r.Exemplars, func(a, b exemplar.Exemplar) int {
			if a.Ts != b.Ts {
				return int(a.Ts - b.Ts)
			}
			return labels.Compare(a.Labels, b.Labels)
		})
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b exemplar.QueryResult) int { return labels.Compare(a.SeriesLabels, b.SeriesLabels) })
	return out, nil
}
