package duck

import (
	"context"
	"fmt"
	"strconv"

	"github.com/loupe-dev/loupe/internal/errtrack"
)

// TraceEvents implements errtrack.Reader. The trace id column has no index: this scans
// it, which is cheap next to the events it returns.
func (s *Store) TraceEvents(ctx context.Context, traceID string, limit int) ([]errtrack.Event, error) {
	limit = pageLimit(limit, errtrack.DefaultEventLimit, errtrack.MaxEventLimit)
	if traceID == "" {
		return []errtrack.Event{}, nil
	}
	s.flushErrors(ctx)
	rows, err := s.db.QueryContext(ctx, "SELECT event_id, event FROM error_events WHERE trace_id = ? ORDER BY ts_ns DESC, event_id DESC LIMIT "+strconv.Itoa(limit), traceID)
	if err != nil {
		return nil, fmt.Errorf("trace events: %w", err)
	}
	defer rows.Close()
	out := []errtrack.Event{}
	for rows.Next() {
		var id string
		var body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("trace events: %w", err)
		}
		ev, err := decodeEventBody(body)
		if err != nil {
			return nil, fmt.Errorf("trace events: event %s: %w", id, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("trace events: %w", err)
	}
	return out, nil
}
