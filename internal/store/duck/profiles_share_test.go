package duck

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

var (
	shareCPU   = store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	shareCount = store.ProfileType{Name: "process_cpu", SampleType: "samples", SampleUnit: "count", PeriodType: "cpu", PeriodUnit: "nanoseconds"}
	// shareLo and shareHi have values k and 5k of the same k (the CPU count squared, so
	// mostly not proportional to it) and period 5: the primary is shareHi, written second.
	shareLo = store.ProfileType{Name: "odd", SampleType: "lo", SampleUnit: "count"}
	shareHi = store.ProfileType{Name: "odd", SampleType: "hi", SampleUnit: "count"}
	// shareTwo and shareThree have values 2k and 3k: proportional, but not by their period
	// (none), so not shared.
	shareTwo   = store.ProfileType{Name: "odd", SampleType: "two", SampleUnit: "count"}
	shareThree = store.ProfileType{Name: "odd", SampleType: "three", SampleUnit: "count"}
)

// sharePushes makes n pushes as a converter makes them from one pprof each: a CPU pair
// (count, and count × 10 ms), sometimes with odd pairs (k and 5k, 2k and 3k), and sometimes a count
// profile whose values are not proportional to its pair's (not shared).
func sharePushes(n int, base time.Time) [][]store.Profile {
	rng := rand.New(rand.NewPCG(7, 9))
	frames := []store.Frame{{Function: "main.a", File: "a.go"}, {Function: "main.b", File: "b.go"},
		{Function: "main.c"}, {Function: "runtime.main", File: "proc.go"}}
	var out [][]store.Profile
	for i := range n {
		lbls := map[string]string{"service_name": fmt.Sprintf("svc%d", i%3), "pod": fmt.Sprintf("p%d", i%2)}
		at := base.Add(time.Duration(i) * 7 * time.Minute)
		var counts, ns, lo, hi, two, three, other []store.ProfileSample
		for range 2 + rng.IntN(6) {
			depth := 1 + rng.IntN(len(frames))
			stack := append([]store.Frame(nil), frames[len(frames)-depth:]...)
			rng.Shuffle(len(stack)-1, func(a, b int) { stack[a], stack[b] = stack[b], stack[a] })
			c := int64(1 + rng.IntN(5))
			var span, name string
			if rng.IntN(3) == 0 {
				span, name = fmt.Sprintf("%016x", 1+rng.IntN(4)), "GET /x"
			}
			counts = append(counts, store.ProfileSample{Stack: stack, Value: c, SpanID: span, SpanName: name})
			ns = append(ns, store.ProfileSample{Stack: stack, Value: c * 10_000_000, SpanID: span, SpanName: name})
			lo = append(lo, store.ProfileSample{Stack: stack, Value: c * c, SpanID: span, SpanName: name})
			hi = append(hi, store.ProfileSample{Stack: stack, Value: 5 * c * c, SpanID: span, SpanName: name})
			two = append(two, store.ProfileSample{Stack: stack, Value: 2 * c * c, SpanID: span, SpanName: name})
			three = append(three, store.ProfileSample{Stack: stack, Value: 3 * c * c, SpanID: span, SpanName: name})
			other = append(other, store.ProfileSample{Stack: stack, Value: c + int64(rng.IntN(3)), SpanID: span, SpanName: name})
		}
		p := func(t store.ProfileType, period int64, s []store.ProfileSample) store.Profile {
			return store.Profile{Type: t, Labels: lbls, Time: at, Duration: 10 * time.Second, Period: period, Samples: s}
		}
		push := []store.Profile{p(shareCPU, 10_000_000, ns), p(shareCount, 10_000_000, counts)}
		switch i % 3 {
		case 1:
			push = append(push, p(shareLo, 5, lo), p(shareHi, 5, hi), p(shareTwo, 0, two), p(shareThree, 0, three))
		case 2:
			push[1] = p(shareCount, 10_000_000, other)
		}
		out = append(out, push)
	}
	return out
}

func openShareStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	return s
}

