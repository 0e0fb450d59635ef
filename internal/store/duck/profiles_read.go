package duck

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/loupe-dev/loupe/internal/store"
)

// The reads of profiles.go's tables. Every query runs per day partition, since stack and
// function ids are per day; results are merged in Go by content. Values in SQL come from
// the database or are integers formatted here, except a function name, which is a
// parameter.

// profileDayScope is what one day contributes to a read: its conditions on the samples
// (or meta) rows, and the labels of the series selected (nil when not asked for and no
// matcher needs them).
type profileDayScope struct {
	day  int64
	cond string // on profile_meta: "ts >= .. AND ts < .. [AND type_id = ..] [AND series_id IN (..)]"
	// samples is cond on profile_samples, where the type's rows may also be under type
	// sets (profiles_share.go); value is the expression of a row's value in the type.
	samples string
	value   string
	series  map[int64]map[string]string
}

// profileScopes resolves sel into per-day conditions; none when nothing can match (unknown
// type, no series). needType says whether sel.Type is required, needLabels whether the
// caller reads the scopes' series labels: a day's series are read and decoded only for
// that or for sel.Matchers.
func (s *Store) profileScopes(ctx context.Context, sel store.ProfileSelector, needType, needLabels bool) ([]profileDayScope, error) {
	if needType && sel.Type == "" {
		return nil, errors.New("no profile type")
	}
	typeCond, samplesCond, value := "", "", "value * scale"
	if sel.Type != "" {
		if _, err := store.ParseProfileType(sel.Type); err != nil {
			return nil, err
		}
		id, ok := s.profiles.typeID(sel.Type)
		if !ok {
			return nil, nil // no profile of that type
		}
		typeCond = " AND type_id = " + strconv.FormatInt(int64(id), 10)
		samplesCond, value = s.profiles.sampleScope(id)
	}
	if !sel.End.IsZero() && !sel.Start.IsZero() && !sel.End.After(sel.Start) {
		return nil, nil
	}
	startNs, endNs := timeRange(sel.Start, sel.End)
	timeCond := "ts >= " + strconv.FormatInt(startNs, 10)
	if endNs > 0 || !sel.End.IsZero() {
		timeCond += " AND ts < " + strconv.FormatInt(endNs, 10)
	}
	var out []profileDayScope
	for _, day := range s.profiles.samples.daysIn(startNs, endNs) {
		if !needLabels && len(sel.Matchers) == 0 {
			out = append(out, profileDayScope{day: day, cond: timeCond + typeCond, samples: timeCond + samplesCond, value: value})
			continue
		}
		series, err := s.profileSeriesLabels(ctx, day, sel.Matchers)
		if err != nil {
			return nil, err
		}
		if len(series) == 0 {
			continue
		}
		seriesCond := ""
		if len(sel.Matchers) > 0 {
			ids := make([]string, 0, len(series))
			for id := range series {
				ids = append(ids, strconv.FormatInt(id, 10))
			}
			slices.Sort(ids)
			seriesCond = " AND series_id IN (" + strings.Join(ids, ",") + ")"
		}
		out = append(out, profileDayScope{day: day, cond: timeCond + typeCond + seriesCond,
			samples: timeCond + samplesCond + seriesCond, value: value, series: series})
	}
	return out, nil
}

// spanCond is the condition on span_id for sel.SpanIDs, "" for none.
func spanCond(sel store.ProfileSelector) (string, error) {
	if len(sel.SpanIDs) == 0 {
		return "", nil
	}
	ids := make([]string, len(sel.SpanIDs))
	for i, s := range sel.SpanIDs {
		id, err := parseSpanID(s)
		if err != nil {
			return "", err
		}
		ids[i] = strconv.FormatInt(id, 10)
	}
	return " AND span_id IN (" + strings.Join(ids, ",") + ")", nil
}

