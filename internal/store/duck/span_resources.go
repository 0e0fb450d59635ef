package duck

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
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
