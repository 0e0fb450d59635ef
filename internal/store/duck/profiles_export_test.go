package duck

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
)

// exported collects a store's export, failing on an error.
func exported(t *testing.T, s *Store, start, end time.Time) []store.Profile {
	t.Helper()
	var out []store.Profile
	for p, err := range s.ExportProfiles(context.Background(), start, end) {
		require.NoError(t, err)
		out = append(out, p)
	}
	return out
}

// profileText is a canonical text of profiles: each one's type, labels, time, duration,
// period and its samples merged by stack and span (as the store merges them), zero sums
// and empty labels left out, sorted.
func profileText(ps []store.Profile) []string {
	var out []string
	for _, p := range ps {
		sums := map[string]int64{}
		for _, smp := range p.Samples {
			var b strings.Builder
			for _, f := range smp.Stack {
				b.WriteString(f.Function + "@" + f.File + ";")
			}
			sums[b.String()+" span="+smp.SpanID+"/"+smp.SpanName] += smp.Value
		}
		var samples []string
		for k, v := range sums {
			if v != 0 {
				samples = append(samples, fmt.Sprintf("%s=%d", k, v))
			}
		}
		slices.Sort(samples)
		lbls := map[string]string{}
		for k, v := range p.Labels {
			if v != "" {
				lbls[k] = v
			}
		}
		js, _ := json.Marshal(lbls)
		out = append(out, fmt.Sprintf("%s %s %d dur=%s period=%d\n%s", p.Type.ID(), js, p.Time.UnixNano(),
			p.Duration, p.Period, strings.Join(samples, "\n")))
	}
	slices.Sort(out)
	return out
}

// Every profile written comes back from ExportProfiles as it was written, in time order,
// including those whose samples are stored once for two types (profiles_share.go); written
// into another store a push at a time, they answer every query alike and take as many
// sample rows (the shared samples are shared again).
func TestExportProfiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openShareStore(t, filepath.Join(dir, "a.duckdb"))
	defer a.Close()
	base := time.Date(2026, 11, 18, 22, 0, 0, 0, time.UTC) // two days
	pushes := sharePushes(60, base)
	var all []store.Profile
	for _, push := range pushes {
		require.NoError(t, a.WriteProfiles(ctx, push))
		all = append(all, push...)
	}
	got := exported(t, a, time.Time{}, time.Time{})
	require.Equal(t, profileText(all), profileText(got))
	require.True(t, slices.IsSortedFunc(got, func(x, y store.Profile) int { return x.Time.Compare(y.Time) }), "time order")

	// Bounds: [start, end), across the day boundary.
	start, end := base.Add(70*time.Minute), base.Add(3*time.Hour)
	var want []store.Profile
	for _, p := range all {
		if !p.Time.Before(start) && p.Time.Before(end) {
			want = append(want, p)
		}
	}
	require.NotEmpty(t, want)
	require.Equal(t, profileText(want), profileText(exported(t, a, start, end)))
	require.Empty(t, exported(t, a, end, start))

	// A consumer that stops early stops the export.
	n := 0
	for _, err := range a.ExportProfiles(ctx, time.Time{}, time.Time{}) {
		require.NoError(t, err)
		if n++; n == 3 {
			break
		}
	}
	require.Equal(t, 3, n)

	// Copied a time at a time (the profiles of one pprof together), as loupe migrate does.
	b := openShareStore(t, filepath.Join(dir, "b.duckdb"))
	defer b.Close()
	for from := 0; from < len(got); {
		to := from + 1
		for to < len(got) && got[to].Time.Equal(got[from].Time) {
			to++
		}
		require.NoError(t, b.WriteProfiles(ctx, got[from:to]))
		from = to
	}
	requireSameAnswers(t, a, b, base)
	require.Equal(t, profileText(got), profileText(exported(t, b, time.Time{}, time.Time{})))
	for _, table := range []string{"profile_samples_20261118", "profile_samples_20261119"} {
		require.Equal(t, tableRows(t, a, table), tableRows(t, b, table), table)
	}
}

// BenchmarkExportProfiles24h exports BenchmarkMergeStacks24h's day (LOUPE_BENCH_PROFILES
// pprofs of ~real Go CPU profiles, two store profiles each), what loupe migrate reads.
func BenchmarkExportProfiles24h(b *testing.B) {
	db := openMerge24h(b)
	s, err := Open(db.path, DefaultOptions(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var profiles, samples int
	for b.Loop() {
		profiles, samples = 0, 0
		for p, err := range s.ExportProfiles(ctx, time.Time{}, time.Time{}) {
			if err != nil {
				b.Fatal(err)
			}
			profiles++
			samples += len(p.Samples)
		}
	}
	if profiles != 2*db.n {
		b.Fatalf("%d profiles exported, want %d", profiles, 2*db.n)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(profiles), "us/profile")
	b.ReportMetric(float64(samples)/float64(profiles), "samples/profile")
}