// profileSeriesLabels returns the series of day whose labels match every matcher.
func (s *Store) profileSeriesLabels(ctx context.Context, day int64, matchers []*labels.Matcher) (map[int64]map[string]string, error) {
	table := dayName(profileDayTables[ptSeries].prefix, day)
	rows, err := s.db.QueryContext(ctx, "SELECT id, labels FROM "+table)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	out := map[int64]map[string]string{}
	for rows.Next() {
		var id int64
		var js string
		if err := rows.Scan(&id, &js); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		var lbls map[string]string
		if err := json.Unmarshal([]byte(js), &lbls); err != nil {
			return nil, fmt.Errorf("read %s: series %d: %w", table, id, err)
		}
		if matchLabels(matchers, lbls) {
			out[id] = lbls
		}
	}
	return out, rows.Err()
}

func matchLabels(matchers []*labels.Matcher, lbls map[string]string) bool {
	for _, m := range matchers {
		if !m.Matches(lbls[m.Name]) {
			return false
		}
	}
	return true
}

// ProfileTypes lists the types with profiles in [start, end). See store.ProfileReader.
func (s *Store) ProfileTypes(ctx context.Context, start, end time.Time) ([]store.ProfileType, error) {
	scopes, err := s.profileScopes(ctx, store.ProfileSelector{Start: start, End: end}, false, false)
	if err != nil {
		return nil, fmt.Errorf("profile types: %w", err)
	}
	seen := map[int32]bool{}
	for _, sc := range scopes {
		err := s.distinctMeta(ctx, sc, "type_id", func(id int64) { seen[int32(id)] = true })
		if err != nil {
			return nil, fmt.Errorf("profile types: %w", err)
		}
	}
	var out []store.ProfileType
	for id := range seen {
		name, ok := s.profiles.typeName(id)
		if !ok {
			continue
		}
		t, err := store.ParseProfileType(name)
		if err != nil {
			return nil, fmt.Errorf("profile types: stored %w", err)
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b store.ProfileType) int { return strings.Compare(a.ID(), b.ID()) })
	return out, nil
}

