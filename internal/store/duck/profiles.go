package duck

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
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
//   - profile_samples_D: one row per distinct (stack, span) of a profile. The profile's
//     time, series and type repeat on each of its rows, which DuckDB run-length encodes
//     (a few bytes per profile), so samples need no join to be filtered. value is stored
//     divided by scale, the greatest common divisor of the profile's values, also repeated
//     per row: a Go CPU profile's values are multiples of its period (10 ms in ns), so the
//     stored values are small counts that bitpack in a few bits instead of ~30.
//   - profile_stacks_D: each distinct stack once per day, its frames a blob of uvarint
//     function ids (leaf first). The id is dense (1, 2, ... per day), not the 64-bit hash
//     of its content (hash, used to find it again): samples sorted by dense stack id
//     delta-bitpack in ~1-2 bytes where random 64-bit hashes would take 8.
//   - profile_functions_D: each distinct (function, file) once per day, dense ids too.
//   - profile_series_D: each series' labels once per day (JSON), id = hash of the JSON.
//   - profile_meta_D: one row per profile (series, type, time, duration, period), what
//     type and label listings read instead of the samples.
//
// profile_types maps profile type IDs to small integers; it is a handful of rows and is
// never pruned. A profile is mostly the stacks of the previous one, so after the first
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

// The other tables of a day, created with the samples partition (ensureProfileDay).
var profileDayTables = []struct {
	prefix  string
	columns string
	types   []mapping.Type
}{
	{"profile_stacks", "id INTEGER NOT NULL, hash BIGINT NOT NULL, frames BLOB NOT NULL",
		[]mapping.Type{mapping.TypeInteger, mapping.TypeBigInt, mapping.TypeBlob}},
	{"profile_functions", "id INTEGER NOT NULL, hash BIGINT NOT NULL, name VARCHAR NOT NULL, file VARCHAR NOT NULL",
		[]mapping.Type{mapping.TypeInteger, mapping.TypeBigInt, mapping.TypeVarchar, mapping.TypeVarchar}},
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
	types   map[string]int32 // profile type ID -> type_id, committed rows only
	typeIDs map[int32]string
}

// profileDay is what the write path knows is committed in one day's tables.
type profileDay struct {
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
	types, ids := map[string]int32{}, map[int32]string{}
	for rows.Next() {
		var id int32
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("read profile types: %w", err)
		}
		types[name], ids[id] = id, name
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read profile types: %w", err)
	}
	p.typesMu.Lock()
	p.types, p.typeIDs = types, ids
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
// Pyroscope clients push one pprof per request, a few profiles, and a transaction costs
// DuckDB about 2 ms of CPU whatever its size (BEGIN, an appender per table, COMMIT). So
// writes that arrive while another is being written are written together, in one
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
		h.Reset()
		for _, f := range smp.Stack {
			_, _ = h.WriteString(f.Function)
			_, _ = h.Write([]byte{0})
			_, _ = h.WriteString(f.File)
			_, _ = h.Write([]byte{0})
		}
		k.hash = h.Sum64()
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

func functionHash(f store.Frame) uint64 {
	var h xxhash.Digest
	h.Reset()
	_, _ = h.WriteString(f.Function)
	_, _ = h.Write([]byte{0})
	_, _ = h.WriteString(f.File)
	return h.Sum64()
}

// newRows are the catalog rows of one day a batch adds.
type newRows struct {
	stacks []stackRow
	funcs  []funcRow
	series map[int64]string
}

type stackRow struct {
	id     int32
	hash   uint64
	frames []byte
}

type funcRow struct {
	id   int32
	hash uint64
	f    store.Frame
}

