package duck

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"

	"github.com/loupe-dev/loupe/internal/store"
)

// The write transaction of profiles (profiles.go): ids for new stacks and functions, the
// appends to a day's tables, the day tables' creation and retention.

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
	// Types and type sets new to the store, inserted in the transaction.
	p.typesMu.RLock()
	newTypes := map[string]int32{}
	var next int32
	for id := range p.typeIDs {
		next = max(next, id)
	}
	next++
	typeOf := func(name string) int32 {
		if id, ok := p.types[name]; ok {
			return id
		}
		id, ok := newTypes[name]
		if !ok {
			id = next
			newTypes[name] = id
			next++
		}
		return id
	}
	for i := range prepared {
		pp := &prepared[i]
		pp.typeID = typeOf(pp.typeName)
		pp.rowsType = pp.typeID
		for j := range pp.shared {
			pp.shared[j].typeID = typeOf(pp.shared[j].typeName)
		}
		if len(pp.shared) > 0 {
			pp.rowsType = typeOf(typeSetName(pp.setMembers()))
		}
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
		n, err := p.writeDay(conn, d, prepared, byDay[d])
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
			if strings.HasPrefix(name, typeSetPrefix) {
				// Made by typeSetName: parses.
				if m, err := parseTypeSet(name); err == nil {
					p.sets[id] = m
				}
			}
		}
		p.typesMu.Unlock()
	}
	return total, nil
}

// writeDay resolves the stacks of one day's profiles to ids and appends every row.
// Called in the transaction, with writeMu held.
func (p *profileTables) writeDay(conn *sql.Conn, day int64, prepared []preparedProfile, idx []int) (int64, error) {
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
		// Days with hash columns have them after the id (profiles.go).
		col := 1
		if st.hashCols {
			col = 2
		}
		if len(add.funcs) > 0 {
			name, types := tbl(ptFunctions)
			if st.hashCols {
				types = hashFuncTypes
			}
			if err := app(name, types, func(a *chunkAppender) error {
				for _, r := range add.funcs {
					a.Int32(0, r.id)
					if st.hashCols {
						a.Int64(1, int64(r.hash))
					}
					// DuckDB takes only valid UTF-8; the hash is of the names as given.
					a.String(col, strings.ToValidUTF8(r.f.Function, "\uFFFD"))
					a.String(col+1, strings.ToValidUTF8(r.f.File, "\uFFFD"))
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
			if st.hashCols {
				types = hashStackTypes
			}
			if err := app(name, types, func(a *chunkAppender) error {
				for _, r := range add.stacks {
					a.Int32(0, r.id)
					if st.hashCols {
						a.Int64(1, int64(r.hash))
					}
					a.Bytes(col, r.frames)
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
			row := func(pp *preparedProfile, typ int32, dur, period int64) error {
				a.Int64(0, pp.seriesID)
				a.Int32(1, typ)
				a.Int64(2, pp.ts)
				a.Int64(3, dur)
				a.Int64(4, period)
				return a.EndRow()
			}
			for _, i := range idx {
				pp := &prepared[i]
				if err := row(pp, pp.typeID, pp.dur, pp.period); err != nil {
					return err
				}
				for _, sh := range pp.shared {
					if err := row(pp, sh.typeID, sh.dur, sh.period); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			return err
		}
		return app(dayName(profileSamplesSchema.prefix, day), p.samples.types, func(a *chunkAppender) error {
			for _, i := range idx {
				pp := &prepared[i]
				typ := pp.rowsType
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

// loadProfileDay reads what a day's tables hold that the write path looks up. The
// hashes of functions and stacks are computed from the stored names, except on a day
// with hash columns (profiles.go), where they are read.
func loadProfileDay(ctx context.Context, conn *sql.Conn, day int64) (*profileDay, error) {
	st := &profileDay{funcs: map[uint64]int32{}, stacks: map[uint64]int32{}, series: map[int64]bool{}}
	funcs, stacks := dayName(profileDayTables[ptFunctions].prefix, day), dayName(profileDayTables[ptStacks].prefix, day)
	var hashCols int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_columns()
		WHERE schema_name = 'main' AND table_name = ? AND column_name = 'hash'`, stacks).Scan(&hashCols); err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", stacks, err)
	}
	st.hashCols = hashCols > 0
	each := func(name, query string, scan func(*sql.Rows) error) error {
		if err := queryEach(ctx, conn, query, scan); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		return nil
	}
	if st.hashCols {
		read := func(name string, ids map[uint64]int32, next *int32) error {
			return each(name, "SELECT id, hash FROM "+name, func(rows *sql.Rows) error {
				var id int32
				var hash int64
				if err := rows.Scan(&id, &hash); err != nil {
					return err
				}
				ids[uint64(hash)] = id
				*next = max(*next, id)
				return nil
			})
		}
		if err := read(funcs, st.funcs, &st.nextFunc); err != nil {
			return nil, err
		}
		if err := read(stacks, st.stacks, &st.nextStack); err != nil {
			return nil, err
		}
	} else {
		var byID []store.Frame // function id -> frame
		err := each(funcs, functionsQuery+funcs, scanFunctions(&byID, func(id int32, f store.Frame) {
			st.funcs[functionHash(f)] = id
			st.nextFunc = max(st.nextFunc, id)
		}))
		if err != nil {
			return nil, err
		}
		var h xxhash.Digest
		var ids []int32
		err = each(stacks, "SELECT id, frames FROM "+stacks, func(rows *sql.Rows) error {
			var id int32
			var frames sql.RawBytes
			if err := rows.Scan(&id, &frames); err != nil {
				return err
			}
			var err error
			if ids, err = appendFrames(ids[:0], frames); err != nil {
				return err
			}
			for _, f := range ids {
				if f <= 0 || int(f) >= len(byID) {
					return fmt.Errorf("stack %d refers to function %d, which is not stored", id, f)
				}
			}
			st.stacks[stackHash(&h, len(ids), func(i int) store.Frame { return byID[ids[i]] })] = id
			st.nextStack = max(st.nextStack, id)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	series := dayName(profileDayTables[ptSeries].prefix, day)
	if err := each(series, "SELECT id FROM "+series, func(rows *sql.Rows) error {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		st.series[id] = true
		return nil
	}); err != nil {
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

// functionsQuery reads a day's functions table (its name appended).
const functionsQuery = "SELECT id, name, file FROM "

// scanFunctions returns the row callback of functionsQuery: it files each function in
// *byID by id, refusing ids out of range, and passes it to seen when not nil.
func scanFunctions(byID *[]store.Frame, seen func(int32, store.Frame)) func(*sql.Rows) error {
	return func(rows *sql.Rows) error {
		var id int32
		var f store.Frame
		if err := rows.Scan(&id, &f.Function, &f.File); err != nil {
			return err
		}
		if id <= 0 || id > maxFunctionID {
			return fmt.Errorf("function id %d out of range", id)
		}
		if int(id) >= len(*byID) {
			*byID = slices.Grow(*byID, int(id)+1-len(*byID))[:int(id)+1]
		}
		(*byID)[id] = f
		if seen != nil {
			seen(id, f)
		}
		return nil
	}
}
