package duck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/query/logql/plan"
	"github.com/loupe-dev/loupe/internal/store"
)

// termFilterHolds reports whether the filter built from body (and folded) may match
// every substring search that finds needle in it.
func termFilterHolds(t testing.TB, body, needle string) {
	f := newTermFilter()
	f.addBody(body)
	filter := f.bytes()
	// Both searches the index serves: LogQL's case-sensitive |= and the native,
	// case-insensitive search, whose needle is lowered.
	for _, n := range []string{needle, strings.ToLower(needle)} {
		if !strings.Contains(body, n) && !strings.Contains(strings.ToLower(body), n) {
			continue
		}
		q := termQuery(nil).bodyTerms(bodyNeedles{{n}})
		if !q.mayMatch(filter) {
			t.Fatalf("body %q, needle %q: pruned", body, n)
		}
	}
}

// TestTermFilterHoldsItsNeedles checks the index's one promise for bodies: a filter has
// the terms of every needle its bodies contain, whatever the case and the needle's ends.
func TestTermFilterHoldsItsNeedles(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []rune("abcXYZ0192 -_=/:.é€K\u212AİıSſß")
	for range 2000 {
		r := make([]rune, rng.IntN(40))
		for j := range r {
			r[j] = alphabet[rng.IntN(len(alphabet))]
		}
		b := string(r)
		for range 5 {
			if len(b) == 0 {
				break
			}
			i := rng.IntN(len(b))
			j := i + rng.IntN(len(b)-i+1)
			termFilterHolds(t, b, b[i:j])
		}
	}
}

func FuzzTermNeedles(f *testing.F) {
	f.Add("order o-1000135 updated: 3 items", 6, 15)
	f.Add("user U-31337 logged in", 5, 12)
	f.Fuzz(func(t *testing.T, body string, i, j int) {
		if len(body) == 0 || len(body) > 1000 {
			return
		}
		i = (i%len(body) + len(body)) % len(body)
		j = i + (j%(len(body)-i+1)+len(body)-i+1)%(len(body)-i+1)
		termFilterHolds(t, body, body[i:j])
	})
}

func TestNeedleTerms(t *testing.T) {
	require.Nil(t, needleTerms("a1b2c3d4e5"), "one token may sit inside a longer one")
	require.Nil(t, needleTerms("abc-x"), "the first token may end a longer one, the last is too short for a prefix")
	require.Equal(t, []termAny{{{h: tokenHash('p', "100013")}}}, needleTerms("o-1000135"),
		"the last token is whole or the start of a longer one: both have its prefix")
	require.Nil(t, needleTerms("u-05432"), "an open last token shorter than the prefix")
	require.Equal(t, []termAny{{{h: tokenHash('w', "b")}}, {{h: tokenHash('w', "ccc")}}}, needleTerms("a b ccc "))
	require.Nil(t, needleTerms("x-é1234567"), "tokens with non-ASCII bytes are left to the trigrams")
	require.Nil(t, termQuery(nil).bodyTerms(bodyNeedles{{"o-1000135", "x"}}), "an alternative without terms prunes nothing")
	require.Len(t, termQuery(nil).attrTerm("user.id", ""), 0, "an empty value matches absent keys")
}

// TestTermFilterAttrs checks that every attribute of a record is found by the filters
// the native API and LogQL would write for it.
func TestTermFilterAttrs(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("user.id", "u-31337")
	m.PutInt("http.status_code", 503)
	m.PutBool("cache.hit", true)
	m.PutDouble("ratio", 0.5)
	m.PutEmptyBytes("raw").FromRaw([]byte{1, 2})
	m.PutStr("odd\x1fkey", "a\x00b")
	f := newTermFilter()
	f.addAttrs(m)
	filter := f.bytes()
	has := func(key, value string) bool { return termQuery(nil).attrTerm(key, value).mayMatch(filter) }
	for _, key := range []string{"user.id", "user_id"} { // LogQL sanitizes the name
		require.True(t, has(key, "u-31337"), key)
		require.False(t, has(key, "u-31338"), key)
	}
	require.True(t, has("http.status_code", "503"))
	require.True(t, has("http_status_code", "503"))
	require.False(t, has("http_status_code", "502"))
	require.True(t, has("cache_hit", "true"))
	require.True(t, has("ratio", "0.5"), "doubles: any value")
	require.True(t, has("ratio", "5e-01"), "doubles: any value")
	require.True(t, has("raw", "AQI="), "bytes: any value")
	require.True(t, has("odd_key", "anything"), "strings stored as JSON: any value")
	require.False(t, has("other", "u-31337"))
}

