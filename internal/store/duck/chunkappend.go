package duck

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"
)

// chunkAppender appends rows to one table through DuckDB's C data chunk API, writing each
// value straight into the chunk's vectors from Go.
//
// duckdb-go's Appender.AppendRow makes one cgo call per value and three per string
// (C.CString, assign, free): on log ingest that was ~11% of the server's CPU profile, more
// than appending the chunks themselves. Here a row costs no cgo call at all; DuckDB is
// called once per chunk of 2,048 rows.
//
// Strings of up to 12 bytes are inlined in the vector as DuckDB does; longer ones point
// into Go memory blocks that stay pinned (runtime.Pinner) until the chunk is appended.
// DuckDB copies the strings of an appended chunk into its own storage
// (ColumnDataCollection::Append), so the blocks are reused for the next chunk, and the
// table's writer hands them to its next appender (blocks, Blocks). Unlike C.CString, this
// keeps a NUL byte inside a string.
//
// Not safe for concurrent use; the table's writer lock covers it.
type chunkAppender struct {
	app   mapping.Appender
	chunk mapping.DataChunk
	cols  []chunkCol
	rows  int   // rows in the current chunk
	total int64 // rows ended in all chunks

	blocks [][]byte // string blocks of stringBlock bytes, reused from chunk to chunk
	cur    int      // block being filled, -1 before the first string of a chunk
	used   int      // bytes used in blocks[cur]
	big    [][]byte // strings longer than a block, each in its own allocation
	pinner runtime.Pinner
	closed bool

	// scratch are buffers a row may encode a column into before writing it with Bytes
	// (attribute columns, JSON), reused from row to row.
	scratch [2][]byte
}

// chunkCol is one vector of the current chunk.
type chunkCol struct {
	typ      mapping.Type
	data     unsafe.Pointer
	validity unsafe.Pointer // nil until a NULL is written in this chunk
	vec      mapping.Vector
}

const (
	chunkRows      = 2048     // duckdb_vector_size()
	stringBlock    = 64 << 10 // bytes per block of string data
	inlineMax      = 12       // longest string DuckDB keeps inside the string_t
	stringTSize    = 16
	validityBitsLo = 64
)

// duckString mirrors DuckDB's string_t: a length, then either the string (up to 12 bytes,
// zero padded) or a 4-byte prefix and a pointer.
type duckString struct {
	length uint32
	prefix [4]byte
	ptr    uintptr // a pinned Go address: no write barrier on C memory
}

// connHandle returns the C connection behind a duckdb-go driver connection. duckdb-go
// v2.5.6 to v2.20000.0 keep it in the unexported field conn; the field is checked by
// name and type, so a different driver version fails here with an error instead of
// misbehaving.
func connHandle(dc driver.Conn) (mapping.Connection, error) {
	c, ok := dc.(*duckdb.Conn)
	if !ok {
		return mapping.Connection{}, fmt.Errorf("driver connection is %T, not *duckdb.Conn", dc)
	}
	f := reflect.ValueOf(c).Elem().FieldByName("conn")
	if !f.IsValid() || f.Type() != reflect.TypeFor[mapping.Connection]() {
		return mapping.Connection{}, errors.New("duckdb.Conn has no field conn of type mapping.Connection: the chunk appender was written for duckdb-go v2.5.6-v2.20000.0")
	}
	return *(*mapping.Connection)(unsafe.Pointer(f.UnsafeAddr())), nil
}

// newChunkAppender opens an appender on table. want lists the column types in order; a
// table whose columns differ is refused. blocks are string blocks of an earlier appender
// to reuse (may be nil).
func newChunkAppender(dc driver.Conn, table string, want []mapping.Type, blocks [][]byte) (*chunkAppender, error) {
	conn, err := connHandle(unwrapConn(dc))
	if err != nil {
		return nil, err
	}
	a := &chunkAppender{blocks: blocks, cur: -1}
	if mapping.AppenderCreate(conn, "", table, &a.app) == mapping.StateError {
		err := errors.New(mapping.AppenderError(a.app))
		mapping.AppenderDestroy(&a.app)
		return nil, fmt.Errorf("appender on %s: %w", table, err)
	}
	n := int(mapping.AppenderColumnCount(a.app))
	if n != len(want) {
		mapping.AppenderDestroy(&a.app)
		return nil, fmt.Errorf("appender on %s: table has %d columns, writer has %d", table, n, len(want))
	}
	types := make([]mapping.LogicalType, n)
	defer func() {
		for i := range types {
			mapping.DestroyLogicalType(&types[i])
		}
	}()
	a.cols = make([]chunkCol, n)
	for i := range n {
		types[i] = mapping.AppenderColumnType(a.app, mapping.IdxT(i))
		got := mapping.GetTypeId(types[i])
		if got != want[i] {
			mapping.AppenderDestroy(&a.app)
			return nil, fmt.Errorf("appender on %s: column %d has type %d, writer expects %d", table, i, got, want[i])
		}
		switch got {
		case mapping.TypeBigInt, mapping.TypeTinyInt, mapping.TypeUInteger, mapping.TypeInteger, mapping.TypeVarchar, mapping.TypeBlob:
		default:
			mapping.AppenderDestroy(&a.app)
			return nil, fmt.Errorf("appender on %s: column %d has type %d, which the chunk appender does not write", table, i, got)
		}
		a.cols[i].typ = got
	}
	a.chunk = mapping.CreateDataChunk(types)
	a.bindVectors()
	return a, nil
}

// bindVectors looks up the vectors of a fresh or reset chunk.
func (a *chunkAppender) bindVectors() {
	for i := range a.cols {
		c := &a.cols[i]
		c.vec = mapping.DataChunkGetVector(a.chunk, mapping.IdxT(i))
		c.data = mapping.VectorGetData(c.vec)
		c.validity = nil
	}
}

