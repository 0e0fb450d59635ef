package duck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

// ExportProfiles reads the stored profiles back whole (store.ProfileExporter), for loupe
// migrate. A profile is a profile_meta row (series, type, time, duration, period); its
// samples are the profile_samples rows of the same series and time whose type_id is its
// type or a type set it belongs to (profiles_share.go), each value times its scale in
// that type. A day's functions, stacks and series are read once; its meta rows are
// read whole (five integers a profile) and its samples a window of times at a time.

var _ store.ProfileExporter = (*Store)(nil)

// exportWindow is about how many profiles a samples query reads: enough to amortise the
// query, few enough to keep a window's samples small. A window holds whole times, so that
// the profiles of one pprof (same series and time) are yielded together.
const exportWindow = 256

// exportKey identifies a profile: profiles of the same series, type and time were merged
// by every read, and are exported as one.
type exportKey struct {
	ts, series int64
	typ        int32
}

type exportMeta struct {
	exportKey
	dur, period int64
}

// ExportProfiles yields the profiles with Time in [start, end). See
// store.ProfileExporter.
func (s *Store) ExportProfiles(ctx context.Context, start, end time.Time) iter.Seq2[store.Profile, error] {
	return func(yield func(store.Profile, error) bool) {
		if !start.IsZero() && !end.IsZero() && !end.After(start) {
			return
		}
		startNs, endNs := timeRange(start, end)
		cond := "ts >= " + strconv.FormatInt(startNs, 10)
		if endNs > 0 || !end.IsZero() {
			cond += " AND ts < " + strconv.FormatInt(endNs, 10)
		}
		days := s.profiles.samples.daysIn(startNs, endNs)
		slices.Reverse(days) // oldest first
		for _, day := range days {
			if err := s.exportDay(ctx, day, cond, yield); err != nil {
				if !errors.Is(err, errStopExport) {
					yield(store.Profile{}, fmt.Errorf("export profiles of %s: %w", dayName("day", day), err))
				}
				return
			}
		}
	}
}

// errStopExport is exportDay's answer when the consumer stopped.
var errStopExport = errors.New("stopped")

// exportDay yields the profiles of one day that match cond (on ts).
func (s *Store) exportDay(ctx context.Context, day int64, cond string, yield func(store.Profile, error) bool) error {
	table := func(k int) string { return dayName(profileDayTables[k].prefix, day) }
	var funcs []store.Frame // by function id
	err := queryEach(ctx, s.db, functionsQuery+table(ptFunctions), scanFunctions(&funcs, nil))
	if err != nil {
		return err
	}
	stacks := map[int32][]int32{} // stack id -> function ids, leaf first
	err = queryEach(ctx, s.db, "SELECT id, frames FROM "+table(ptStacks), func(rows *sql.Rows) error {
		var id int32
		var frames []byte
		if err := rows.Scan(&id, &frames); err != nil {
			return err
		}
		ids, err := decodeFrames(frames)
		if err != nil {
			return fmt.Errorf("stack %d: %w", id, err)
		}
		for _, f := range ids {
			if f <= 0 || int(f) >= len(funcs) {
				return fmt.Errorf("stack %d refers to function %d, which is not stored", id, f)
			}
		}
		stacks[id] = ids
		return nil
	})
	if err != nil {
		return err
	}
	series, err := s.profileSeriesLabels(ctx, day, nil)
	if err != nil {
		return err
	}
	var metas []exportMeta
	err = queryEach(ctx, s.db, "SELECT series_id, type_id, ts, duration_ns, period FROM "+table(ptMeta)+" WHERE "+cond+
		" ORDER BY ts, series_id, type_id, duration_ns, period", func(rows *sql.Rows) error {
		var m exportMeta
		if err := rows.Scan(&m.series, &m.typ, &m.ts, &m.dur, &m.period); err != nil {
			return err
		}
		if n := len(metas); n > 0 && metas[n-1].exportKey == m.exportKey {
			return nil // merged with the previous one by every read
		}
		metas = append(metas, m)
		return nil
	})
	if err != nil {
		return err
	}
	for from := 0; from < len(metas); {
		to := min(from+exportWindow, len(metas))
		for to < len(metas) && metas[to].ts == metas[to-1].ts {
			to++
		}
		if err := s.exportWindow(ctx, day, metas[from:to], funcs, stacks, series, yield); err != nil {
			return err
		}
		from = to
	}
	return nil
}

