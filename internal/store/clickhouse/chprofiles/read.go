package chprofiles

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// scope is a selector turned into SQL conditions.
type scope struct {
	start, end int64  // ts in [start, end), nanoseconds
	profiles   string // condition on profiles rows: tenant, type, time, matchers
	samples    string // condition on samples rows: tenant, type, time, series, spans
	days       string // condition on stacks and functions rows: tenant and days
	empty      bool   // nothing can match
}

// scopeOf resolves sel. needType says whether sel.Type is required.
func (s *Store) scopeOf(sel store.ProfileSelector, needType bool) (scope, error) {
	if needType && sel.Type == "" {
		return scope{}, errors.New("no profile type")
	}
	if sel.Type != "" {
		if _, err := store.ParseProfileType(sel.Type); err != nil {
			return scope{}, err
		}
	}
	var spans []string
	for _, id := range sel.SpanIDs {
		u, err := parseSpanID(id)
		if err != nil {
			return scope{}, err
		}
		spans = append(spans, strconv.FormatUint(u, 10))
	}
	sc := scope{start: nsOf(sel.Start, minTime), end: nsOf(sel.End, maxTime)}
	if sc.end <= sc.start {
		sc.empty = true
	}
	base := "tenant = " + chsql.String(s.opts.Tenant)
	if sel.Type != "" {
		base += " AND type = " + chsql.String(sel.Type)
	}
	base += " AND ts >= " + strconv.FormatInt(sc.start, 10) + " AND ts < " + strconv.FormatInt(sc.end, 10)
	sc.profiles = base
	for _, m := range sel.Matchers {
		if c := matcherSQL(m); c != "" {
			sc.profiles += " AND " + c
		}
	}
	sc.samples = base
	if len(sel.Matchers) > 0 {
		sc.samples += " AND series_id " + s.global() + "IN (SELECT series_id FROM " + s.schema.From(profilesTable) + " WHERE " + sc.profiles + ")"
	}
	if len(spans) > 0 {
		sc.samples += " AND span_id IN (" + strings.Join(spans, ",") + ")"
	}
	sc.days = s.daysCond(sc, "")
	return sc, nil
}

// daysCond is the condition on the stacks or functions rows (columns prefixed with
// prefix) of the days of sc.
func (s *Store) daysCond(sc scope, prefix string) string {
	return prefix + "tenant = " + chsql.String(s.opts.Tenant) + " AND " + prefix + "day_ns >= " + strconv.FormatInt(sc.start-sc.start%dayNs, 10) +
		" AND " + prefix + "day_ns < " + strconv.FormatInt(sc.end, 10)
}

// nsOf is t in nanoseconds, clamped to the times stored; def when t is zero.
func nsOf(t, def time.Time) int64 {
	if t.IsZero() {
		t = def
	}
	if t.Before(minTime) {
		t = minTime
	} else if t.After(maxTime) {
		t = maxTime
	}
	return t.UnixNano()
}