// selectedSeries returns the labels of the series with profiles that sel selects (type and
// time range via profile_meta), over every day.
func (s *Store) selectedSeries(ctx context.Context, sel store.ProfileSelector) ([]map[string]string, error) {
	scopes, err := s.profileScopes(ctx, sel, false, true)
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, sc := range scopes {
		err := s.distinctMeta(ctx, sc, "series_id", func(id int64) {
			if l, ok := sc.series[id]; ok {
				out = append(out, l)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// distinctMeta calls each with the distinct values of an integer column of profile_meta
// over the rows of one day's scope.
func (s *Store) distinctMeta(ctx context.Context, sc profileDayScope, column string, each func(int64)) error {
	query := "SELECT DISTINCT " + column + " FROM " + dayName(profileDayTables[ptMeta].prefix, sc.day) + " WHERE " + sc.cond
	return queryEach(ctx, s.db, query, func(rows *sql.Rows) error {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return err
		}
		each(v)
		return nil
	})
}

// ProfileLabelNames lists the label names of the selected series. See store.ProfileReader.
// sel.SpanIDs does not filter: spans are not series labels.
func (s *Store) ProfileLabelNames(ctx context.Context, sel store.ProfileSelector) ([]string, error) {
	series, err := s.selectedSeries(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("profile label names: %w", err)
	}
	set := map[string]bool{}
	for _, l := range series {
		for k := range l {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// ProfileLabelValues lists the values of one label among the selected series. See
// store.ProfileReader.
func (s *Store) ProfileLabelValues(ctx context.Context, sel store.ProfileSelector, name string) ([]string, error) {
	series, err := s.selectedSeries(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("profile label values: %w", err)
	}
	set := map[string]bool{}
	for _, l := range series {
		if v, ok := l[name]; ok {
			set[v] = true
		}
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// MergeStacks sums values per distinct stack. See store.ProfileReader.
func (s *Store) MergeStacks(ctx context.Context, sel store.ProfileSelector) ([]store.StackValue, error) {
	scopes, err := s.profileScopes(ctx, sel, true, false)
	if err != nil {
		return nil, fmt.Errorf("merge stacks: %w", err)
	}
	spans, err := spanCond(sel)
	if err != nil {
		return nil, fmt.Errorf("merge stacks: %w", err)
	}
	if len(scopes) == 0 {
		return nil, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("merge stacks: %w", err)
	}
	defer conn.Close()
	// Stack ids are dense per day, so the GROUP BY stack_id below can use a perfect hash
	// table (a slot per id), which DuckDB only does for key ranges of up to 2^12 by default:
	// 2^18 covers a day of 262,144 stacks (the benchmark's day has 72,129), a table of a few
	// MB. Measured on that day: the aggregation 130-200 ms -> 50-60 ms. The setting is
	// the connection's, reset before it goes back to the pool.
	if _, err := conn.ExecContext(ctx, "SET perfect_ht_threshold = 18"); err != nil {
		return nil, fmt.Errorf("merge stacks: %w", err)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "RESET perfect_ht_threshold") }()
	merged := newStackMerger()
	for _, sc := range scopes {
		query := `SELECT st.frames, a.v FROM (SELECT stack_id, sum(` + sc.value + `)::BIGINT AS v FROM ` +
			dayName(profileSamplesSchema.prefix, sc.day) + ` WHERE ` + sc.samples + spans + ` GROUP BY stack_id) a
			JOIN ` + dayName(profileDayTables[ptStacks].prefix, sc.day) + ` st ON st.id = a.stack_id`
		if err := mergeDay(ctx, conn, sc.day, query, merged); err != nil {
			return nil, fmt.Errorf("merge stacks: %w", err)
		}
	}
	return merged.result(), nil
}

// stackMerger sums stacks of several days by content. Function ids are per day, so each
// day's are mapped to ids of the merger's own (by name and file), and a stack is keyed by
// the uvarints of those: short keys, and a stack's frames built once.
type stackMerger struct {
	funcs  map[store.Frame]int32
	frames []store.Frame // by the merger's id
	index  map[string]int
	stacks []store.StackValue
	key    []byte
}

func newStackMerger() *stackMerger {
	return &stackMerger{funcs: map[store.Frame]int32{}, index: map[string]int{}}
}

func (m *stackMerger) result() []store.StackValue {
	out := m.stacks[:0]
	for _, sv := range m.stacks {
		if sv.Value != 0 {
			out = append(out, sv)
		}
	}
	return out
}

// mergeDay runs query (rows of frames blob and value) on one day and adds its stacks.
// Function ids are dense per day (1, 2, ...), so the day's are looked up in slices.
func mergeDay(ctx context.Context, q sqlRunner, day int64, query string, m *stackMerger) error {
	var (
		ends   []int // stack i is ids[ends[i-1]:ends[i]]
		values []int64
		ids    []int32
		used   []bool // by function id
	)
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var frames sql.RawBytes // decoded at once: no copy
		var v int64
		if err := rows.Scan(&frames, &v); err != nil {
			return err
		}
		from := len(ids)
		if ids, err = appendFrames(ids, frames); err != nil {
			return err
		}
		for _, id := range ids[from:] {
			if id < 0 || id > maxFunctionID {
				return fmt.Errorf("day %s: corrupt stack frames (function %d)", dayName("", day), id)
			}
			if int(id) >= len(used) {
				used = slices.Grow(used, int(id)+1-len(used))[:int(id)+1]
			}
			used[id] = true
		}
		ends = append(ends, len(ids))
		values = append(values, v)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	funcs, err := profileFunctions(ctx, q, day, used)
	if err != nil {
		return err
	}
	// This day's function ids -> the merger's, -1 for none.
	local := make([]int32, len(used))
	for id := range local {
		local[id] = -1
		if !used[id] {
			continue
		}
		f, ok := funcs[int32(id)]
		if !ok {
			return fmt.Errorf("day %s: stack refers to function %d, which is not stored", dayName("", day), id)
		}
		g, ok := m.funcs[f]
		if !ok {
			g = int32(len(m.frames))
			m.funcs[f] = g
			m.frames = append(m.frames, f)
		}
		local[id] = g
	}
	// The frames of the day's new stacks, cut from one slice instead of one each.
	var slab []store.Frame
	from := 0
	for i, end := range ends {
		stackIDs := ids[from:end]
		from = end
		m.key = m.key[:0]
		for _, id := range stackIDs {
			m.key = binary.AppendUvarint(m.key, uint64(local[id]))
		}
		if j, ok := m.index[string(m.key)]; ok {
			m.stacks[j].Value += values[i]
			continue
		}
		if len(slab) < len(stackIDs) {
			slab = make([]store.Frame, max(len(stackIDs), min(len(ids)-from+len(stackIDs), 1<<16)))
		}
		stack := slab[:len(stackIDs):len(stackIDs)]
		slab = slab[len(stackIDs):]
		for k, id := range stackIDs {
			// The merger's copy: every stack shares the strings of a function, which
			// flame.Build finds by address.
			stack[k] = m.frames[local[id]]
		}
		m.index[string(m.key)] = len(m.stacks)
		m.stacks = append(m.stacks, store.StackValue{Stack: stack, Value: values[i]})
	}
	return nil
}

// maxFunctionID bounds the function ids a frames blob may hold, so that a corrupt one
// cannot make mergeDay allocate a huge table: a day of 2^26 distinct functions is far
// beyond any set of programs.
const maxFunctionID = 1 << 26

// profileFunctions reads the functions of one day whose ids are set in used. When they
// are most of the ids up to the largest, as for a day of one service, the day's functions
// are read up to that id: a list of thousands of ids costs DuckDB more to parse and plan
// (measured: ~25 ms for 1,400) than the few rows more cost to read.
func profileFunctions(ctx context.Context, q sqlRunner, day int64, used []bool) (map[int32]store.Frame, error) {
	var list []string
	last := 0
	for id, ok := range used {
		if ok {
			list = append(list, strconv.Itoa(id))
			last = id
		}
	}
	out := make(map[int32]store.Frame, len(list))
	if len(list) == 0 {
		return out, nil
	}
	cond := "id IN (" + strings.Join(list, ",") + ")"
	if len(list) > 64 && len(list) >= last/4 {
		cond = "id <= " + strconv.Itoa(last)
	}
	query := "SELECT id, name, file FROM " + dayName(profileDayTables[ptFunctions].prefix, day) + " WHERE " + cond
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int32
		var f store.Frame
		if err := rows.Scan(&id, &f.Function, &f.File); err != nil {
			return nil, err
		}
		if id >= 0 && int(id) < len(used) && used[id] {
			out[id] = f
		}
	}
	return out, rows.Err()
}

// decodeFrames decodes a stack's frames blob: uvarint function ids, leaf first.
func decodeFrames(b []byte) ([]int32, error) {
	return appendFrames(nil, b)
}

// appendFrames appends the function ids of a frames blob to out.
func appendFrames(out []int32, b []byte) ([]int32, error) {
	for len(b) > 0 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("corrupt stack frames")
		}
		out = append(out, int32(v))
		b = b[n:]
	}
	return out, nil
}

// ProfileSeries sums values in buckets of step per group. See store.ProfileReader.
func (s *Store) ProfileSeries(ctx context.Context, sel store.ProfileSelector, groupBy []string, step time.Duration) ([]store.ProfileSeries, error) {
	if step <= 0 {
		return nil, fmt.Errorf("profile series: step must be positive, got %s", step)
	}
	scopes, err := s.profileScopes(ctx, sel, true, true)
	if err != nil {
		return nil, fmt.Errorf("profile series: %w", err)
	}
	spans, err := spanCond(sel)
	if err != nil {
		return nil, fmt.Errorf("profile series: %w", err)
	}
	var origin int64
	if !sel.Start.IsZero() {
		origin = sel.Start.UnixNano()
	}
	type group struct {
		labels map[string]string
		points map[int64]int64
	}
	groups := map[string]*group{}
	// The group of each series id, found once: a series has a row per bucket.
	groupOf := map[int64]*group{}
	for _, sc := range scopes {
		// Integer division: ts >= origin when Start is set, and profiles are after 1970.
		query := fmt.Sprintf(`SELECT series_id, (ts - %d) // %d AS b, sum(%s)::BIGINT
			FROM %s WHERE %s%s GROUP BY series_id, b`, origin, int64(step), sc.value, dayName(profileSamplesSchema.prefix, sc.day), sc.samples, spans)
		err := queryEach(ctx, s.db, query, func(rows *sql.Rows) error {
			var id, b, v int64
			if err := rows.Scan(&id, &b, &v); err != nil {
				return err
			}
			g, ok := groupOf[id]
			if !ok {
				series, ok := sc.series[id]
				if !ok {
					return nil
				}
				lbls := series
				if len(groupBy) > 0 {
					lbls = make(map[string]string, len(groupBy))
					for _, name := range groupBy {
						lbls[name] = series[name]
					}
				}
				key := labelsKey(lbls)
				if g, ok = groups[key]; !ok {
					g = &group{labels: lbls, points: map[int64]int64{}}
					groups[key] = g
				}
				// Series ids are hashes of the labels: the same series on every day.
				groupOf[id] = g
			}
			g.points[b] += v
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("profile series: %w", err)
		}
	}
	out := make([]store.ProfileSeries, 0, len(groups))
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		g := groups[key]
		ps := store.ProfileSeries{Labels: g.labels}
		for _, b := range slices.Sorted(maps.Keys(g.points)) {
			ps.Points = append(ps.Points, store.ProfilePoint{Time: time.Unix(0, origin+b*int64(step)).UTC(), Value: g.points[b]})
		}
		out = append(out, ps)
	}
	return out, nil
}

// labelsKey is a canonical text of a label set (JSON sorts map keys).
func labelsKey(l map[string]string) string {
	b, _ := json.Marshal(l)
	return string(b)
}

// SpansWithFunction sums per span the samples whose stack contains function. See
// store.ProfileReader. limit <= 0 means no limit.
func (s *Store) SpansWithFunction(ctx context.Context, sel store.ProfileSelector, function string, limit int) ([]store.SpanValue, error) {
	scopes, err := s.profileScopes(ctx, sel, true, false)
	if err != nil {
		return nil, fmt.Errorf("spans with function: %w", err)
	}
	spans, err := spanCond(sel)
	if err != nil {
		return nil, fmt.Errorf("spans with function: %w", err)
	}
	type acc struct {
		name string
		v    int64
	}
	bySpan := map[int64]*acc{}
	for _, sc := range scopes {
		funcs := map[int32]bool{}
		err := queryEach(ctx, s.db, "SELECT id FROM "+dayName(profileDayTables[ptFunctions].prefix, sc.day)+" WHERE name = ?",
			func(rows *sql.Rows) error {
				var id int32
				if err := rows.Scan(&id); err != nil {
					return err
				}
				funcs[id] = true
				return nil
			}, function)
		if err != nil {
			return nil, fmt.Errorf("spans with function: %w", err)
		}
		if len(funcs) == 0 {
			continue
		}
		query := `SELECT a.span_id, a.span_name, a.v, st.frames FROM (
				SELECT span_id, max(span_name) AS span_name, stack_id, sum(` + sc.value + `)::BIGINT AS v
				FROM ` + dayName(profileSamplesSchema.prefix, sc.day) + ` WHERE ` + sc.samples + spans + ` AND span_id IS NOT NULL
				GROUP BY span_id, stack_id) a
			JOIN ` + dayName(profileDayTables[ptStacks].prefix, sc.day) + ` st ON st.id = a.stack_id`
		err = queryEach(ctx, s.db, query, func(rows *sql.Rows) error {
			var id, v int64
			var name sql.NullString
			var frames []byte
			if err := rows.Scan(&id, &name, &v, &frames); err != nil {
				return err
			}
			ids, err := decodeFrames(frames)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(ids, func(f int32) bool { return funcs[f] }) {
				return nil
			}
			a, ok := bySpan[id]
			if !ok {
				a = &acc{}
				bySpan[id] = a
			}
			a.name = max(a.name, name.String)
			a.v += v
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("spans with function: %w", err)
		}
	}
	out := make([]store.SpanValue, 0, len(bySpan))
	for id, a := range bySpan {
		if a.v != 0 {
			out = append(out, store.SpanValue{SpanID: formatSpanID(id), SpanName: a.name, Value: a.v})
		}
	}
	slices.SortFunc(out, func(a, b store.SpanValue) int {
		if c := cmp.Compare(b.Value, a.Value); c != 0 {
			return c
		}
		return strings.Compare(a.SpanID, b.SpanID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// queryEach runs query and calls scan for each row.
func queryEach(ctx context.Context, db sqlRunner, query string, scan func(*sql.Rows) error, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
