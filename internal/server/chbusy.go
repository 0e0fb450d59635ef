package server

import (
	"context"
	"fmt"

	"github.com/loupe-dev/loupe/internal/errtrack"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// gatedErrors runs each WriteEvents of the ClickHouse errors store in the insert limits
// (storage.clickhouse.insert_*) as a whole: the store reads the events and issue states
// it dedupes against before it inserts, and on a slow ClickHouse those reads would make a
// Sentry request wait as long as they take. Reads for the API are not limited.
type gatedErrors struct {
	errtrack.Store
	gate *chsql.Gate
}

func (g gatedErrors) WriteEvents(ctx context.Context, events []errtrack.Event) error {
	return g.gate.Run(ctx, fmt.Sprintf("write of %d error events", len(events)), func(ctx context.Context) error {
		return g.Store.WriteEvents(ctx, events)
	})
}
