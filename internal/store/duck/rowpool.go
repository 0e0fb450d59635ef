package duck

import "sync"

// rowPool keeps row slices (all zero) between batches: logRows and spanRows need one or
// two per batch (~50-64 B per item), which were otherwise allocated and zeroed for every
// batch (~6% of the bytes allocated on log ingest).
type rowPool[T any] struct {
	pool sync.Pool // of *[]T
	max  int       // slices with more room are not kept, so a rare huge batch is not kept alive
}

// maxPooledRows bounds the slices the row pools keep (3-4 MiB each).
const maxPooledRows = 1 << 16

var (
	logRowPool  = &rowPool[logRow]{max: maxPooledRows}
	spanRowPool = &rowPool[spanRow]{max: maxPooledRows}
)

// get returns an empty slice with room for n rows.
func (p *rowPool[T]) get(n int) []T {
	if s, ok := p.pool.Get().(*[]T); ok && cap(*s) >= n {
		return (*s)[:0]
	}
	return make([]T, 0, n)
}

// put gives rows back, cleared so that the pool keeps nothing they point to alive.
// Nothing may use rows afterwards.
func (p *rowPool[T]) put(rows []T) {
	if cap(rows) > p.max {
		return
	}
	clear(rows)
	rows = rows[:0]
	p.pool.Put(&rows)
}
