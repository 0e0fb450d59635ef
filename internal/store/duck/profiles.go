package duck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"

	"github.com/loupe-dev/loupe/internal/store"
)

// Profiles (store.ProfileWriter, store.ProfileReader) live in five tables per UTC day of
// profile time, so that retention drops whole days as for logs and spans:
//
//   - profile_samples_D: one row per distinct (stack, span) of a profile, or of the
//     profiles of one pprof that have the same samples once divided by their scale (a Go
//     CPU profile's samples/count and cpu/nanoseconds, stored once: profiles_share.go).
//     The profile's time, series and type repeat on each of its rows, which DuckDB run-length encodes
//     (a few bytes per profile), so samples need no join to be filtered. value is stored
//     divided by scale, the greatest common divisor of the profile's values, also repeated
//     per row: a Go CPU profile's values are multiples of its period (10 ms in ns), so the
//     stored values are small counts that bitpack in a few bits instead of ~30.
//   - profile_stacks_D: each distinct stack once per day, its frames a blob of uvarint
//     function ids (leaf first). The id is dense (1, 2, ... per day), not the 64-bit hash
//     of its content that the write path finds it by: samples sorted by dense stack id
//     delta-bitpack in ~1-2 bytes where random 64-bit hashes would take 8.
//   - profile_functions_D: each distinct (function, file) once per day, dense ids too.
//
// The hashes of stacks and functions are not stored (8 incompressible bytes a row, a
// third of a stack's row): loadProfileDay computes them again from the names. Days
// written before that keep a hash column in both tables (profileDay.hashCols), which is
// still read and written.
//   - profile_series_D: each series' labels once per day (JSON), id = hash of the JSON.
//   - profile_meta_D: one row per profile (series, type, time, duration, period), what
//     type and label listings read instead of the samples.
//
// profile_types maps profile type IDs, and the type sets of shared samples, to small
// integers; it is a handful of rows and is never pruned. A profile is mostly the stacks of the previous one, so after the first
// profiles of a day a write appends little more than its samples.
//
// Writes are serialised (profiles.samples.writeMu) and each is one transaction over every
// table. The write path keeps per day the hashes it has committed (profileDay), so that a
// known stack costs one map lookup; a failed batch forgets the days it touched, which are
// read back from the database at the next write.

var profileSamplesSchema = tableSchema{
	prefix: "profile_samples",
	columns: `
		ts BIGINT NOT NULL,
		series_id BIGINT NOT NULL,
		type_id INTEGER NOT NULL,
		stack_id INTEGER NOT NULL,
		value BIGINT NOT NULL,
		scale BIGINT NOT NULL,
		span_id BIGINT,
		span_name VARCHAR`,
}

// The column types of the stacks and functions tables of days with hash columns,
// written before the hashes were left out: (id, hash, frames) and (id, hash, name, file).
var (
	hashStackTypes = []mapping.Type{mapping.TypeInteger, mapping.TypeBigInt, mapping.TypeBlob}
	hashFuncTypes  = []mapping.Type{mapping.TypeInteger, mapping.TypeBigInt, mapping.TypeVarchar, mapping.TypeVarchar}
)

// The other tables of a day, created with the samples partition (ensureProfileDay).
var profileDayTables = []struct {
	prefix  string
	columns string
	types   []mapping.Type
}{
	{"profile_stacks", "id INTEGER NOT NULL, frames BLOB NOT NULL",
		[]mapping.Type{mapping.TypeInteger, mapping.TypeBlob}},
	{"profile_functions", "id INTEGER NOT NULL, name VARCHAR NOT NULL, file VARCHAR NOT NULL",
		[]mapping.Type{mapping.TypeInteger, mapping.TypeVarchar, mapping.TypeVarchar}},
	{"profile_series", "id BIGINT NOT NULL, labels VARCHAR NOT NULL",
		[]mapping.Type{mapping.TypeBigInt, mapping.TypeVarchar}},
	{"profile_meta", "series_id BIGINT NOT NULL, type_id INTEGER NOT NULL, ts BIGINT NOT NULL, duration_ns BIGINT NOT NULL, period BIGINT NOT NULL",
		[]mapping.Type{mapping.TypeBigInt, mapping.TypeInteger, mapping.TypeBigInt, mapping.TypeBigInt, mapping.TypeBigInt}},
}

