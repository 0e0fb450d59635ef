// Package chprofiles stores continuous profiles in ClickHouse: the profile store of the
// ClickHouse backend, implementing store.ProfileWriter, store.ProfileReader,
// store.Retainer and store.Sizer as the embedded backend (internal/store/duck) does, and
// passing storetest.RunProfiles on chDB. The schema is explained in schema.go.
package chprofiles

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// Options configure the store.
type Options struct {
	// Tenant is written in every row and filters every query; "" until tenants exist.
	Tenant string
	// Retention, when > 0, sets the tables' TTL by profile time: ClickHouse drops a day's
	// parts once all their rows are older. DropBefore drops days either way.
	Retention time.Duration
	// MaxKnown bounds the cache of stack and function rows already written (one entry per
	// row and day, ~40 bytes each); when full it is cleared and rows are written again,
	// which reads deduplicate. 0 means 1,000,000.
	MaxKnown int
}

// Store is the profile store. Safe for concurrent use.
type Store struct {
	conn   chsql.Conn
	schema chsql.Schema
	opts   Options
	logger *slog.Logger

	mu    sync.Mutex
	known map[knownKey]struct{} // stack and function rows written, by day
}

// knownKey is a stack or function row of one day that this process has written.
type knownKey struct {
	day      int64 // day_ns
	id       uint64
	function bool
}

var (
	_ store.ProfileWriter = (*Store)(nil)
	_ store.ProfileReader = (*Store)(nil)
	_ store.Retainer      = (*Store)(nil)
	_ store.Sizer         = (*Store)(nil)
)

// New migrates the profiles schema of schema's database and returns the store. The store
// does not own conn: Close leaves it open.
func New(ctx context.Context, conn chsql.Conn, schema chsql.Schema, opts Options, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxKnown <= 0 {
		opts.MaxKnown = 1_000_000
	}
	if err := chsql.Migrate(ctx, conn, schema, component, migrations(schema), logger); err != nil {
		return nil, fmt.Errorf("chprofiles: %w", err)
	}
	s := &Store{conn: conn, schema: schema, opts: opts, logger: logger, known: map[knownKey]struct{}{}}
	if err := s.setTTL(ctx, opts.Retention); err != nil {
		return nil, fmt.Errorf("chprofiles: %w", err)
	}
	return s, nil
}

// Close releases nothing: the connection belongs to the caller.
func (s *Store) Close() error { return nil }

// global is "GLOBAL " with a cluster: a subquery over a Distributed table, used in IN or
// JOIN of another Distributed table, runs once on the initiator and is sent to the shards
// (ClickHouse refuses double-distributed subqueries by default).
func (s *Store) global() string {
	if s.schema.Cluster == "" {
		return ""
	}
	return "GLOBAL "
}

const dayNs = int64(24 * time.Hour)

var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Column lists of the inserts, in row order.
var (
	sampleCols   = []string{"tenant", "type", "series_id", "ts", "stack_id", "value", "span_id", "span_name"}
	profileCols  = []string{"tenant", "type", "series_id", "ts", "duration_ns", "period", "labels"}
	stackCols    = []string{"tenant", "day_ns", "stack_id", "frames"}
	functionCols = []string{"tenant", "day_ns", "function_id", "name", "file"}
)

// WriteProfiles stores ps. See store.ProfileWriter.
//
// Every profile is validated before anything is written, so a bad one fails the call
// with nothing stored. The rows then go in four INSERTs: functions and stacks first (only
// those this process has not written for their day), then samples, then profiles. A
// failure between two of them leaves the earlier ones: stacks and functions are harmless
// (content rows, read only through samples), samples without their profile row are
// counted by selections without label matchers. ClickHouse has no transaction over
// several tables; a retry of a failed call may count its samples twice if the samples
// INSERT had succeeded (see docs/scale-out.md).
func (s *Store) WriteProfiles(ctx context.Context, ps []store.Profile) error {
	var b batch
	b.inBatch = map[knownKey]bool{}
	for i := range ps {
		if err := s.add(&b, &ps[i]); err != nil {
			return fmt.Errorf("write profiles: profile %d: %w", i, err)
		}
	}
	if len(b.samples) == 0 {
		return nil
	}
	for _, w := range []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{functionsTable, functionCols, b.functions},
		{stacksTable, stackCols, b.stacks},
		{samplesTable, sampleCols, b.samples},
		{profilesTable, profileCols, b.profiles},
	} {
		if len(w.rows) == 0 {
			continue
		}
		if err := s.conn.Insert(ctx, s.schema.Database+"."+w.table, w.cols, w.rows); err != nil {
			return fmt.Errorf("write profiles: insert into %s: %w", w.table, err)
		}
	}
	s.remember(b.newKeys)
	return nil
}

// batch is the rows of one WriteProfiles call.
type batch struct {
	functions, stacks, samples, profiles [][]any
	newKeys                              []knownKey
	inBatch                              map[knownKey]bool // stacks and functions added to this batch
}

