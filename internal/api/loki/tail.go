package loki

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/net/websocket"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

// tailResponse is one websocket message of /tail, as Loki sends it.
type tailResponse struct {
	Streams        []streamJSON `json:"streams"`
	DroppedEntries []any        `json:"dropped_entries"`
}

// maxTailDelay is Loki's limit on delay_for.
const maxTailDelay = 5 * time.Second

// tailHandler serves /tail: a websocket that first sends the entries since start (up to
// limit, oldest first), then polls the store every TailInterval for newer entries. An
// entry is sent once it is older than delay_for seconds; entries that arrive later with
// an older timestamp than the last one sent are not sent (as with Loki's delay_for).
func (h *Handler) tailHandler() http.Handler {
	ws := websocket.Server{Handler: h.tail} // no Origin check: Grafana proxies the socket
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.WithLabelValues("tail", "101").Inc()
		q := r.FormValue("query")
		if q == "" {
			http.Error(w, "query: missing LogQL query", http.StatusBadRequest)
			return
		}
		expr, err := logql.Parse(q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, ok := expr.(*logql.LogExpr); !ok {
			http.Error(w, "tail needs a log query, not a metric query", http.StatusBadRequest)
			return
		}
		if _, err := parseLimit(r, h.opts.DefaultLimit); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := tailDelay(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := parseTime(r.FormValue("start"), time.Time{}); err != nil {
			http.Error(w, "start: "+err.Error(), http.StatusBadRequest)
			return
		}
		ws.ServeHTTP(w, r)
	})
}

func tailDelay(r *http.Request) (time.Duration, error) {
	s := r.FormValue("delay_for")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || time.Duration(n)*time.Second > maxTailDelay {
		return 0, fmt.Errorf("delay_for: %q is not a number of seconds from 0 to %d", s, int(maxTailDelay.Seconds()))
	}
	return time.Duration(n) * time.Second, nil
}

func (h *Handler) tail(conn *websocket.Conn) {
	defer conn.Close()
	r := conn.Request()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The client sends nothing; a read error means it closed the socket.
	go func() {
		var buf [64]byte
		for {
			if _, err := conn.Read(buf[:]); err != nil {
				cancel()
				return
			}
		}
	}()
	q := r.FormValue("query")
	limit, _ := parseLimit(r, h.opts.DefaultLimit)
	delay, _ := tailDelay(r)
	now := h.now()
	start, _ := parseTime(r.FormValue("start"), now.Add(-time.Hour))
	from := start
	ticker := time.NewTicker(h.opts.TailInterval)
	defer ticker.Stop()
	firstBatch := true
	for {
		to := h.now().Add(-delay)
		if to.After(from) {
			res, err := h.engine.Query(ctx, q, logql.Params{Start: from, End: to, Step: time.Second, Limit: min(limit, h.opts.Engine.MaxEntries), Forward: !firstBatch})
			if err != nil {
				if ctx.Err() == nil {
					h.logger.Warn("loki tail: query failed", "query", q, "err", err)
					_ = websocket.Message.Send(conn, fmt.Sprintf(`{"error":%q}`, err.Error()))
				}
				return
			}
			msg, last := tailMessage(res, !firstBatch)
			if len(msg.Streams) > 0 {
				if err := websocket.JSON.Send(conn, msg); err != nil {
					return
				}
			}
			full := res.Stats.Entries >= int64(min(limit, h.opts.Engine.MaxEntries))
			wasFirst := firstBatch
			firstBatch = false
			if !wasFirst && full && last > 0 {
				// More entries than one message holds: continue right after the last one sent.
				from = time.Unix(0, last+1)
				continue
			}
			from = to
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// tailMessage converts a result to a tail message with entries oldest first, and returns
// the newest timestamp.
func tailMessage(res *logql.Result, forward bool) (tailResponse, int64) {
	msg := tailResponse{Streams: []streamJSON{}}
	var last int64
	for _, s := range res.Streams {
		vals := make([][2]string, 0, len(s.Entries))
		for i := range s.Entries {
			e := s.Entries[i]
			if !forward {
				e = s.Entries[len(s.Entries)-1-i]
			}
			vals = append(vals, [2]string{strconv.FormatInt(e.Timestamp, 10), e.Line})
			last = max(last, e.Timestamp)
		}
		msg.Streams = append(msg.Streams, streamJSON{Stream: s.Labels, Values: vals})
	}
	return msg, last
}
