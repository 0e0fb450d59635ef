// Package chlogs stores log records in ClickHouse: the logs of the ClickHouse backend,
// implementing the same store interfaces as the embedded backend (store.LogWriter,
// store.LogReader, store.Retainer, store.Sizer) and passing storetest.RunLogs on chDB.
package chlogs

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chattrs"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// Options configure the store.
type Options struct {
	// Retention, when > 0, sets the table's TTL: ClickHouse drops a day's parts once all
	// their records are older. DropBefore drops partitions on demand either way.
	Retention time.Duration
}

// Store is the log store. Safe for concurrent use.
type Store struct {
	conn   chsql.Conn
	schema chsql.Schema
	logger *slog.Logger
}

// New migrates the log schema of schema's database and returns the store. The store does
// not own conn: Close leaves it open.
func New(ctx context.Context, conn chsql.Conn, schema chsql.Schema, opts Options, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := chsql.Migrate(ctx, conn, schema, component, migrations, logger); err != nil {
		return nil, fmt.Errorf("chlogs: %w", err)
	}
	s := &Store{conn: conn, schema: schema, logger: logger}
	if err := s.setTTL(ctx, opts.Retention); err != nil {
		return nil, fmt.Errorf("chlogs: %w", err)
	}
	return s, nil
}

// Close releases nothing: the connection belongs to the caller.
func (s *Store) Close() error { return nil }

// insertCols are the columns WriteLogs fills, in the order of logRow.
var insertCols = []string{
	"service", "ts", "seq", "observed_ts", "severity_number", "severity_text", "body",
	"trace_id", "span_id", "flags", "attr_keys", "attr_values", "attr_types",
	"res_keys", "res_values", "resource_types", "scope_name", "scope_version",
}

// seqIndexMask keeps the low bits of seq for the record's index in its batch.
const seqIndexMask = 1<<20 - 1

// maxTimestamp is the last instant DateTime64(9) holds (2262-04-11).
const maxTimestamp = math.MaxInt64

// WriteLogs inserts ld as one INSERT. See store.LogWriter.
//
// The INSERT is one block and becomes visible at once on a single server. ClickHouse
// writes one part per partition (day) the block touches; a failure between them could
// leave some days written, which a client retry then duplicates (at-least-once, as any
// ClickHouse ingest without deduplication tokens).
func (s *Store) WriteLogs(ctx context.Context, ld plog.Logs) error {
	n := ld.LogRecordCount()
	if n == 0 {
		return nil
	}
	now := time.Now()
	rows := make([][]any, 0, n)
	// seq: a random base per batch (per 2^20 records) plus the record's index, so that the
	// records of a batch are told apart for certain, those of different batches with odds
	// of 2^-44, and the column compresses (one random number per batch, not per record:
	// 8 B/record with a random seq per record, the third largest column).
	var base uint64
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource().Attributes()
		service := ""
		if v, ok := res.Get("service.name"); ok {
			service = v.AsString()
		}
		resKeys, resVals, resTypes := chattrs.Split(res)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			scopeName, scopeVersion := sl.Scope().Name(), sl.Scope().Version()
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				sev := lr.SeverityNumber()
				if sev < 0 || sev > math.MaxUint8 {
					return fmt.Errorf("write logs: record %d of scope %q: severity number %d out of range", k, scopeName, sev)
				}
				ts, observed := uint64(lr.Timestamp()), uint64(lr.ObservedTimestamp())
				if ts == 0 {
					ts = observed
				}
				if ts == 0 {
					ts = uint64(now.UnixNano())
				}
				if observed == 0 {
					observed = ts
				}
				if ts > maxTimestamp || observed > maxTimestamp {
					return fmt.Errorf("write logs: record %d of scope %q: timestamp %d after 2262", k, scopeName, ts)
				}
				idx := uint64(len(rows)) & seqIndexMask
				if idx == 0 {
					base = rand.Uint64() &^ seqIndexMask
				}
				keys, vals, types := chattrs.Split(lr.Attributes())
				tid, sid := lr.TraceID(), lr.SpanID()
				rows = append(rows, []any{
					service, time.Unix(0, int64(ts)), base | idx, time.Unix(0, int64(observed)),
					uint8(sev), lr.SeverityText(), bodyText(lr.Body()),
					string(tid[:]), string(sid[:]), uint32(lr.Flags()),
					keys, vals, types, resKeys, resVals, resTypes, scopeName, scopeVersion,
				})
			}
		}
	}
	if err := s.conn.Insert(ctx, s.schema.Database+"."+table, insertCols, rows); err != nil {
		return fmt.Errorf("write logs: %w", err)
	}
	return nil
}

var (
	_ store.LogWriter = (*Store)(nil)
	_ store.LogReader = (*Store)(nil)
	_ store.Retainer  = (*Store)(nil)
	_ store.Sizer     = (*Store)(nil)
)