// add validates p and appends its rows to b.
func (s *Store) add(b *batch, p *store.Profile) error {
	id := p.Type.ID()
	if parsed, err := store.ParseProfileType(id); err != nil || parsed != p.Type {
		return fmt.Errorf("type %q: name, sample type and sample unit must be set, and no field may contain ':'", id)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("type %q: not valid UTF-8", id)
	}
	if p.Labels["service_name"] == "" {
		return fmt.Errorf("no service_name label (labels %v)", p.Labels)
	}
	lbls := make(map[string]string, len(p.Labels))
	for k, v := range p.Labels {
		if !validLabelName(k) {
			return fmt.Errorf("label name %q: want [a-zA-Z_][a-zA-Z0-9_]*", k)
		}
		if v != "" { // as in Prometheus, an empty value is no label
			lbls[k] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	if p.Time.IsZero() {
		return fmt.Errorf("no time")
	}
	if p.Time.Before(minTime) || !p.Time.Before(maxTime) {
		return fmt.Errorf("time %s: want a time from 1970 to 2261", p.Time)
	}
	if p.Duration < 0 || p.Period < 0 {
		return fmt.Errorf("negative duration %s or period %d", p.Duration, p.Period)
	}
	js, err := json.Marshal(lbls) // keys sorted: one text, one id per series
	if err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	seriesID := xxhash.Sum64(js)
	ts := p.Time.UnixNano()
	day := ts - ts%dayNs

	type key struct {
		stack    uint64
		span     uint64
		spanName string
	}
	index := map[key]int{}
	var rows [][]any
	var ids []uint64
	for i := range p.Samples {
		smp := &p.Samples[i]
		if smp.Value == 0 {
			continue // adds nothing to any sum
		}
		if len(smp.Stack) == 0 {
			return fmt.Errorf("sample %d: empty stack", i)
		}
		var k key
		if smp.SpanID != "" {
			if k.span, err = parseSpanID(smp.SpanID); err != nil {
				return fmt.Errorf("sample %d: %w", i, err)
			}
			k.spanName = strings.ToValidUTF8(smp.SpanName, "\uFFFD")
		}
		ids = ids[:0]
		for _, f := range smp.Stack {
			ids = append(ids, s.function(b, day, f))
		}
		k.stack = s.stack(b, day, ids)
		if j, ok := index[k]; ok {
			rows[j][5] = rows[j][5].(int64) + smp.Value
			continue
		}
		index[k] = len(rows)
		rows = append(rows, []any{s.opts.Tenant, id, seriesID, ts, k.stack, smp.Value, k.span, k.spanName})
	}
	if len(rows) == 0 {
		return nil
	}
	b.samples = append(b.samples, rows...)
	b.profiles = append(b.profiles, []any{s.opts.Tenant, id, seriesID, ts, int64(p.Duration), p.Period, lbls})
	return nil
}

// function returns the id of f, adding its row to b unless written before on day.
func (s *Store) function(b *batch, day int64, f store.Frame) uint64 {
	name, file := strings.ToValidUTF8(f.Function, "\uFFFD"), strings.ToValidUTF8(f.File, "\uFFFD")
	var h xxhash.Digest
	h.Reset()
	_, _ = h.WriteString(name)
	_, _ = h.Write([]byte{0})
	_, _ = h.WriteString(file)
	id := h.Sum64()
	k := knownKey{day: day, id: id, function: true}
	if s.add1(b, k) {
		b.functions = append(b.functions, []any{s.opts.Tenant, day, id, name, file})
	}
	return id
}

// stack returns the id of the stack of function ids fs (leaf first), adding its row to b
// unless written before on day.
func (s *Store) stack(b *batch, day int64, fs []uint64) uint64 {
	buf := make([]byte, 8*len(fs))
	for i, f := range fs {
		binary.LittleEndian.PutUint64(buf[8*i:], f)
	}
	id := xxhash.Sum64(buf)
	k := knownKey{day: day, id: id}
	if s.add1(b, k) {
		b.stacks = append(b.stacks, []any{s.opts.Tenant, day, id, append([]uint64(nil), fs...)})
	}
	return id
}

// add1 reports whether the row k must be written by b: neither written before nor already
// in b.
func (s *Store) add1(b *batch, k knownKey) bool {
	if b.inBatch[k] {
		return false
	}
	s.mu.Lock()
	_, ok := s.known[k]
	s.mu.Unlock()
	if ok {
		return false
	}
	b.inBatch[k] = true
	b.newKeys = append(b.newKeys, k)
	return true
}

// remember records rows written, clearing the cache when it is full.
func (s *Store) remember(keys []knownKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.known)+len(keys) > s.opts.MaxKnown {
		s.known = map[knownKey]struct{}{}
	}
	for _, k := range keys[:min(len(keys), s.opts.MaxKnown)] {
		s.known[k] = struct{}{}
	}
}

// forgetBefore drops the cache entries of days before day (after DropBefore).
func (s *Store) forgetBefore(day int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.known {
		if k.day < day {
			delete(s.known, k)
		}
	}
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

// parseSpanID parses 16 hex digits. All zeros is not a span id (W3C trace context), and
// is how samples without a span are stored.
func parseSpanID(s string) (uint64, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("span id %q: want 16 hex digits", s)
	}
	u, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("span id %q: want 16 hex digits", s)
	}
	if u == 0 {
		return 0, fmt.Errorf("span id %q: all zeros is not a valid span id", s)
	}
	return u, nil
}

func formatSpanID(id uint64) string {
	s := strconv.FormatUint(id, 16)
	return strings.Repeat("0", 16-len(s)) + s
}
