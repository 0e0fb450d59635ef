//go:build chdb

package chprofiles

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func newStore(t testing.TB, conn chsql.Conn, opts Options) *Store {
	t.Helper()
	s, err := New(context.Background(), conn, chsqltest.Schema(conn), opts, nil)
	require.NoError(t, err)
	return s
}

var cpu = store.ProfileType{Name: "process_cpu", SampleType: "cpu", SampleUnit: "nanoseconds", PeriodType: "cpu", PeriodUnit: "nanoseconds"}

// cpuProfile is a CPU profile of service at time at whose samples are stacks of frames
// "f<i>" (leaf first), each stack i with value i+1.
func cpuProfile(service string, at time.Time, stacks ...[]int) store.Profile {
	p := store.Profile{Type: cpu, Labels: map[string]string{"service_name": service}, Time: at, Duration: 10 * time.Second}
	for i, st := range stacks {
		var frames []store.Frame
		for _, f := range st {
			frames = append(frames, store.Frame{Function: fmt.Sprintf("f%d", f), File: "x.go"})
		}
		p.Samples = append(p.Samples, store.ProfileSample{Stack: frames, Value: int64(i + 1)})
	}
	return p
}

func merged(t *testing.T, s *Store, sel store.ProfileSelector) map[string]int64 {
	t.Helper()
	got, err := s.MergeStacks(context.Background(), sel)
	require.NoError(t, err)
	out := map[string]int64{}
	for _, sv := range got {
		var names []string
		for _, f := range sv.Stack {
			names = append(names, f.Function)
		}
		key := strings.Join(names, ";")
		require.NotContains(t, out, key, "one row per distinct stack")
		out[key] = sv.Value
	}
	return out
}

func (s *Store) count(t *testing.T, q string) uint64 {
	t.Helper()
	var n uint64
	require.NoError(t, s.query(context.Background(), q, func(scan func(...any) error) error { return scan(&n) }))
	return n
}

// TestDuplicateContentRows: two stores on one database, as two Loupe nodes on one
// ClickHouse, each write the same stacks (and a restart forgets the cache): the stack and
// function rows are written several times, reads merge them, and once ClickHouse merges
// the parts (forced here) one row per stack and day is left, with the same answers.
func TestDuplicateContentRows(t *testing.T) {
	conn := chsqltest.Open(t)
	ctx := context.Background()
	a, b := newStore(t, conn, Options{}), newStore(t, conn, Options{})
	stacks := [][]int{{1, 2, 3}, {4, 2, 3}, {3}}
	require.NoError(t, a.WriteProfiles(ctx, []store.Profile{cpuProfile("api", t0, stacks...)}))
	require.NoError(t, b.WriteProfiles(ctx, []store.Profile{cpuProfile("api", t0.Add(time.Minute), stacks...)}))
	require.NoError(t, a.WriteProfiles(ctx, []store.Profile{cpuProfile("web", t0.Add(2*time.Minute), stacks...)}))
	require.NoError(t, newStore(t, conn, Options{}).WriteProfiles(ctx, []store.Profile{cpuProfile("api", t0.Add(3*time.Minute), stacks...)}))
	want := map[string]int64{"f1;f2;f3": 4, "f4;f2;f3": 8, "f3": 12}
	sel := store.ProfileSelector{Type: cpu.ID()}
	require.Equal(t, want, merged(t, a, sel))
	require.EqualValues(t, 9, a.count(t, "SELECT count() FROM profile_stacks"), "a stack row per store that wrote it")
	require.EqualValues(t, 12, a.count(t, "SELECT count() FROM profile_functions"))
	for _, table := range []string{"profile_stacks", "profile_functions"} {
		require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"))
	}
	require.EqualValues(t, 3, a.count(t, "SELECT count() FROM profile_stacks"))
	require.EqualValues(t, 4, a.count(t, "SELECT count() FROM profile_functions"))
	require.Equal(t, want, merged(t, b, sel))
	// A later write of a known stack adds only samples.
	require.NoError(t, a.WriteProfiles(ctx, []store.Profile{cpuProfile("api", t0.Add(4*time.Minute), stacks...)}))
	require.EqualValues(t, 3, a.count(t, "SELECT count() FROM profile_stacks"))
	// Another day gets its own rows, so that dropping a day keeps the stacks of the next.
	require.NoError(t, a.WriteProfiles(ctx, []store.Profile{cpuProfile("api", t0.Add(24*time.Hour), stacks...)}))
	require.EqualValues(t, 6, a.count(t, "SELECT count() FROM profile_stacks"))
	require.NoError(t, a.DropBefore(ctx, store.SignalProfiles, t0.Add(24*time.Hour)))
	require.EqualValues(t, 3, a.count(t, "SELECT count() FROM profile_stacks"))
	require.Equal(t, map[string]int64{"f1;f2;f3": 1, "f4;f2;f3": 2, "f3": 3}, merged(t, a, sel))
}

// TestKnownCacheBound: with a cache smaller than a batch's rows, rows are written again
// and reads are unchanged.
func TestKnownCacheBound(t *testing.T) {
	s := newStore(t, chsqltest.Open(t), Options{MaxKnown: 2})
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, s.WriteProfiles(ctx, []store.Profile{cpuProfile("api", t0.Add(time.Duration(i)*time.Minute), []int{1, 2}, []int{2})}))
	}
	require.Equal(t, map[string]int64{"f1;f2": 3, "f2": 6}, merged(t, s, store.ProfileSelector{Type: cpu.ID()}))
	require.LessOrEqual(t, len(s.known), 2)
}

// TestSpanIDZero: all zeros is not a span id (it is how samples without one are stored).
func TestSpanIDZero(t *testing.T) {
	s := newStore(t, chsqltest.Open(t), Options{})
	p := cpuProfile("api", t0, []int{1})
	p.Samples[0].SpanID = "0000000000000000"
	err := s.WriteProfiles(context.Background(), []store.Profile{p})
	require.ErrorContains(t, err, "0000000000000000")
}

func TestTTLAndSize(t *testing.T) {
	conn := chsqltest.Open(t)
	ctx := context.Background()
	s := newStore(t, conn, Options{})
	for _, tb := range tables {
		ttl, err := chsql.TableTTL(ctx, s.conn, s.schema, tb.name)
		require.NoError(t, err)
		require.Empty(t, ttl, tb.name)
	}
	s = newStore(t, conn, Options{Retention: 7 * 24 * time.Hour})
	for _, tb := range tables {
		ttl, err := chsql.TableTTL(ctx, s.conn, s.schema, tb.name)
		require.NoError(t, err)
		want := "toIntervalSecond(604800)"
		if tb.timeCol == "day_ns" {
			want = "toIntervalSecond(691200)" // a day longer
		}
		require.Contains(t, ttl, want, tb.name)
	}
	s = newStore(t, conn, Options{})
	for _, tb := range tables {
		ttl, err := chsql.TableTTL(ctx, s.conn, s.schema, tb.name)
		require.NoError(t, err)
		require.Empty(t, ttl, tb.name)
	}
	require.NoError(t, s.WriteProfiles(ctx, []store.Profile{cpuProfile("api", t0, []int{1})}))
	sizes, err := s.DiskBytes(ctx)
	require.NoError(t, err)
	require.Positive(t, sizes[store.SignalProfiles])
}