// write appends prepared profiles in one transaction and returns the sample rows written.
// Called with samples.writeMu held.
func (p *profileTables) write(ctx context.Context, prepared []preparedProfile) (int64, error) {
	t := p.samples
	if t.guard != nil {
		if err := t.guard.check(); err != nil {
			return 0, err
		}
	}
	conn, err := t.writer(ctx)
	if err != nil {
		return 0, err
	}
	byDay := map[int64][]int{}
	var days []int64
	for i := range prepared {
		d := prepared[i].day
		if _, ok := byDay[d]; !ok {
			days = append(days, d)
		}
		byDay[d] = append(byDay[d], i)
	}
	for _, d := range days {
		if err := p.ensureDay(ctx, conn, d); err != nil {
			return 0, err
		}
	}
	// From here the day states may hold rows of this batch: forget them unless it commits.
	committed := false
	defer func() {
		if !committed {
			for _, d := range days {
				delete(p.days, d)
			}
		}
	}()
	// Types new to the store, inserted in the transaction.
	p.typesMu.RLock()
	newTypes := map[string]int32{}
	var next int32
	for id := range p.typeIDs {
		next = max(next, id)
	}
	next++
	for _, i := range prepared {
		if _, ok := p.types[i.typeName]; !ok {
			if _, ok := newTypes[i.typeName]; !ok {
				newTypes[i.typeName] = next
				next++
			}
		}
	}
	typeOf := func(name string) int32 {
		if id, ok := newTypes[name]; ok {
			return id
		}
		return p.types[name]
	}
	p.typesMu.RUnlock()

	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		t.resetWriter()
		return 0, fmt.Errorf("begin: %w", err)
	}
	rollback := func() {
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.resetWriter()
		}
	}
	for name, id := range newTypes {
		if _, err := conn.ExecContext(ctx, "INSERT INTO profile_types (id, name) VALUES (?, ?)", id, name); err != nil {
			rollback()
			return 0, fmt.Errorf("add profile type %s: %w", name, err)
		}
	}
	var total int64
	for _, d := range days {
		n, err := p.writeDay(conn, d, prepared, byDay[d], typeOf)
		if err != nil {
			rollback()
			return 0, err
		}
		total += n
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		// A COMMIT that failed may still have committed: the deferred function forgets the
		// days, which are read back, and the types are read back now.
		t.resetWriter()
		if len(newTypes) > 0 {
			if err := p.loadTypes(context.WithoutCancel(ctx), t.db); err != nil {
				return 0, fmt.Errorf("commit: %w", err)
			}
		}
		return 0, fmt.Errorf("commit: %w", err)
	}
	committed = true
	if len(newTypes) > 0 {
		p.typesMu.Lock()
		for name, id := range newTypes {
			p.types[name], p.typeIDs[id] = id, name
		}
		p.typesMu.Unlock()
	}
	return total, nil
}

