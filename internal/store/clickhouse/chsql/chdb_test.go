//go:build chdb

package chsql_test

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql/chsqltest"
)

// TestChDBTypes inserts one row of every type Conn.Insert accepts and reads it back.
func TestChDBTypes(t *testing.T) {
	c := chsqltest.Open(t)
	ctx := context.Background()
	require.NoError(t, c.Exec(ctx, `CREATE TABLE t (
		s String, lc LowCardinality(String), fs FixedString(3), b Bool,
		i8 Int8, i16 Int16, i32 Int32, i64 Int64, u8 UInt8, u16 UInt16, u32 UInt32, u64 UInt64,
		f Float64, nan Float64, ts DateTime64(9, 'UTC'),
		as Array(String), ai Array(Int64), au Array(UInt64), af Array(Float64),
		m Map(LowCardinality(String), String)
	) ENGINE = MergeTree ORDER BY ts`))
	ts := time.Date(2026, 11, 18, 1, 2, 3, 123456789, time.UTC)
	row := []any{
		"a'b\\c\nd☃", "lc", "xyz", true,
		int8(-128), int16(-32768), int32(math.MinInt32), int64(math.MinInt64),
		uint8(255), uint16(65535), uint32(math.MaxUint32), uint64(math.MaxUint64),
		1.0 / 3, math.NaN(), ts,
		[]string{"x", "'"}, []int64{-1, math.MaxInt64}, []uint64{math.MaxUint64}, []float64{2.5, math.Inf(-1)},
		map[string]string{"k.1": "v'1", "": ""},
	}
	cols := []string{"s", "lc", "fs", "b", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64",
		"f", "nan", "ts", "as", "ai", "au", "af", "m"}
	require.NoError(t, c.Insert(ctx, "t", cols, [][]any{row}))

	rows, err := c.Query(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM t")
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var (
		s, lc, fs string
		b         bool
		i8        int8
		i16       int16
		i32       int32
		i64       int64
		u8        uint8
		u16       uint16
		u32       uint32
		u64       uint64
		f, nan    float64
		gotTS     time.Time
		as        []string
		ai        []int64
		au        []uint64
		af        []float64
		m         map[string]string
	)
	require.NoError(t, rows.Scan(&s, &lc, &fs, &b, &i8, &i16, &i32, &i64, &u8, &u16, &u32, &u64,
		&f, &nan, &gotTS, &as, &ai, &au, &af, &m))
	got := []any{s, lc, fs, b, i8, i16, i32, i64, u8, u16, u32, u64, f, nan, gotTS, as, ai, au, af, m}
	for i := range row {
		if i == 13 {
			require.True(t, math.IsNaN(nan))
			continue
		}
		require.Equal(t, row[i], got[i], cols[i])
	}
	require.Equal(t, time.UTC, gotTS.Location())

	// The range ends of DateTime64(9), where out-of-range query bounds are clamped, parse.
	for _, bound := range []time.Time{{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
		require.NoError(t, c.Exec(ctx, "SELECT count() FROM t WHERE ts > "+chsql.DateTime64(bound)))
	}
	require.False(t, rows.Next())
	require.NoError(t, rows.Err())

	// Scans are as strict as clickhouse-go's: a UInt64 count does not go into an int64.
	rows, err = c.Query(ctx, "SELECT count() FROM t")
	require.NoError(t, err)
	require.True(t, rows.Next())
	var n int64
	require.ErrorContains(t, rows.Scan(&n), "UInt64")
	require.NoError(t, rows.Close())
}

func TestChDBErrors(t *testing.T) {
	c := chsqltest.Open(t)
	ctx := context.Background()
	_, err := c.Query(ctx, "SELECT * FROM no_such_table")
	require.ErrorContains(t, err, "no_such_table")
	require.Error(t, c.Exec(ctx, "THIS IS NOT SQL"))
	require.ErrorContains(t, c.Insert(ctx, "t", []string{"a"}, [][]any{{struct{}{}}}), "cannot write")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, c.Exec(cancelled, "SELECT 1"), context.Canceled)

	_, err = chsql.OpenChDB(t.TempDir(), "other")
	require.ErrorContains(t, err, "session is open on", "a second data directory in one process")

	require.NoError(t, c.Close())
	require.Error(t, c.Exec(ctx, "SELECT 1"), "closed")
}

// TestChDBDatabases checks that Conns on two databases of the one session each see their
// own tables, also when their queries interleave from several goroutines.
func TestChDBDatabases(t *testing.T) {
	a, b := chsqltest.Open(t), chsqltest.Open(t)
	ctx := context.Background()
	for _, c := range []chsql.Conn{a, b} {
		require.NoError(t, c.Exec(ctx, "CREATE TABLE t (db String, n UInt64) ENGINE = MergeTree ORDER BY n"))
	}
	var wg sync.WaitGroup
	for w := range 8 {
		c := []chsql.Conn{a, b}[w%2]
		wg.Go(func() {
			for i := range 10 {
				if err := c.Insert(ctx, "t", []string{"db", "n"}, [][]any{{c.Database(), uint64(w*100 + i)}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, c := range []chsql.Conn{a, b} {
		rows, err := c.Query(ctx, "SELECT db, count() FROM t GROUP BY db")
		require.NoError(t, err)
		require.True(t, rows.Next())
		var db string
		var n uint64
		require.NoError(t, rows.Scan(&db, &n))
		require.Equal(t, c.Database(), db)
		require.Equal(t, uint64(40), n)
		require.False(t, rows.Next())
		require.NoError(t, rows.Close())
	}
}

// FuzzStringRoundTrip proves String on the real parser: any bytes quoted and selected come
// back unchanged (compared through hex, since JSON output cannot carry invalid UTF-8).
func FuzzStringRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a", "'", "\\", "\\'", "\x00", "\xff\xfe", "☃", "a\nb\tc\r", "\\x41", "{db}", "?", "`"} {
		f.Add(s)
	}
	c := chsqltest.Open(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, s string) {
		q := chsql.String(s)
		require.True(t, utf8.ValidString(q), "the literal is valid UTF-8")
		require.NotContains(t, q, "\x00")
		rows, err := c.Query(ctx, "SELECT hex("+q+") AS h, length("+q+") AS n")
		require.NoError(t, err, q)
		defer rows.Close()
		require.True(t, rows.Next())
		var h string
		var n uint64
		require.NoError(t, rows.Scan(&h, &n))
		require.Equal(t, strings.ToUpper(hexOf(s)), h, "literal %s", q)
		require.Equal(t, uint64(len(s)), n)
	})
}

func hexOf(s string) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, digits[s[i]>>4], digits[s[i]&0xf])
	}
	return string(b)
}

// TestMigrate applies a component's migrations, then again with one more: each version
// runs once, and components do not see each other's versions.
func TestMigrate(t *testing.T) {
	c := chsqltest.Open(t)
	s := chsqltest.Schema(c)
	ctx := context.Background()
	v1 := chsql.Migration{Version: 1, Statements: []string{
		"CREATE TABLE IF NOT EXISTS {db}.things{local}{on_cluster} (n UInt64) ENGINE = {MergeTree} ORDER BY n",
		chsql.Distributed("things", "rand()"),
		"INSERT INTO {db}.things VALUES (1)", // not idempotent: shows that v1 runs once
	}}
	v2 := chsql.Migration{Version: 2, Statements: []string{
		"ALTER TABLE {db}.things{local}{on_cluster} ADD COLUMN IF NOT EXISTS label String",
	}}
	require.NoError(t, chsql.Migrate(ctx, c, s, "things", []chsql.Migration{v1}, nil))
	require.NoError(t, chsql.Migrate(ctx, c, s, "things", []chsql.Migration{v2, v1}, nil))
	require.NoError(t, chsql.Migrate(ctx, c, s, "things", []chsql.Migration{v1, v2}, nil))
	require.NoError(t, chsql.Migrate(ctx, c, s, "other", nil, nil))

	rows, err := c.Query(ctx, "SELECT count(), max(label) FROM things")
	require.NoError(t, err)
	require.True(t, rows.Next())
	var n uint64
	var label string
	require.NoError(t, rows.Scan(&n, &label))
	require.Equal(t, uint64(1), n)
	require.NoError(t, rows.Close())

	rows, err = c.Query(ctx, "SELECT component, version FROM "+chsql.MigrationsTable+" ORDER BY component, version")
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var comp string
		var v uint32
		require.NoError(t, rows.Scan(&comp, &v))
		got = append(got, comp+" "+string(rune('0'+v)))
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"things 1", "things 2"}, got)

	bad := chsql.Migration{Version: 3, Statements: []string{"ALTER TABLE {db}.nope ADD COLUMN x UInt8"}}
	require.ErrorContains(t, chsql.Migrate(ctx, c, s, "things", []chsql.Migration{v1, v2, bad}, nil), "version 3, statement 1")
	require.ErrorContains(t, chsql.Migrate(ctx, c, s, "Bad-Name", nil, nil), "component")
	require.ErrorContains(t, chsql.Migrate(ctx, c, s, "things", []chsql.Migration{v1, v1}, nil), "repeated")
}

// TestMigrateLeaderOnly: a follower node leaves a LeaderOnly migration (here a row copy,
// which must not run twice) to the leader and waits for it, then goes on with the later
// versions; without a leader it gives up when its context ends, naming the setting.
func TestMigrateLeaderOnly(t *testing.T) {
	c := chsqltest.Open(t)
	leader := chsqltest.Schema(c)
	follower := leader
	follower.Follower = true
	ctx := context.Background()
	ms := []chsql.Migration{
		{Version: 1, Statements: []string{
			"CREATE TABLE IF NOT EXISTS {db}.things{local}{on_cluster} (n UInt64) ENGINE = {MergeTree} ORDER BY n",
			chsql.Distributed("things", "rand()"),
		}},
		{Version: 2, LeaderOnly: true, Statements: []string{"INSERT INTO {db}.things VALUES (1)"}},
		{Version: 3, Statements: []string{"ALTER TABLE {db}.things{local}{on_cluster} ADD COLUMN IF NOT EXISTS label String"}},
	}

	done := make(chan error, 1)
	go func() { done <- chsql.Migrate(ctx, c, follower, "things", ms, nil) }()
	// The follower applies version 1 and waits at version 2.
	require.Eventually(t, func() bool { return versions(t, c) == "1" }, 10*time.Second, 50*time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the follower did not wait for the leader: %v", err)
	case <-time.After(2 * time.Second):
	}
	require.Equal(t, "1", versions(t, c), "the follower ran the leader's migration")

	require.NoError(t, chsql.Migrate(ctx, c, leader, "things", ms, nil))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the follower still waits after the leader migrated")
	}
	rows, err := c.Query(ctx, "SELECT count() FROM things")
	require.NoError(t, err)
	require.True(t, rows.Next())
	var n uint64
	require.NoError(t, rows.Scan(&n))
	require.NoError(t, rows.Close())
	require.Equal(t, uint64(1), n, "the copy ran once")
	require.Equal(t, "1 2 3", versions(t, c), "each version recorded once")

	// No leader: the follower's start fails when its context ends.
	v4 := chsql.Migration{Version: 4, LeaderOnly: true, Statements: []string{"INSERT INTO {db}.things (n) VALUES (2)"}}
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	err = chsql.Migrate(short, c, follower, "things", append(ms, v4), nil)
	require.ErrorContains(t, err, "storage.clickhouse.leader: true")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// versions lists the recorded versions of component "things", each time it is recorded.
func versions(t *testing.T, c chsql.Conn) string {
	rows, err := c.Query(context.Background(), "SELECT version FROM "+chsql.MigrationsTable+" WHERE component = 'things' ORDER BY version")
	if err != nil {
		return "" // the bootstrap has not created the table yet
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v uint32
		require.NoError(t, rows.Scan(&v))
		got = append(got, strconv.Itoa(int(v)))
	}
	require.NoError(t, rows.Err())
	return strings.Join(got, " ")
}
