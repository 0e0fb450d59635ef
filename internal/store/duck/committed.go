package duck

import "sync"

// committedSet remembers catalog entries (log resources, span names) known to be
// committed, so that a batch inserts only new ones. It is bounded: when full it starts
// afresh, which costs only redundant inserts (they are idempotent).
type committedSet[K comparable, V any] struct {
	mu   sync.Mutex
	seen map[K]struct{}
}

const maxCommittedEntries = 100_000

// missing returns the entries of batch not known to be committed.
func (c *committedSet[K, V]) missing(batch map[K]V) map[K]V {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[K]V)
	for k, v := range batch {
		if _, ok := c.seen[k]; !ok {
			out[k] = v
		}
	}
	return out
}

// reset forgets every entry, for when the catalog lost rows (retention).
func (c *committedSet[K, V]) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = nil
}

// committed records entries after their batch committed (never before: a rolled-back
// insert must be retried by the next batch).
func (c *committedSet[K, V]) committed(entries map[K]V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil || len(c.seen)+len(entries) > maxCommittedEntries {
		c.seen = make(map[K]struct{})
	}
	for k := range entries {
		c.seen[k] = struct{}{}
	}
}
