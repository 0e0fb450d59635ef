package duck

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
)

// As log records (log_resources.go), spans refer to their resource and scope by id: six
// strings per span (resource JSON and schema URL, scope name, version, attributes and
// schema URL) are stored once in span_resources. The id is a 64-bit FNV-1a hash of them;
// spans arrive grouped by resource and scope, so res_id run-length encodes without
// sorting. The collision risk is accepted as for logs.

const spanResourcesDDL = `
CREATE TABLE IF NOT EXISTS span_resources (
	id BIGINT PRIMARY KEY,
	resource VARCHAR NOT NULL,
	resource_schema_url VARCHAR NOT NULL,
	scope_name VARCHAR NOT NULL,
	scope_version VARCHAR NOT NULL,
	scope_attributes VARCHAR NOT NULL,
	scope_schema_url VARCHAR NOT NULL
)`

// spanResourceJoin joins a spans source aliased l with its resource and scope.
const spanResourceJoin = " LEFT JOIN span_resources r ON r.id = l.res_id"

// spanResource is one row of span_resources (without the id).
type spanResource [6]string

func spanResourceID(r spanResource) int64 {
	h := fnv.New64a()
	for _, s := range r {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return int64(h.Sum64())
}

// insertSpanResources adds resources in the batch's transaction.
func insertSpanResources(ctx context.Context, conn *sql.Conn, res map[int64]spanResource) error {
	args := make([]any, 0, 7*len(res))
	for id, r := range res {
		args = append(args, id, r[0], r[1], r[2], r[3], r[4], r[5])
	}
	const into = "span_resources (id, resource, resource_schema_url, scope_name, scope_version, scope_attributes, scope_schema_url)"
	if err := insertIgnoringDuplicates(ctx, conn, into, 7, args); err != nil {
		return fmt.Errorf("update span resources: %w", err)
	}
	return nil
}

// spanResourceCache keeps the span_resources rows that trace lookups read, so that a
// lookup whose resources were seen before costs one query instead of two (the second
// was ~0.5 ms of a ~2-8 ms lookup). An id is the hash of its row's content, so an entry
// never goes stale; retention may drop the row, but then no span refers to it. Bounded by
// the bytes of its strings: when full it starts afresh. Safe for concurrent use.
type spanResourceCache struct {
	mu    sync.Mutex
	rows  map[int64]spanResource
	bytes int
}

// maxSpanResourceCacheBytes bounds the cache: a service's resource and scope are a few
// hundred bytes, so this holds a few thousand.
const maxSpanResourceCacheBytes = 1 << 20

// get returns the cached rows of ids and the ids not cached.
func (c *spanResourceCache) get(ids []int64) (map[int64]spanResource, []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	found := make(map[int64]spanResource, len(ids))
	var missing []int64
	for _, id := range ids {
		if r, ok := c.rows[id]; ok {
			found[id] = r
		} else {
			missing = append(missing, id)
		}
	}
	return found, missing
}

// put caches rows read from span_resources.
func (c *spanResourceCache) put(rows map[int64]spanResource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, r := range rows {
		if _, ok := c.rows[id]; ok {
			continue
		}
		size := 0
		for _, s := range r {
			size += len(s)
		}
		if c.rows == nil || c.bytes+size > maxSpanResourceCacheBytes {
			c.rows, c.bytes = map[int64]spanResource{}, 0
		}
		c.rows[id] = r
		c.bytes += size
	}
}

// spanResources returns the span_resources rows of ids, from the cache where it can.
func (c *spanResourceCache) spanResources(ctx context.Context, db *sql.DB, ids []int64) (map[int64]spanResource, error) {
	found, missing := c.get(ids)
	if len(missing) == 0 {
		return found, nil
	}
	// The ids come from the database, not from input, so they are inlined.
	list := make([]string, len(missing))
	for i, id := range missing {
		list[i] = strconv.FormatInt(id, 10)
	}
	rows, err := db.QueryContext(ctx, `SELECT id, resource, resource_schema_url, scope_name, scope_version,
		scope_attributes, scope_schema_url FROM span_resources WHERE id IN (`+strings.Join(list, ",")+`)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	read := map[int64]spanResource{}
	for rows.Next() {
		var id int64
		var r spanResource
		if err := rows.Scan(&id, &r[0], &r[1], &r[2], &r[3], &r[4], &r[5]); err != nil {
			return nil, err
		}
		read[id] = r
		found[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c.put(read)
	return found, nil
}
