package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/internal/store"
)

// copyLogs reads every record, newest first, one page of opts.LogPage at a time (the
// reader's cursor continues where the last page ended), and writes each page as one batch.
func copyLogs(ctx context.Context, src store.LogReader, dst store.LogWriter, opts Options, c *Counts) error {
	cursor := ""
	for page := 1; ; page++ {
		var recs []store.LogRecord
		for r, err := range src.QueryLogs(ctx, store.LogQuery{Limit: opts.LogPage, Cursor: cursor}) {
			if err != nil {
				return &Error{Signal: store.SignalLogs, Position: fmt.Sprintf("reading page %d (after %d records)", page, c.Copied), Err: err}
			}
			recs = append(recs, r)
		}
		if len(recs) == 0 {
			return nil
		}
		where := fmt.Sprintf("page %d (records %d-%d, %s)", page, c.Copied+1, c.Copied+int64(len(recs)),
			span(recs[0].Timestamp, recs[len(recs)-1].Timestamp))
		ld, err := logsOf(recs)
		if err != nil {
			return &Error{Signal: store.SignalLogs, Position: where, Err: err}
		}
		if err := dst.WriteLogs(ctx, ld); err != nil {
			return &Error{Signal: store.SignalLogs, Position: "writing " + where, Err: err}
		}
		c.Copied += int64(len(recs))
		fmt.Fprintf(opts.Progress, "logs: %s copied\n", where)
		cursor = recs[len(recs)-1].Cursor
		if len(recs) < opts.LogPage {
			return nil
		}
	}
}

// logsOf rebuilds OTLP logs from flattened records, one ResourceLogs per distinct
// resource and scope in the page, so that the writer sees the grouping it was given.
func logsOf(recs []store.LogRecord) (plog.Logs, error) {
	ld := plog.NewLogs()
	type key struct{ resource, scope, version string }
	scopes := map[key]plog.ScopeLogs{}
	for i, r := range recs {
		res, err := json.Marshal(r.Resource) // sorted keys: equal maps give equal keys
		if err != nil {
			return ld, fmt.Errorf("record %d (%s): resource: %w", i, r.Timestamp.Format(time.RFC3339Nano), err)
		}
		k := key{string(res), r.ScopeName, r.ScopeVersion}
		sl, ok := scopes[k]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			if err := rl.Resource().Attributes().FromRaw(r.Resource); err != nil {
				return ld, fmt.Errorf("record %d (%s): resource: %w", i, r.Timestamp.Format(time.RFC3339Nano), err)
			}
			sl = rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(r.ScopeName)
			sl.Scope().SetVersion(r.ScopeVersion)
			scopes[k] = sl
		}
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(r.Timestamp))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(r.ObservedTimestamp))
		lr.SetSeverityNumber(plog.SeverityNumber(r.SeverityNumber))
		lr.SetSeverityText(r.SeverityText)
		lr.Body().SetStr(r.Body)
		lr.SetTraceID(r.TraceID)
		lr.SetSpanID(r.SpanID)
		lr.SetFlags(plog.LogRecordFlags(r.Flags))
		if err := lr.Attributes().FromRaw(r.Attributes); err != nil {
			return ld, fmt.Errorf("record %d (%s): attributes: %w", i, r.Timestamp.Format(time.RFC3339Nano), err)
		}
	}
	return ld, nil
}