// exportWindow reads the samples of metas (in time order, whole times) and yields them.
func (s *Store) exportWindow(ctx context.Context, day int64, metas []exportMeta, funcs []store.Frame,
	stacks map[int32][]int32, series map[int64]map[string]string, yield func(store.Profile, error) bool) error {
	out := make([]store.Profile, len(metas))
	index := make(map[exportKey]int, len(metas))
	for i, m := range metas {
		name, ok := s.profiles.typeName(m.typ)
		if !ok {
			return fmt.Errorf("profile type id %d is not stored", m.typ)
		}
		t, err := store.ParseProfileType(name)
		if err != nil {
			return fmt.Errorf("stored %w", err)
		}
		lbls, ok := series[m.series]
		if !ok {
			return fmt.Errorf("series %d of a profile at %d is not stored", m.series, m.ts)
		}
		out[i] = store.Profile{Type: t, Labels: lbls, Time: time.Unix(0, m.ts).UTC(),
			Duration: time.Duration(m.dur), Period: m.period}
		index[m.exportKey] = i
	}
	s.profiles.typesMu.RLock()
	sets := make(map[int32][]setMember, len(s.profiles.sets))
	for id, m := range s.profiles.sets {
		sets[id] = m
	}
	s.profiles.typesMu.RUnlock()
	// The frames of each stack, built once per window and shared by its samples: the
	// writers do not retain them.
	frames := map[int32][]store.Frame{}
	query := "SELECT ts, series_id, type_id, stack_id, value, scale, span_id, span_name FROM " +
		dayName(profileSamplesSchema.prefix, day) + " WHERE ts >= " + strconv.FormatInt(metas[0].ts, 10) +
		" AND ts <= " + strconv.FormatInt(metas[len(metas)-1].ts, 10) +
		" ORDER BY ts, series_id, type_id, stack_id, span_id NULLS FIRST, span_name NULLS FIRST"
	err := queryEach(ctx, s.db, query, func(rows *sql.Rows) error {
		var (
			k            exportKey
			stack        int32
			value, scale int64
			spanID       sql.NullInt64
			spanName     sql.NullString
		)
		if err := rows.Scan(&k.ts, &k.series, &k.typ, &stack, &value, &scale, &spanID, &spanName); err != nil {
			return err
		}
		fr, ok := frames[stack]
		if !ok {
			ids, ok := stacks[stack]
			if !ok {
				return fmt.Errorf("sample refers to stack %d, which is not stored", stack)
			}
			fr = make([]store.Frame, len(ids))
			for i, id := range ids {
				fr[i] = funcs[id]
			}
			frames[stack] = fr
		}
		smp := store.ProfileSample{Stack: fr}
		if spanID.Valid {
			smp.SpanID, smp.SpanName = formatSpanID(spanID.Int64), spanName.String
		}
		add := func(typ int32, v int64) {
			k.typ = typ
			if i, ok := index[k]; ok && v != 0 {
				smp.Value = v
				out[i].Samples = append(out[i].Samples, smp)
			}
		}
		members, isSet := sets[k.typ]
		if !isSet {
			add(k.typ, value*scale)
			return nil
		}
		for _, m := range members {
			// The primary's scale is a multiple of den (setMember): exact.
			add(m.typeID, value*(scale/m.den*m.num))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range out {
		if len(p.Samples) == 0 {
			continue // nothing a read would count
		}
		if !yield(p, nil) {
			return errStopExport
		}
	}
	return nil
}