// writeDay resolves the stacks of one day's profiles to ids and appends every row.
// Called in the transaction, with writeMu held.
func (p *profileTables) writeDay(conn *sql.Conn, day int64, prepared []preparedProfile, idx []int, typeOf func(string) int32) (int64, error) {
	st := p.days[day]
	add := newRows{series: map[int64]string{}}
	var buf []byte
	for _, i := range idx {
		pp := &prepared[i]
		if !st.series[pp.seriesID] {
			st.series[pp.seriesID] = true
			add.series[pp.seriesID] = pp.labels
		}
		for j := range pp.samples {
			smp := &pp.samples[j]
			id, ok := st.stacks[smp.hash]
			if !ok {
				buf = buf[:0]
				for _, f := range smp.frames {
					fh := functionHash(f)
					fid, ok := st.funcs[fh]
					if !ok {
						st.nextFunc++
						fid = st.nextFunc
						st.funcs[fh] = fid
						add.funcs = append(add.funcs, funcRow{id: fid, hash: fh, f: f})
					}
					buf = binary.AppendUvarint(buf, uint64(fid))
				}
				st.nextStack++
				id = st.nextStack
				st.stacks[smp.hash] = id
				add.stacks = append(add.stacks, stackRow{id: id, hash: smp.hash, frames: append([]byte(nil), buf...)})
			}
			smp.stackID = id
		}
		sortSamplesByStack(pp.samples)
	}
	var total int64
	err := conn.Raw(func(dc any) error {
		drv, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T", dc)
		}
		app := func(table string, types []mapping.Type, fill func(a *chunkAppender) error) error {
			a, err := newChunkAppender(drv, table, types, p.samples.blocks)
			if err != nil {
				return err
			}
			err = fill(a)
			if table == dayName(profileSamplesSchema.prefix, day) {
				total = a.total
			}
			if cerr := a.Close(); err == nil {
				err = cerr
			}
			p.samples.blocks = a.Blocks()
			if err != nil {
				return fmt.Errorf("append to %s: %w", table, err)
			}
			return nil
		}
		tbl := func(k int) (string, []mapping.Type) {
			return dayName(profileDayTables[k].prefix, day), profileDayTables[k].types
		}
		if len(add.funcs) > 0 {
			name, types := tbl(ptFunctions)
			if err := app(name, types, func(a *chunkAppender) error {
				for _, r := range add.funcs {
					a.Int32(0, r.id)
					a.Int64(1, int64(r.hash))
					// DuckDB takes only valid UTF-8; the hash is of the names as given.
					a.String(2, strings.ToValidUTF8(r.f.Function, "\uFFFD"))
					a.String(3, strings.ToValidUTF8(r.f.File, "\uFFFD"))
					if err := a.EndRow(); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
		if len(add.stacks) > 0 {
			name, types := tbl(ptStacks)
			if err := app(name, types, func(a *chunkAppender) error {
				for _, r := range add.stacks {
					a.Int32(0, r.id)
					a.Int64(1, int64(r.hash))
					a.Bytes(2, r.frames)
					if err := a.EndRow(); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
		if len(add.series) > 0 {
			name, types := tbl(ptSeries)
			if err := app(name, types, func(a *chunkAppender) error {
				for id, labels := range add.series {
					a.Int64(0, id)
					a.String(1, labels)
					if err := a.EndRow(); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
		name, types := tbl(ptMeta)
		if err := app(name, types, func(a *chunkAppender) error {
			for _, i := range idx {
				pp := &prepared[i]
				a.Int64(0, pp.seriesID)
				a.Int32(1, typeOf(pp.typeName))
				a.Int64(2, pp.ts)
				a.Int64(3, pp.dur)
				a.Int64(4, pp.period)
				if err := a.EndRow(); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		return app(dayName(profileSamplesSchema.prefix, day), p.samples.types, func(a *chunkAppender) error {
			for _, i := range idx {
				pp := &prepared[i]
				typ := typeOf(pp.typeName)
				for _, smp := range pp.samples {
					a.Int64(0, pp.ts)
					a.Int64(1, pp.seriesID)
					a.Int32(2, typ)
					a.Int32(3, smp.stackID)
					a.Int64(4, smp.value/pp.scale)
					a.Int64(5, pp.scale)
					a.NullableInt64(6, smp.spanID, smp.hasSpan)
					a.NullableString(7, smp.spanName, smp.hasSpan && smp.spanName != "")
					if err := a.EndRow(); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
	return total, err
}

// ensureDay creates the tables of day if needed and loads the write state of the day.
// Called with writeMu held, outside the batch transaction (as signalTables.ensure).
func (p *profileTables) ensureDay(ctx context.Context, conn *sql.Conn, day int64) error {
	if !p.samples.hasDay(day) {
		for _, t := range profileDayTables {
			name := dayName(t.prefix, day)
			if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+name+" ("+t.columns+")"); err != nil {
				return fmt.Errorf("create partition %s: %w", name, err)
			}
		}
		// The samples partition last: its presence says the day's tables all exist.
		if err := p.samples.ensure(ctx, conn, day); err != nil {
			return err
		}
	}
	if _, ok := p.days[day]; ok {
		return nil
	}
	st, err := loadProfileDay(ctx, conn, day)
	if err != nil {
		return err
	}
	if len(p.days) >= maxProfileDays {
		oldest := day
		for d := range p.days {
			oldest = min(oldest, d)
		}
		delete(p.days, oldest)
	}
	p.days[day] = st
	return nil
}

// loadProfileDay reads what a day's tables hold that the write path looks up.
func loadProfileDay(ctx context.Context, conn *sql.Conn, day int64) (*profileDay, error) {
	st := &profileDay{funcs: map[uint64]int32{}, stacks: map[uint64]int32{}, series: map[int64]bool{}}
	load := func(table string, scan func(id int64, hash int64)) error {
		cols := "id, hash"
		if table == profileDayTables[ptSeries].prefix {
			cols = "id, 0"
		}
		name := dayName(table, day)
		rows, err := conn.QueryContext(ctx, "SELECT "+cols+" FROM "+name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, hash int64
			if err := rows.Scan(&id, &hash); err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
			scan(id, hash)
		}
		return rows.Err()
	}
	if err := load(profileDayTables[ptFunctions].prefix, func(id, hash int64) {
		st.funcs[uint64(hash)] = int32(id)
		st.nextFunc = max(st.nextFunc, int32(id))
	}); err != nil {
		return nil, err
	}
	if err := load(profileDayTables[ptStacks].prefix, func(id, hash int64) {
		st.stacks[uint64(hash)] = int32(id)
		st.nextStack = max(st.nextStack, int32(id))
	}); err != nil {
		return nil, err
	}
	if err := load(profileDayTables[ptSeries].prefix, func(id, _ int64) { st.series[id] = true }); err != nil {
		return nil, err
	}
	return st, nil
}

// dropBefore drops the profile tables of the days that end at or before cutoffNs.
func (p *profileTables) dropBefore(ctx context.Context, cutoffNs int64) ([]string, error) {
	return p.samples.dropBefore(ctx, cutoffNs, func(conn *sql.Conn, cutoffDay int64) error {
		for d := range p.days {
			if d < cutoffDay {
				delete(p.days, d)
			}
		}
		for _, t := range profileDayTables {
			rows, err := conn.QueryContext(ctx,
				`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND starts_with(table_name, ?)`, t.prefix+"_")
			if err != nil {
				return fmt.Errorf("list %s tables: %w", t.prefix, err)
			}
			var old []string
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					rows.Close()
					return err
				}
				if d, ok := tableDay(name, t.prefix); ok && d < cutoffDay {
					old = append(old, name)
				}
			}
			rows.Close()
			for _, name := range old {
				if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
					return fmt.Errorf("drop %s: %w", name, err)
				}
			}
		}
		return nil
	})
}

// sortSamplesByStack orders a profile's samples by stack id, so that the stored ids
// delta-encode in a few bits.
func sortSamplesByStack(samples []preparedSample) {
	slices.SortFunc(samples, func(a, b preparedSample) int {
		if c := cmp.Compare(a.stackID, b.stackID); c != 0 {
			return c
		}
		return cmp.Compare(a.spanID, b.spanID)
	})
}

// tableDay returns the day of a day table named prefix_YYYYMMDD.
func tableDay(name, prefix string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, prefix+"_")
	if !ok {
		return 0, false
	}
	d, err := time.Parse("20060102", rest)
	if err != nil {
		return 0, false
	}
	return d.Unix() / 86400, true
}