// profileTablePrefixes lists the prefixes of every table of a day, samples first.
func profileTablePrefixes() []string {
	out := []string{profileSamplesSchema.prefix}
	for _, t := range profileDayTables {
		out = append(out, t.prefix)
	}
	return out
}

// Indexes into profileDayTables.
const (
	ptStacks = iota
	ptFunctions
	ptSeries
	ptMeta
)

const profileTypesDDL = `
CREATE TABLE IF NOT EXISTS profile_types (
	id INTEGER PRIMARY KEY,
	name VARCHAR NOT NULL UNIQUE
)`

// maxProfileDays bounds the days whose write state (profileDay) is kept in memory: today,
// yesterday and a little late data.
const maxProfileDays = 3

// profileTables is the profile part of the Store.
type profileTables struct {
	samples *signalTables // the samples partitions; its writeMu serialises profile writes

	// Under samples.writeMu:
	days map[int64]*profileDay

	// queue holds the writes waiting for the writer lock (group commit, WriteProfiles).
	queueMu sync.Mutex
	queue   []*profileWrite

	typesMu sync.RWMutex
	types   map[string]int32 // profile type ID (or type set name) -> type_id, committed rows only
	typeIDs map[int32]string
	sets    map[int32][]setMember // type sets (profiles_share.go) by id
}

// profileDay is what the write path knows is committed in one day's tables.
type profileDay struct {
	hashCols  bool             // the stacks and functions tables have a hash column
	funcs     map[uint64]int32 // function hash -> id
	stacks    map[uint64]int32 // stack hash -> id
	series    map[int64]bool
	nextFunc  int32
	nextStack int32
}

func initProfiles(ctx context.Context, db *sql.DB) (*profileTables, error) {
	if _, err := db.ExecContext(ctx, profileTypesDDL); err != nil {
		return nil, fmt.Errorf("create profile types table: %w", err)
	}
	samples, err := openSignalTables(ctx, db, profileSamplesSchema)
	if err != nil {
		return nil, err
	}
	p := &profileTables{samples: samples, days: map[int64]*profileDay{}}
	if err := p.loadTypes(ctx, db); err != nil {
		return nil, err
	}
	return p, nil
}

// loadTypes reads profile_types into the cache, replacing it.
func (p *profileTables) loadTypes(ctx context.Context, q sqlRunner) error {
	rows, err := q.QueryContext(ctx, "SELECT id, name FROM profile_types")
	if err != nil {
		return fmt.Errorf("read profile types: %w", err)
	}
	defer rows.Close()
	types, ids, sets := map[string]int32{}, map[int32]string{}, map[int32][]setMember{}
	for rows.Next() {
		var id int32
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("read profile types: %w", err)
		}
		types[name], ids[id] = id, name
		if strings.HasPrefix(name, typeSetPrefix) {
			m, err := parseTypeSet(name)
			if err != nil {
				return fmt.Errorf("read profile types: %w", err)
			}
			sets[id] = m
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read profile types: %w", err)
	}
	p.typesMu.Lock()
	p.types, p.typeIDs, p.sets = types, ids, sets
	p.typesMu.Unlock()
	return nil
}

// typeID returns the id of a profile type ID, and whether it is stored.
func (p *profileTables) typeID(name string) (int32, bool) {
	p.typesMu.RLock()
	defer p.typesMu.RUnlock()
	id, ok := p.types[name]
	return id, ok
}

func (p *profileTables) typeName(id int32) (string, bool) {
	p.typesMu.RLock()
	defer p.typesMu.RUnlock()
	name, ok := p.typeIDs[id]
	return name, ok
}

