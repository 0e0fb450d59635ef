package duck

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
)

// A log record's resource and scope repeat on every record of a batch, and across
// batches. Log partitions store only res_id, a 64-bit FNV-1a hash of the resource JSON,
// scope name and scope version; the log_resources table maps it back. That takes three
// strings per record out of the appender and the WAL. A hash collision between two
// distinct resources (about n²/2⁶⁵ for n distinct resources) would show one resource for
// the other; that risk is accepted.

const logResourcesDDL = `
CREATE TABLE IF NOT EXISTS log_resources (
	id BIGINT PRIMARY KEY,
	resource VARCHAR NOT NULL,
	scope_name VARCHAR NOT NULL,
	scope_version VARCHAR NOT NULL
)`

// logResourceJoin joins a logs source aliased l with its resource and scope.
const logResourceJoin = " LEFT JOIN log_resources r ON r.id = l.res_id"

// logResource is one row of log_resources.
type logResource struct {
	resource, scopeName, scopeVersion string
}

func logResourceID(r logResource) int64 {
	h := fnv.New64a()
	h.Write([]byte(r.resource))
	h.Write([]byte{0})
	h.Write([]byte(r.scopeName))
	h.Write([]byte{0})
	h.Write([]byte(r.scopeVersion))
	return int64(h.Sum64())
}

// insertLogResources adds resources in the batch's transaction.
func insertLogResources(ctx context.Context, conn *sql.Conn, res map[int64]logResource) error {
	args := make([]any, 0, 4*len(res))
	for id, r := range res {
		args = append(args, id, r.resource, r.scopeName, r.scopeVersion)
	}
	if err := insertIgnoringDuplicates(ctx, conn, "log_resources (id, resource, scope_name, scope_version)", 4, args); err != nil {
		return fmt.Errorf("update log resources: %w", err)
	}
	return nil
}