// termTestStore writes 1,050 records in blocks of 100 rows: bodies "order o-<n> ..."
// with seven-digit ids (every digit trigram is in every block), attributes user.id,
// http.status_code and a double, and a resource attribute.
func termTestStore(t *testing.T) *Store {
	t.Helper()
	s := openBlocksTest(t, filepath.Join(t.TempDir(), "loupe.duckdb"))
	ctx := context.Background()
	// Several batches, as a server would write them, each with the resource.
	for first := 0; first < 1050; first += 150 {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "shop")
		rl.Resource().Attributes().PutStr("k8s.pod", "pod-7")
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for i := first; i < first+150; i++ {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(benchStart.Add(time.Duration(i) * time.Millisecond)))
			lr.Body().SetStr(fmt.Sprintf("order o-%07d updated for user u-%d in %dms", 1000000+i*7919%1000000, i, i%89))
			lr.Attributes().PutStr("user.id", fmt.Sprintf("u-%d", i))
			lr.Attributes().PutInt("http.status_code", int64(200+i%3))
			lr.Attributes().PutDouble("ratio", float64(i)/4)
		}
		require.NoError(t, s.WriteLogs(ctx, ld))
	}
	waitFilters(t, s, s.termIndex, 10)
	require.Zero(t, s.termIndex.readBacks.Load(), "the writer built every filter from the rows it wrote")
	return s
}

// TestTermIndexPrunesDigitsAndAttributes: searches for an id made of digits and attribute
// equalities read only the blocks that hold them (the trigram filters alone prune
// nothing here), with the same results as a scan.
func TestTermIndexPrunesDigitsAndAttributes(t *testing.T) {
	s := termTestStore(t)
	ctx := context.Background()
	day := dayOf(benchStart.UnixNano())
	// Record 321 has order id 1000000+321*7919%1000000.
	id := fmt.Sprintf("o-%07d", 1000000+321*7919%1000000)

	ranges, err := s.searchRanges(ctx, day, logIndexQuery{needles: bodyNeedles{{id}}})
	require.NoError(t, err)
	require.NotEqual(t, []rowRange{{300, 399}, {1000, -1}}, ranges,
		"the trigram filters alone keep other blocks: every digit trigram is common")

	for _, f := range []store.LogFilter{
		{Contains: strings.ToUpper(id)},
		{Attrs: []store.AttrFilter{{Key: "user.id", Op: store.MatchEqual, Value: "u-321"}}},
		{Attrs: []store.AttrFilter{{Key: "user.id", Op: store.MatchEqual, Value: "u-321"},
			{Key: "http.status_code", Op: store.MatchEqual, Value: "200"}}},
	} {
		ranges, err := s.searchRanges(ctx, day, nativeIndexQuery(f))
		require.NoError(t, err)
		require.Equal(t, []rowRange{{300, 399}, {1000, -1}}, ranges, "%+v: the block of record 321 and the tail", f)
		var bodies []string
		for rec, err := range s.QueryLogs(ctx, store.LogQuery{LogFilter: f}) {
			require.NoError(t, err)
			bodies = append(bodies, rec.Body)
		}
		require.Len(t, bodies, 1, "%+v", f)
		require.Contains(t, bodies[0], id)
	}

	// Filters the index cannot narrow read everything and still find their records.
	for _, tc := range []struct {
		f    store.LogFilter
		want int
	}{
		{store.LogFilter{Attrs: []store.AttrFilter{{Key: "ratio", Op: store.MatchEqual, Value: "80.25"}}}, 1},
		{store.LogFilter{Attrs: []store.AttrFilter{{Key: "k8s.pod", Op: store.MatchEqual, Value: "pod-7"}}}, 100},
		{store.LogFilter{Attrs: []store.AttrFilter{{Key: "k8s.pod", Op: store.MatchEqual, Value: "pod-8"}}}, 0},
		{store.LogFilter{Contains: "u-32"}, 11}, // u-32 and u-320..u-329: a substring search
	} {
		n := 0
		for _, err := range s.QueryLogs(ctx, store.LogQuery{LogFilter: tc.f, Limit: 100}) {
			require.NoError(t, err)
			n++
		}
		require.Equal(t, tc.want, n, "%+v", tc.f)
	}
	ranges, err = s.searchRanges(ctx, day, nativeIndexQuery(store.LogFilter{
		Attrs: []store.AttrFilter{{Key: "k8s.pod", Op: store.MatchEqual, Value: "pod-8"}}}))
	require.NoError(t, err)
	require.Equal(t, []rowRange{{1000, -1}}, ranges, "resource attributes are indexed too")

	// LogQL: a pushed-down label filter narrows the rows the store returns.
	// It may return more (the engine applies the filter): "80.25" is also in "d180.25".
	for _, tc := range []struct {
		f    plan.AttrFilter
		want []int
	}{
		{plan.AttrFilter{Name: "user_id", Value: "u-321"}, []int{321}},
		{plan.AttrFilter{Name: "ratio", Value: "80.25"}, []int{721, 321}},
	} {
		var got []string
		for row, err := range s.LogQL().Rows(ctx, plan.Select{Start: 0, End: 1 << 62, AttrFilters: []plan.AttrFilter{tc.f}}) {
			require.NoError(t, err)
			got = append(got, row.Body)
		}
		require.Len(t, got, len(tc.want), "%+v", tc.f)
		for i, n := range tc.want {
			require.Contains(t, got[i], fmt.Sprintf("user u-%d ", n))
		}
	}
}

