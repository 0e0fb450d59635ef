package loki

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
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

// tailHandler serves /tail: a websocket that first sends the most recent entries since
// start (up to limit), then polls the store every TailInterval for new entries. An entry
// is sent once it is older than delay_for seconds; each poll re-reads the last
// tailLookback, so entries committed up to that late are still sent, once.
func (h *Handler) tailHandler() http.Handler {
	ws := websocket.Server{Handler: h.tail} // no Origin check: Grafana proxies the socket
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.checkTail(r); err != nil {
			h.requests.WithLabelValues("tail", "400").Inc()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.requests.WithLabelValues("tail", "101").Inc()
		ws.ServeHTTP(w, r)
	})
}

// checkTail validates the parameters of a tail request before the upgrade.
func (h *Handler) checkTail(r *http.Request) error {
	q := r.FormValue("query")
	if q == "" {
		return fmt.Errorf("query: missing LogQL query")
	}
	expr, err := logql.Parse(q)
	if err != nil {
		return err
	}
	if _, ok := expr.(*logql.LogExpr); !ok {
		return fmt.Errorf("tail needs a log query, not a metric query")
	}
	if _, err := parseLimit(r, h.opts.DefaultLimit); err != nil {
		return err
	}
	if _, err := tailDelay(r); err != nil {
		return err
	}
	if _, err := parseTime(r.FormValue("start"), time.Time{}); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return nil
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

// tailLookback is how far back each poll re-reads, so that entries committed after a
// poll with a timestamp before it are still sent; entries already sent are remembered
// for that long and skipped.
const tailLookback = 10 * time.Second

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
	limit = min(limit, h.opts.Engine.MaxEntries)
	delay, _ := tailDelay(r)
	start, _ := parseTime(r.FormValue("start"), h.now().Add(-time.Hour))
	sent := map[string]int64{} // entry identity -> timestamp, for the lookback window
	send := func(res *logql.Result) (last int64, ok bool) {
		msg := tailResponse{Streams: []streamJSON{}}
		for _, s := range res.Streams {
			st := streamJSON{Stream: s.Labels}
			lk := logql.LabelsString(s.Labels)
			for _, e := range s.Entries {
				last = max(last, e.Timestamp)
				id := strconv.FormatInt(e.Timestamp, 10) + "\x00" + lk + "\x00" + e.Line
				if _, dup := sent[id]; dup {
					continue
				}
				sent[id] = e.Timestamp
				st.Values = append(st.Values, [2]string{strconv.FormatInt(e.Timestamp, 10), e.Line})
			}
			if len(st.Values) > 0 {
				slices.SortStableFunc(st.Values, func(a, b [2]string) int { return cmpNs(a[0], b[0]) })
				msg.Streams = append(msg.Streams, st)
			}
		}
		if len(msg.Streams) == 0 {
			return last, true
		}
		return last, websocket.JSON.Send(conn, msg) == nil
	}
	query := func(from, to time.Time, forward bool) (*logql.Result, bool) {
		res, err := h.engine.Query(ctx, q, logql.Params{Start: from, End: to, Step: time.Second, Limit: limit, Forward: forward})
		if err != nil {
			if ctx.Err() == nil {
				h.logger.Warn("loki tail: query failed", "query", q, "err", err)
				_ = websocket.Message.Send(conn, fmt.Sprintf(`{"error":%q}`, err.Error()))
			}
			return nil, false
		}
		return res, true
	}

	// First the most recent entries since start, then new ones as they arrive.
	watermark := h.now().Add(-delay)
	if watermark.After(start) {
		res, ok := query(start, watermark, false)
		if !ok {
			return
		}
		if _, ok := send(res); !ok {
			return
		}
	}
	ticker := time.NewTicker(h.opts.TailInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		to := h.now().Add(-delay)
		from := watermark.Add(-tailLookback)
		if from.Before(start) {
			from = start
		}
		for from.Before(to) {
			res, ok := query(from, to, true)
			if !ok {
				return
			}
			last, ok := send(res)
			if !ok {
				return
			}
			if res.Stats.Entries < int64(limit) || last <= from.UnixNano() {
				break
			}
			from = time.Unix(0, last) // more than one message: continue at the last entry
		}
		watermark = to
		for id, ts := range sent {
			if ts < to.Add(-tailLookback).UnixNano() {
				delete(sent, id)
			}
		}
	}
}

func cmpNs(a, b string) int {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return cmp.Compare(x, y)
}