// matcherSQL is the condition of a label matcher on the labels map of profiles rows. A
// missing label reads as "", as Prometheus matches it; regular expressions are anchored
// as Prometheus anchors them, and ClickHouse's match() is RE2 with (?s) as Prometheus'.
func matcherSQL(m *labels.Matcher) string {
	col := "labels[" + chsql.String(m.Name) + "]"
	switch m.Type {
	case labels.MatchEqual:
		return col + " = " + chsql.String(m.Value)
	case labels.MatchNotEqual:
		return col + " != " + chsql.String(m.Value)
	case labels.MatchRegexp:
		if m.Value == ".*" {
			return ""
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

// query runs q and calls each for every row, which scans it.
func (s *Store) query(ctx context.Context, q string, each func(scan func(...any) error) error) error {
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// listStrings returns the one string column of q's rows; nil for none.
func (s *Store) listStrings(ctx context.Context, q string) ([]string, error) {
	var out []string
	err := s.query(ctx, q, func(scan func(...any) error) error {
		var v string
		if err := scan(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// ProfileTypes lists the types with profiles in [start, end). See store.ProfileReader.
func (s *Store) ProfileTypes(ctx context.Context, start, end time.Time) ([]store.ProfileType, error) {
	sc, err := s.scopeOf(store.ProfileSelector{Start: start, End: end}, false)
	if err != nil || sc.empty {
		return nil, err
	}
	ids, err := s.listStrings(ctx, "SELECT DISTINCT toString(type) AS t FROM "+s.schema.From(profilesTable)+" WHERE "+sc.profiles+" ORDER BY t")
	if err != nil {
		return nil, fmt.Errorf("profile types: %w", err)
	}
	var out []store.ProfileType
	for _, id := range ids {
		t, err := store.ParseProfileType(id)
		if err != nil {
			return nil, fmt.Errorf("profile types: stored %w", err)
		}
		out = append(out, t)
	}
	return out, nil
}

// ProfileLabelNames lists the label names of the series sel selects. See
// store.ProfileReader.
func (s *Store) ProfileLabelNames(ctx context.Context, sel store.ProfileSelector) ([]string, error) {
	sc, err := s.scopeOf(sel, false)
	if err != nil || sc.empty {
		return nil, wrap("profile label names", err)
	}
	out, err := s.listStrings(ctx, "SELECT DISTINCT toString(arrayJoin(mapKeys(labels))) AS k FROM "+s.schema.From(profilesTable)+
		" WHERE "+sc.profiles+" ORDER BY k")
	return out, wrap("profile label names", err)
}

// ProfileLabelValues lists the values of one label among the series sel selects. See
// store.ProfileReader.
func (s *Store) ProfileLabelValues(ctx context.Context, sel store.ProfileSelector, name string) ([]string, error) {
	sc, err := s.scopeOf(sel, false)
	if err != nil || sc.empty {
		return nil, wrap("profile label values", err)
	}
	// Empty values are not stored, so a label present has a value.
	out, err := s.listStrings(ctx, "SELECT DISTINCT labels["+chsql.String(name)+"] AS v FROM "+s.schema.From(profilesTable)+
		" WHERE "+sc.profiles+" AND mapContains(labels, "+chsql.String(name)+") ORDER BY v")
	return out, wrap("profile label values", err)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// MergeStacks sums sample values per distinct stack. See store.ProfileReader.
//
// The sum is a GROUP BY stack_id over the samples, joined with the stack rows of the days
// selected (deduplicated by GROUP BY, since rows may repeat before merges), so one row per
// distinct stack comes back, with its frames as function ids; the names of those
// functions are a second query.
func (s *Store) MergeStacks(ctx context.Context, sel store.ProfileSelector) ([]store.StackValue, error) {
	sc, err := s.scopeOf(sel, true)
	if err != nil || sc.empty {
		return nil, wrap("merge stacks", err)
	}
	q := "SELECT any(st.frames), any(m.v) FROM " + s.schema.From(stacksTable) + " AS st " + s.global() +
		"INNER JOIN (SELECT stack_id, sum(value) AS v FROM " + s.schema.From(samplesTable) + " WHERE " + sc.samples +
		" GROUP BY stack_id HAVING v != 0) AS m ON st.stack_id = m.stack_id WHERE " +
		s.daysCond(sc, "st.") + " GROUP BY st.stack_id"
	type row struct {
		frames []uint64
		v      int64
	}
	var rows []row
	need := map[uint64]bool{}
	err = s.query(ctx, q, func(scan func(...any) error) error {
		var r row
		if err := scan(&r.frames, &r.v); err != nil {
			return err
		}
		for _, f := range r.frames {
			need[f] = true
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("merge stacks: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	funcs, err := s.functions(ctx, sc, need)
	if err != nil {
		return nil, fmt.Errorf("merge stacks: %w", err)
	}
	out := make([]store.StackValue, len(rows))
	for i, r := range rows {
		stack := make([]store.Frame, len(r.frames))
		for j, id := range r.frames {
			f, ok := funcs[id]
			if !ok {
				return nil, fmt.Errorf("merge stacks: function %d of a stack not stored", id)
			}
			stack[j] = f
		}
		out[i] = store.StackValue{Stack: stack, Value: r.v}
	}
	return out, nil
}

// maxListedIDs bounds the function ids written into a query (about 20 bytes each, under
// ClickHouse's max_query_size of 256 KiB); beyond it every function of the days is read.
const maxListedIDs = 8000

// functions returns the names and files of the function ids need, from the days of sc.
func (s *Store) functions(ctx context.Context, sc scope, need map[uint64]bool) (map[uint64]store.Frame, error) {
	q := "SELECT function_id, any(name), any(file) FROM " + s.schema.From(functionsTable) + " WHERE " + sc.days
	if len(need) <= maxListedIDs {
		ids := make([]string, 0, len(need))
		for id := range need {
			ids = append(ids, strconv.FormatUint(id, 10))
		}
		slices.Sort(ids)
		q += " AND function_id IN (" + strings.Join(ids, ",") + ")"
	}
	out := make(map[uint64]store.Frame, len(need))
	err := s.query(ctx, q+" GROUP BY function_id", func(scan func(...any) error) error {
		var id uint64
		var f store.Frame
		if err := scan(&id, &f.Function, &f.File); err != nil {
			return err
		}
		if need[id] {
			out[id] = f
		}
		return nil
	})
	return out, err
}

// ProfileSeries sums sample values in buckets of step. See store.ProfileReader.
//
// Samples are summed per series and bucket in SQL, joined with each series' labels (from
// the profiles rows) and summed again per group.
func (s *Store) ProfileSeries(ctx context.Context, sel store.ProfileSelector, groupBy []string, step time.Duration) ([]store.ProfileSeries, error) {
	if step <= 0 {
		return nil, fmt.Errorf("profile series: step must be positive, got %s", step)
	}
	sc, err := s.scopeOf(sel, true)
	if err != nil || sc.empty {
		return nil, wrap("profile series", err)
	}
	group, groupKey := "any(l.series_labels)", "m.series_id"
	if len(groupBy) > 0 {
		names := make([]string, len(groupBy))
		for i, n := range groupBy {
			names[i] = "l.series_labels[" + chsql.String(n) + "]"
		}
		group = "[" + strings.Join(names, ", ") + "]"
		groupKey = group
	}
	q := fmt.Sprintf("SELECT %s, m.b, sum(m.v) FROM (SELECT series_id, intDiv(ts - %d, %d) AS b, sum(value) AS v FROM %s WHERE %s GROUP BY series_id, b) AS m "+
		"%sINNER JOIN (SELECT series_id, any(labels) AS series_labels FROM %s WHERE %s GROUP BY series_id) AS l ON m.series_id = l.series_id "+
		"GROUP BY %s, m.b ORDER BY m.b",
		group, sc.start, int64(step), s.schema.From(samplesTable), sc.samples, s.global(), s.schema.From(profilesTable), sc.profiles, groupKey)
	var out []store.ProfileSeries
	index := map[string]int{}
	err = s.query(ctx, q, func(scan func(...any) error) error {
		var lbls map[string]string
		var b, v int64
		if len(groupBy) > 0 {
			var vals []string
			if err := scan(&vals, &b, &v); err != nil {
				return err
			}
			lbls = make(map[string]string, len(groupBy))
			for i, n := range groupBy {
				lbls[n] = vals[i]
			}
		} else if err := scan(&lbls, &b, &v); err != nil {
			return err
		}
		key := labelsKey(lbls)
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, store.ProfileSeries{Labels: lbls})
		}
		out[i].Points = append(out[i].Points, store.ProfilePoint{Time: time.Unix(0, sc.start+b*int64(step)).UTC(), Value: v})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("profile series: %w", err)
	}
	return out, nil
}

// labelsKey is a canonical text of a label set.
func labelsKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(strconv.Quote(k) + "=" + strconv.Quote(m[k]) + ",")
	}
	return b.String()
}

// SpansWithFunction sums, per span, the value of the selected samples whose stack holds
// function. See store.ProfileReader.
func (s *Store) SpansWithFunction(ctx context.Context, sel store.ProfileSelector, function string, limit int) ([]store.SpanValue, error) {
	sc, err := s.scopeOf(sel, true)
	if err != nil || sc.empty || limit <= 0 {
		return nil, wrap("spans with function", err)
	}
	// The stacks holding any function of that name (several files may define one), as a
	// set built once; the samples are then filtered by stack id.
	stacks := "SELECT stack_id FROM " + s.schema.From(stacksTable) + " WHERE " + sc.days +
		" AND hasAny(frames, (SELECT groupUniqArray(function_id) FROM " + s.schema.From(functionsTable) + " WHERE " + sc.days +
		" AND name = " + chsql.String(function) + "))"
	q := "SELECT span_id, any(span_name), sum(value) AS v FROM " + s.schema.From(samplesTable) + " WHERE " + sc.samples +
		" AND span_id != 0 AND stack_id " + s.global() + "IN (" + stacks + ") GROUP BY span_id ORDER BY v DESC, span_id LIMIT " + strconv.Itoa(limit)
	var out []store.SpanValue
	err = s.query(ctx, q, func(scan func(...any) error) error {
		var id uint64
		var sv store.SpanValue
		if err := scan(&id, &sv.SpanName, &sv.Value); err != nil {
			return err
		}
		sv.SpanID = formatSpanID(id)
		out = append(out, sv)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spans with function: %w", err)
	}
	return out, nil
}