// TestNewestFirstOutOfOrder checks the newest-first scan against a sort when rows arrive
// out of time order: late records among the oldest rowids, and blocks whose times
// overlap. Timestamps are distinct, so the expected order is by time alone.
func TestNewestFirstOutOfOrder(t *testing.T) {
	s := openBlocksTest(t, filepath.Join(t.TempDir(), "loupe.duckdb"))
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	var want []int64 // timestamps of the records with the word, newest first
	for batch := range 10 {
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for j := range 120 {
			i := batch*120 + j
			ms := int64(i) + int64(rng.IntN(400)) // overlapping blocks
			if batch == 0 && j < 5 {
				ms = 100_000 + int64(j) // late records, newest of all, in the oldest rows
			}
			ts := benchStart.Add(time.Duration(ms)*time.Millisecond + time.Duration(i))
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			body := "noise"
			if rng.IntN(3) == 0 {
				body = "a frequent word"
				want = append(want, ts.UnixNano())
			}
			lr.Body().SetStr(body)
		}
		require.NoError(t, s.WriteLogs(ctx, ld))
	}
	slices.Sort(want)
	slices.Reverse(want)
	for _, limit := range []int{1, 7, 50, 100, 1000} {
		var got []int64
		cursor := ""
		for {
			n := 0
			for rec, err := range s.QueryLogs(ctx, store.LogQuery{LogFilter: store.LogFilter{Contains: "frequent"}, Limit: limit, Cursor: cursor}) {
				require.NoError(t, err)
				got = append(got, rec.Timestamp.UnixNano())
				cursor = rec.Cursor
				n++
			}
			if n < limit {
				break
			}
		}
		require.Equal(t, want, got, "limit %d, paging through all", limit)
	}
}

// TestTermPrefixSeparatesNeighbours: ids that share five bytes (u-054321, u-054329) were
// one prefix entry, so a search for one matched every block holding the other.
func TestTermPrefixSeparatesNeighbours(t *testing.T) {
	f := newTermFilter()
	f.addBody("user u-054329 logged in from 10.0.0.1")
	filter := f.bytes()
	q := termQuery(nil).bodyTerms(bodyNeedles{{"u-054321"}})
	require.False(t, q.mayMatch(filter))
	require.True(t, termQuery(nil).bodyTerms(bodyNeedles{{"u-054329"}}).mayMatch(filter))
	require.True(t, termQuery(nil).bodyTerms(bodyNeedles{{"u-05432"}}).mayMatch(filter), "too short to prune")
}

// TestTermFilterAnyKeys: keys with values the filter does not spell out are an exact
// list, so they pass every filter on that key and no other.
func TestTermFilterAnyKeys(t *testing.T) {
	m := pcommon.NewMap()
	m.PutDouble("ratio", 0.5)
	f := newTermFilter()
	f.addAttrs(m)
	filter := f.bytes()
	bloom, keys, all := splitTermFilter(filter)
	require.False(t, all)
	require.Len(t, keys, 8)
	require.Equal(t, len(bloom)&(len(bloom)-1), 0, "the Bloom filter is a power of two")
	has := func(key, value string) bool { return termQuery(nil).attrTerm(key, value).mayMatch(filter) }
	require.True(t, has("ratio", "0.5"))
	require.False(t, has("user.id", "u-1"))

	for i := range termMaxAnyKeys + 1 {
		m.PutDouble(fmt.Sprint("k", i), 1)
	}
	f = newTermFilter()
	f.addAttrs(m)
	filter = f.bytes()
	_, _, all = splitTermFilter(filter)
	require.True(t, all, "too many keys to list")
	require.True(t, termQuery(nil).attrTerm("user.id", "u-1").mayMatch(filter))
	require.True(t, termQuery(nil).attrTerm("user.id", "u-1").mayMatch([]byte{1, 2, 3}), "not a layout this code wrote")
}

func TestMergeRanges(t *testing.T) {
	r := []rowRange{{0, 9}, {20, 29}, {100, 109}, {115, 119}, {500, -1}}
	require.Equal(t, r, mergeRanges(r, 5))
	require.Equal(t, []rowRange{{0, 9}, {20, 29}, {100, 119}, {500, -1}}, mergeRanges(r, 4))
	require.Equal(t, []rowRange{{0, 29}, {100, 119}, {500, -1}}, mergeRanges(r, 3))
	require.Equal(t, []rowRange{{0, -1}}, mergeRanges(r, 1))
}

// FuzzTermFilterLayout: any stored bytes are read as a filter (or as "anything may
// match") without a panic, and a filter this code wrote keeps its terms.
func FuzzTermFilterLayout(f *testing.F) {
	tf := newTermFilter()
	tf.addBody("user u-054321 logged in")
	f.Add(tf.bytes())
	f.Add([]byte{})
	f.Add([]byte{termAnyKeysAll})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		q := termQuery(nil).bodyTerms(bodyNeedles{{"u-054321"}}).attrTerm("user.id", "u-1")
		q.mayMatch(b)
		splitTermFilter(b)
	})
}