// preparedProfile is a validated profile with its samples merged and hashed, ready for
// the write transaction.
type preparedProfile struct {
	day      int64
	typeName string
	typeID   int32        // of typeName, set in write under the lock
	rowsType int32        // type_id of the samples rows: typeID, or the set's when shared
	shared   []sharedType // the other types whose profile these samples are (profiles_share.go)
	seriesID int64
	labels   string // JSON, keys sorted
	ts, dur  int64
	period   int64
	samples  []preparedSample
	scale    int64
}

type preparedSample struct {
	hash     uint64 // of the stack's frames
	frames   []store.Frame
	stackID  int32 // set under the write lock
	value    int64
	spanID   int64
	hasSpan  bool
	spanName string
}

// WriteProfiles stores ps in one transaction. See store.ProfileWriter.
//
// Pyroscope clients push one pprof per request, a few profiles, and a transaction has a
// fixed cost in DuckDB whatever its size (BEGIN, an appender per table, COMMIT;
// BenchmarkWriteProfiles' serial and concurrent runs compare one transaction per write
// with groups). So writes that arrive while another is being written are written together, in one
// transaction (group commit): each caller waits for the transaction holding its profiles,
// so it still returns only once they are committed, and still all or none of them. A
// profile is validated before it joins a group, so that it cannot fail its neighbours;
// what fails a group (the database, a full disk) would have failed each of them.
func (s *Store) WriteProfiles(ctx context.Context, ps []store.Profile) (err error) {
	prepared := make([]preparedProfile, 0, len(ps))
	for i := range ps {
		pp, err := prepareProfile(&ps[i])
		if err != nil {
			return fmt.Errorf("write profiles: profile %d: %w", i, err)
		}
		if len(pp.samples) > 0 {
			prepared = append(prepared, pp)
		}
	}
	if len(prepared) == 0 {
		return nil
	}
	prepared = shareSamples(prepared)
	began := time.Now()
	defer func() {
		s.metrics.latency.WithLabelValues(string(store.SignalProfiles)).Observe(time.Since(began).Seconds())
		if err != nil {
			s.metrics.failures.WithLabelValues(string(store.SignalProfiles)).Inc()
		}
	}()
	w := &profileWrite{profiles: prepared, done: make(chan struct{})}
	p := s.profiles
	p.queueMu.Lock()
	p.queue = append(p.queue, w)
	p.queueMu.Unlock()
	p.samples.writeMu.Lock()
	p.queueMu.Lock()
	group := p.queue
	p.queue = nil
	p.queueMu.Unlock()
	if len(group) > 0 { // else an earlier holder of the lock wrote w
		var all []preparedProfile
		for _, g := range group {
			all = append(all, g.profiles...)
		}
		// Not cancelled by this caller's context: the group holds other callers' profiles.
		rows, err := p.write(context.WithoutCancel(ctx), all)
		if err == nil {
			s.metrics.rows.WithLabelValues(string(store.SignalProfiles)).Add(float64(rows))
		}
		for _, g := range group {
			g.err = err
			close(g.done)
		}
	}
	p.samples.writeMu.Unlock()
	<-w.done
	if w.err != nil {
		return fmt.Errorf("write profiles: %w", w.err)
	}
	return nil
}

// profileWrite is one WriteProfiles call waiting for its group's transaction.
type profileWrite struct {
	profiles []preparedProfile
	err      error
	done     chan struct{}
}

