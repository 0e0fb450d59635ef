package chspans

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
	"github.com/loupe-dev/loupe/internal/store/clickhouse/chsql"
)

// DropBefore drops the day partitions of spans (and of span_traces and span_names) that
// end at or before cutoff, so spans up to a day older than cutoff may remain. Signals
// other than spans are not this store's and are ignored. See store.Retainer.
//
// The days are read from span_names, which has a row for every day holding spans (its
// materialized view is fed by the same inserts), and each table drops them by partition
// id, which costs the same however many spans a day holds.
func (s *Store) DropBefore(ctx context.Context, signal store.Signal, cutoff time.Time) error {
	if signal != store.SignalSpans {
		return nil
	}
	days, err := s.strings(ctx, `SELECT DISTINCT toString(toYYYYMMDD(day)) FROM `+s.table("span_names")+
		` WHERE day < toDate(`+timeLit(cutoff)+`)`)
	if err != nil {
		return fmt.Errorf("drop spans: %w", err)
	}
	for _, day := range days {
		for _, t := range tables {
			if err := s.conn.Exec(ctx, "ALTER TABLE "+s.localTable(t)+" DROP PARTITION ID "+chsql.String(day)); err != nil {
				return fmt.Errorf("drop spans of %s: %w", day, err)
			}
		}
	}
	return nil
}

// ttlColumns is the day expression of each table, for its TTL.
var ttlColumns = map[string]string{"spans": "toDate(start)", "span_traces": "day", "span_names": "day"}

// setTTL makes each table's TTL match opts.Retention. Parts are dropped whole
// (ttl_only_drop_parts): a day partition goes at once when its last span expires, rather
// than being rewritten row by row. Every node runs this at start; it changes only table
// metadata, and nothing when the TTL is already right.
func (s *Store) setTTL(ctx context.Context) error {
	days := int64(0)
	if s.opts.Retention > 0 {
		days = int64((s.opts.Retention + 24*time.Hour - 1) / (24 * time.Hour))
	}
	for _, t := range tables {
		want := ""
		if days > 0 {
			want = ttlColumns[t] + " + toIntervalDay(" + strconv.FormatInt(days, 10) + ")"
		}
		have, err := s.strings(ctx, `SELECT create_table_query FROM system.tables WHERE database = `+
			chsql.String(s.schema.Database)+` AND name = `+chsql.String(s.schema.Local(t)))
		if err != nil {
			return err
		}
		if len(have) != 1 {
			return fmt.Errorf("table %s not found", s.schema.Local(t))
		}
		hasTTL := strings.Contains(have[0], " TTL ")
		switch {
		case want == "" && hasTTL:
			err = s.conn.Exec(ctx, "ALTER TABLE "+s.localTable(t)+" REMOVE TTL")
		case want != "" && !strings.Contains(have[0], " TTL "+want):
			err = s.conn.Exec(ctx, "ALTER TABLE "+s.localTable(t)+" MODIFY SETTING ttl_only_drop_parts = 1")
			if err == nil {
				err = s.conn.Exec(ctx, "ALTER TABLE "+s.localTable(t)+" MODIFY TTL "+want)
			}
		}
		if err != nil {
			return fmt.Errorf("set the TTL of %s: %w", t, err)
		}
	}
	return nil
}

// DiskBytes reports the bytes on disk of the span tables' active parts, on the server
// answering (the parts of other shards of a cluster are not counted). See store.Sizer.
func (s *Store) DiskBytes(ctx context.Context) (map[store.Signal]int64, error) {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = chsql.String(s.schema.Local(t))
	}
	rows, err := s.conn.Query(ctx, `SELECT toInt64(sum(bytes_on_disk)) FROM system.parts
		WHERE active AND database = `+chsql.String(s.schema.Database)+` AND table IN (`+strings.Join(names, ",")+`)`)
	if err != nil {
		return nil, fmt.Errorf("span disk bytes: %w", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("span disk bytes: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("span disk bytes: %w", err)
	}
	return map[store.Signal]int64{store.SignalSpans: n}, nil
}