// requireSameAnswers checks that a and b answer every query alike for every type.
func requireSameAnswers(t *testing.T, a, b *Store, base time.Time) {
	t.Helper()
	ctx := context.Background()
	end := base.Add(48 * time.Hour)
	ta, err := a.ProfileTypes(ctx, base, end)
	require.NoError(t, err)
	tb, err := b.ProfileTypes(ctx, base, end)
	require.NoError(t, err)
	require.Equal(t, tb, ta)
	require.Len(t, ta, 6)
	sels := func(typ string) []store.ProfileSelector {
		return []store.ProfileSelector{
			{Type: typ, Start: base, End: end},
			{Type: typ, Start: base.Add(time.Hour), End: base.Add(20 * time.Hour), Matchers: []*labels.Matcher{
				labels.MustNewMatcher(labels.MatchEqual, "service_name", "svc1")}},
			{Type: typ, Start: base, End: end, SpanIDs: []string{"0000000000000001", "0000000000000003"}},
		}
	}
	for _, typ := range ta {
		for _, sel := range sels(typ.ID()) {
			ma, err := a.MergeStacks(ctx, sel)
			require.NoError(t, err)
			mb, err := b.MergeStacks(ctx, sel)
			require.NoError(t, err)
			require.NotEmpty(t, mb, typ.ID())
			require.ElementsMatch(t, mb, ma, typ.ID())
			for _, group := range [][]string{nil, {"pod"}} {
				sa, err := a.ProfileSeries(ctx, sel, group, 30*time.Minute)
				require.NoError(t, err)
				sb, err := b.ProfileSeries(ctx, sel, group, 30*time.Minute)
				require.NoError(t, err)
				require.Equal(t, sb, sa, typ.ID())
			}
			wa, err := a.SpansWithFunction(ctx, sel, "main.c", 0)
			require.NoError(t, err)
			wb, err := b.SpansWithFunction(ctx, sel, "main.c", 0)
			require.NoError(t, err)
			require.Equal(t, wb, wa, typ.ID())
			na, err := a.ProfileLabelValues(ctx, sel, "pod")
			require.NoError(t, err)
			nb, err := b.ProfileLabelValues(ctx, sel, "pod")
			require.NoError(t, err)
			require.Equal(t, nb, na, typ.ID())
		}
	}
}

// Profiles of one pprof whose samples are the same once divided by their scale (a Go CPU
// profile's samples/count and cpu/nanoseconds) are stored once, and every query answers
// as if each were stored alone: store a gets each push in one write (shared), store b
// each profile in a write of its own (never shared). Still so after a restart, when more
// pushes reuse the type sets.
func TestProfileSharedSamples(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a.duckdb"), filepath.Join(dir, "b.duckdb")
	a, b := openShareStore(t, pa), openShareStore(t, pb)
	base := time.Date(2026, 11, 18, 22, 0, 0, 0, time.UTC) // two days
	pushes := sharePushes(60, base)
	write := func(pushes [][]store.Profile) {
		for _, push := range pushes {
			require.NoError(t, a.WriteProfiles(ctx, push))
			for _, p := range push {
				require.NoError(t, b.WriteProfiles(ctx, []store.Profile{p}))
			}
		}
	}
	write(pushes[:40])
	requireSameAnswers(t, a, b, base)
	rows := func(s *Store) (n int) {
		for _, table := range []string{"profile_samples_20261118", "profile_samples_20261119"} {
			n += tableRows(t, s, table)
		}
		return n
	}
	// Per sample, a push of the form i%3 == 0 is 1 row in a and 2 in b; 1: 4 (cpu+count,
	// lo+hi, two, three) and 6; 2: 2 (the count profile is not the CPU one's) and 2. So a
	// has about 7/10 of b's rows.
	ra, rb := rows(a), rows(b)
	require.Less(t, ra, rb*3/4, "a %d rows, b %d", ra, rb)
	sets := func() (n int) {
		require.NoError(t, a.db.QueryRow("SELECT count(*) FROM profile_types WHERE starts_with(name, 'typeset:')").Scan(&n))
		return n
	}
	// cpu+count and lo+hi; two+three are apart by no period.
	require.Equal(t, 2, sets())
	var names []string
	require.NoError(t, queryEach(ctx, a.db, "SELECT name FROM profile_types WHERE starts_with(name, 'typeset:') ORDER BY name", func(r *sql.Rows) error {
		var n string
		names = append(names, n)
		return r.Scan(&names[len(names)-1])
	}))
	require.Regexp(t, `^typeset:\d+\*1/1,\d+\*1/10000000$`, names[0])
	require.Regexp(t, `^typeset:\d+\*1/1,\d+\*1/5$`, names[1])
	before := sets()
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())

	a, b = openShareStore(t, pa), openShareStore(t, pb)
	defer a.Close()
	defer b.Close()
	requireSameAnswers(t, a, b, base)
	// The same pushes a minute later are new profiles under the sets read back.
	again := sharePushes(40, base.Add(time.Minute))
	write(again)
	require.Equal(t, before, sets())
	write(pushes[40:])
	requireSameAnswers(t, a, b, base)
}

func TestTypeSetName(t *testing.T) {
	m := []setMember{{typeID: 3, num: 1, den: 1}, {typeID: 5, num: 1, den: 10_000_000}, {typeID: 9, num: 2, den: 3}}
	name := typeSetName(m)
	require.Equal(t, "typeset:3*1/1,5*1/10000000,9*2/3", name)
	got, err := parseTypeSet(name)
	require.NoError(t, err)
	require.Equal(t, m, got)
	_, err = store.ParseProfileType(name)
	require.Error(t, err, "a set's name is no profile type ID")
	for _, bad := range []string{"typeset:", "typeset:3*1/1", "typeset:3*2/1,4*1/2", "typeset:3*1/1,4*0/2", "typeset:3*1/1,x*1/2", "set:3*1/1,4*1/2"} {
		_, err := parseTypeSet(bad)
		require.Error(t, err, bad)
	}
}