// prepareProfile validates p and merges its samples by stack and span, outside the lock.
func prepareProfile(p *store.Profile) (preparedProfile, error) {
	t := p.Type
	id := t.ID()
	if parsed, err := store.ParseProfileType(id); err != nil || parsed != t {
		return preparedProfile{}, fmt.Errorf("type %q: name, sample type and sample unit must be set, and no field may contain ':'", id)
	}
	if !utf8.ValidString(id) {
		return preparedProfile{}, fmt.Errorf("type %q: not valid UTF-8", id)
	}
	if p.Labels["service_name"] == "" {
		return preparedProfile{}, fmt.Errorf("no service_name label (labels %v)", p.Labels)
	}
	labels := make(map[string]string, len(p.Labels))
	for k, v := range p.Labels {
		if !validLabelName(k) {
			return preparedProfile{}, fmt.Errorf("label name %q: want [a-zA-Z_][a-zA-Z0-9_]*", k)
		}
		if v != "" { // as in Prometheus, an empty value is no label
			labels[k] = v
		}
	}
	if p.Time.IsZero() {
		return preparedProfile{}, fmt.Errorf("no time")
	}
	if p.Duration < 0 || p.Period < 0 {
		return preparedProfile{}, fmt.Errorf("negative duration %s or period %d", p.Duration, p.Period)
	}
	js, err := json.Marshal(labels) // map keys sorted: one JSON text per series
	if err != nil {
		return preparedProfile{}, fmt.Errorf("labels: %w", err)
	}
	ts := p.Time.UnixNano()
	pp := preparedProfile{
		day: dayOf(ts), typeName: id, seriesID: int64(xxhash.Sum64(js)), labels: string(js),
		ts: ts, dur: int64(p.Duration), period: p.Period,
	}
	type key struct {
		hash     uint64
		spanID   int64
		hasSpan  bool
		spanName string
	}
	index := make(map[key]int, len(p.Samples))
	var h xxhash.Digest
	for i := range p.Samples {
		smp := &p.Samples[i]
		if smp.Value == 0 {
			continue // adds nothing to any sum
		}
		if len(smp.Stack) == 0 {
			return preparedProfile{}, fmt.Errorf("sample %d: empty stack", i)
		}
		var k key
		if smp.SpanID != "" {
			id, err := parseSpanID(smp.SpanID)
			if err != nil {
				return preparedProfile{}, fmt.Errorf("sample %d: %w", i, err)
			}
			k.spanID, k.hasSpan, k.spanName = id, true, strings.ToValidUTF8(smp.SpanName, "\uFFFD")
		}
		k.hash = stackHash(&h, len(smp.Stack), func(i int) store.Frame { return smp.Stack[i] })
		if j, ok := index[k]; ok {
			pp.samples[j].value += smp.Value
			continue
		}
		index[k] = len(pp.samples)
		pp.samples = append(pp.samples, preparedSample{
			hash: k.hash, frames: smp.Stack, value: smp.Value,
			spanID: k.spanID, hasSpan: k.hasSpan, spanName: k.spanName,
		})
	}
	var g int64
	for _, smp := range pp.samples {
		g = gcd(g, smp.value)
	}
	pp.scale = max(g, 1)
	return pp, nil
}

func gcd(a, b int64) int64 {
	if a < 0 {
		a = -a
	}
	if b < 0 {
		b = -b
	}
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// parseSpanID parses 16 hex digits into the BIGINT stored.
func parseSpanID(s string) (int64, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("span id %q: want 16 hex digits", s)
	}
	u, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("span id %q: want 16 hex digits", s)
	}
	return int64(u), nil
}

func formatSpanID(id int64) string {
	const hexDigits = "0123456789abcdef"
	var b [16]byte
	u := uint64(id)
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[u&15]
		u >>= 4
	}
	return string(b[:])
}

// stackHash hashes the n frames of a stack, frame(0) to frame(n-1). A function's name
// and file as given: the write path and loadProfileDay, which hashes the stored names,
// agree on every valid UTF-8 name; one that is not is stored with U+FFFD in its place, so
// its stacks are added again after a restart, which reads merge by content.
func stackHash(h *xxhash.Digest, n int, frame func(int) store.Frame) uint64 {
	h.Reset()
	for i := range n {
		f := frame(i)
		_, _ = h.WriteString(f.Function)
		_, _ = h.Write([]byte{0})
		_, _ = h.WriteString(f.File)
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

func functionHash(f store.Frame) uint64 {
	var h xxhash.Digest
	h.Reset()
	_, _ = h.WriteString(f.Function)
	_, _ = h.Write([]byte{0})
	_, _ = h.WriteString(f.File)
	return h.Sum64()
}
