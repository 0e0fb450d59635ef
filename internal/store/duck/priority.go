package duck

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/loupe-dev/loupe/internal/store"
)

// Queries and ingest share the machine's cores, and on a small machine a few heavy
// queries took most of the CPU from the log writer (ingest fell to a tenth of its rate).
// Go has no goroutine priorities, but Linux schedules threads by their nice value, and
// DuckDB does its work on the thread that calls it and on its own worker threads. So:
//
//   - reads whose context is store.LowPriority run their DuckDB call on a fresh OS thread
//     with a higher nice value (the goroutine locks it and ends without unlocking, which
//     ends the thread, so no thread with a lowered priority returns to Go's pool; raising
//     the priority back would need CAP_SYS_NICE);
//   - DuckDB's worker threads, which run the parallel part of every query, are created
//     from such a thread when the database opens and inherit its nice value.
//
// Writes run at normal priority on the calling thread; when a worker thread helps with a
// write it does so at the lower priority, which costs ingest little: the writer's own
// thread takes part in executing its tasks.

// priorityConnector opens connections whose low-priority reads run on niced threads.
type priorityConnector struct {
	*duckdb.Connector
	nice int
}

func (c priorityConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return priorityConn{Conn: conn.(*duckdb.Conn), nice: c.nice}, nil
}

// priorityConn is a *duckdb.Conn whose QueryContext honours store.LowPriority.
type priorityConn struct {
	*duckdb.Conn
	nice int
}

func (c priorityConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := checkText(args); err != nil {
		return nil, err
	}
	rows, err := c.query(ctx, query, args)
	if err != nil && statsRace(err) {
		rows, err = c.query(ctx, query, args)
	}
	return rows, err
}

func (c priorityConn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.nice == 0 || !store.IsLowPriority(ctx) {
		return c.Conn.QueryContext(ctx, query, args)
	}
	var (
		rows     driver.Rows
		queryErr error
	)
	if err := onNicedThread(c.nice, func() {
		rows, queryErr = c.Conn.QueryContext(ctx, query, args)
	}); err != nil {
		return nil, err
	}
	return rows, queryErr
}

// statsRace reports DuckDB's refusal of a GROUP BY whose perfect hash table, sized from
// the column's statistics, met a value outside them: seen once (CI, 2026-12-07) on the
// LogQL stream list's GROUP BY res_id over the newest rows while ingest appended new
// resources, "Perfect hash aggregate: aggregate group 10 exceeded total groups 4". The
// statistics of rows being appended lag their data for a moment; the same read run again
// sees both, so it is retried once rather than failing the query.
func statsRace(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Perfect hash aggregate") && strings.Contains(msg, "exceeded total groups")
}

// checkText refuses a text parameter that is not valid UTF-8, which DuckDB will not bind
// ("could not bind parameter"): every read binds the clients' filter values through here,
// and the error says it is their input, not a store failure.
func checkText(args []driver.NamedValue) error {
	for _, a := range args {
		if s, ok := a.Value.(string); ok && !utf8.ValidString(s) {
			return fmt.Errorf("%w: a filter value is not valid UTF-8: %q", store.ErrBadInput, s)
		}
	}
	return nil
}

// unwrapConn returns the *duckdb.Conn under a connection of this package's connector.
func unwrapConn(dc driver.Conn) driver.Conn {
	if pc, ok := dc.(priorityConn); ok {
		return pc.Conn
	}
	return dc
}