// The typed setters below write column col of the current row; the caller sets every
// column of its row, in any order, then calls EndRow. The column's type must match the
// setter (checked when the appender opened, against the writer's schema).

func (a *chunkAppender) Int64(col int, v int64) {
	*(*int64)(unsafe.Add(a.cols[col].data, a.rows*8)) = v
}

// NullableInt64 writes v, or NULL when !valid.
func (a *chunkAppender) NullableInt64(col int, v int64, valid bool) {
	if !valid {
		a.Null(col)
		return
	}
	a.Int64(col, v)
}

func (a *chunkAppender) Int8(col int, v int8) {
	*(*int8)(unsafe.Add(a.cols[col].data, a.rows)) = v
}

func (a *chunkAppender) Int32(col int, v int32) {
	*(*int32)(unsafe.Add(a.cols[col].data, a.rows*4)) = v
}

func (a *chunkAppender) Uint32(col int, v uint32) {
	*(*uint32)(unsafe.Add(a.cols[col].data, a.rows*4)) = v
}

func (a *chunkAppender) String(col int, s string) {
	a.setString(&a.cols[col], a.rows, s)
}

// Bytes writes b as a string. The appender copies it: b may be reused after the call.
func (a *chunkAppender) Bytes(col int, b []byte) {
	a.setString(&a.cols[col], a.rows, unsafe.String(unsafe.SliceData(b), len(b)))
}

// NullableString writes s, or NULL when !valid.
func (a *chunkAppender) NullableString(col int, s string, valid bool) {
	if !valid {
		a.Null(col)
		return
	}
	a.String(col, s)
}

func (a *chunkAppender) Null(col int) {
	a.setNull(&a.cols[col], a.rows)
}

// EndRow completes the current row; a full chunk goes to DuckDB.
func (a *chunkAppender) EndRow() error {
	a.rows++
	a.total++
	if a.rows == chunkRows {
		return a.flushChunk()
	}
	return nil
}

func (a *chunkAppender) setNull(c *chunkCol, row int) {
	if c.validity == nil {
		mapping.VectorEnsureValidityWritable(c.vec)
		c.validity = mapping.VectorGetValidity(c.vec)
	}
	word := (*uint64)(unsafe.Add(c.validity, (row/validityBitsLo)*8))
	*word &^= 1 << (uint(row) % validityBitsLo)
}

func (a *chunkAppender) setString(c *chunkCol, row int, s string) {
	dst := (*duckString)(unsafe.Add(c.data, row*stringTSize))
	*dst = duckString{length: uint32(len(s))}
	if len(s) <= inlineMax {
		inline := unsafe.Slice((*byte)(unsafe.Pointer(&dst.prefix)), inlineMax)
		copy(inline, s)
		return
	}
	copy(dst.prefix[:], s)
	dst.ptr = a.store(s)
}

// store copies s into a pinned block and returns where.
func (a *chunkAppender) store(s string) uintptr {
	if len(s) > stringBlock {
		b := []byte(s)
		a.pinner.Pin(&b[0])
		a.big = append(a.big, b)
		return uintptr(unsafe.Pointer(&b[0]))
	}
	if a.cur < 0 || a.used+len(s) > stringBlock {
		a.cur++
		if a.cur == len(a.blocks) {
			a.blocks = append(a.blocks, make([]byte, stringBlock))
		}
		a.pinner.Pin(&a.blocks[a.cur][0])
		a.used = 0
	}
	b := a.blocks[a.cur]
	p := uintptr(unsafe.Pointer(&b[a.used]))
	copy(b[a.used:], s)
	a.used += len(s)
	return p
}

// flushChunk hands the current chunk to DuckDB and starts a new one.
func (a *chunkAppender) flushChunk() error {
	if a.rows == 0 {
		return nil
	}
	mapping.DataChunkSetSize(a.chunk, mapping.IdxT(a.rows))
	state := mapping.AppendDataChunk(a.app, a.chunk)
	// DuckDB has copied the strings: the blocks may be reused.
	a.pinner.Unpin()
	a.cur, a.used, a.big = -1, 0, nil
	mapping.DataChunkReset(a.chunk)
	a.bindVectors()
	a.rows = 0
	if state == mapping.StateError {
		return errors.New(mapping.AppenderError(a.app))
	}
	return nil
}

// Close appends what is left, flushes the appender into the connection's transaction and
// frees it. Safe to call twice.
func (a *chunkAppender) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	err := a.flushChunk()
	if err == nil && mapping.AppenderClose(a.app) == mapping.StateError {
		err = errors.New(mapping.AppenderError(a.app))
	}
	mapping.AppenderDestroy(&a.app)
	mapping.DestroyDataChunk(&a.chunk)
	a.pinner.Unpin()
	a.big = nil
	return err
}

// Discard frees the appender without appending the rows of the current chunk. Rows of
// chunks already handed to DuckDB (every chunkRows rows) stay in the appender's buffer
// and are flushed all the same: DuckDB's C API has no way to drop them, so callers
// without a transaction of their own use Discard only for batches of at most chunkRows
// rows. Safe after Close.
func (a *chunkAppender) Discard() error {
	if !a.closed {
		a.rows = 0
	}
	return a.Close()
}

// maxSpareBlocks bounds the string blocks a table's writer keeps between batches (2 MiB).
const maxSpareBlocks = 32

// Blocks returns the string blocks for the next appender, after Close.
func (a *chunkAppender) Blocks() [][]byte {
	return a.blocks[:min(len(a.blocks), maxSpareBlocks)]
}
