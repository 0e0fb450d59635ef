package loki

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/internal/query/logql"
)

func (h *Handler) query(r *http.Request) (any, error) {
	q := form(r, "query")
	if q == "" {
		return nil, bad(fmt.Errorf("query: missing LogQL query"))
	}
	t, err := parseTime(form(r, "time"), h.now())
	if err != nil {
		return nil, bad(fmt.Errorf("time: %w", err))
	}
	limit, err := parseLimit(r, h.opts.DefaultLimit)
	if err != nil {
		return nil, bad(err)
	}
	fwd, err := parseDirection(r)
	if err != nil {
		return nil, bad(err)
	}
	res, err := h.engine.Query(r.Context(), q, logql.Params{Start: t, End: t, Limit: limit, Forward: fwd})
	if err != nil {
		return nil, err
	}
	return queryResponse(res), nil
}

func (h *Handler) queryRange(r *http.Request) (any, error) {
	q := form(r, "query")
	if q == "" {
		return nil, bad(fmt.Errorf("query: missing LogQL query"))
	}
	start, end, err := timeRange(r, h.now(), time.Hour)
	if err != nil {
		return nil, bad(err)
	}
	limit, err := parseLimit(r, h.opts.DefaultLimit)
	if err != nil {
		return nil, bad(err)
	}
	fwd, err := parseDirection(r)
	if err != nil {
		return nil, bad(err)
	}
	step := defaultStep(start, end)
	if s := form(r, "step"); s != "" {
		if step, err = parseDuration(s); err != nil {
			return nil, bad(fmt.Errorf("step: %w", err))
		}
	}
	res, err := h.engine.Query(r.Context(), q, logql.Params{Start: start, End: end, Step: step, Limit: limit, Forward: fwd})
	if err != nil {
		return nil, err
	}
	return queryResponse(res), nil
}

// Response envelopes, as Loki writes them.

type envelope struct {
	Status string `json:"status"`
	Data   any    `json:"data"`
}

type queryData struct {
	ResultType string `json:"resultType"`
	Result     any    `json:"result"`
	Stats      stats  `json:"stats"`
}

type streamJSON struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

type seriesJSON struct {
	Metric map[string]string `json:"metric"`
	Values []sampleJSON      `json:"values"`
}

type vectorJSON struct {
	Metric map[string]string `json:"metric"`
	Value  sampleJSON        `json:"value"`
}

// sampleJSON is [<unix seconds>, "<value>"].
type sampleJSON struct {
	T int64 // ns
	V float64
}

func (s sampleJSON) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	b = strconv.AppendFloat(b, float64(s.T)/1e9, 'f', -1, 64)
	b = append(b, ',', '"')
	b = append(b, formatValue(s.V)...)
	return append(b, '"', ']'), nil
}

// formatValue writes a sample value as Prometheus does.
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// stats is the summary part of Loki's query statistics, which Grafana shows.
type stats struct {
	Summary summary `json:"summary"`
}

type summary struct {
	BytesProcessedPerSecond int64   `json:"bytesProcessedPerSecond"`
	LinesProcessedPerSecond int64   `json:"linesProcessedPerSecond"`
	TotalBytesProcessed     int64   `json:"totalBytesProcessed"`
	TotalLinesProcessed     int64   `json:"totalLinesProcessed"`
	ExecTime                float64 `json:"execTime"`
	QueueTime               float64 `json:"queueTime"`
	Subqueries              int     `json:"subqueries"`
	TotalEntriesReturned    int64   `json:"totalEntriesReturned"`
	Splits                  int     `json:"splits"`
	Shards                  int     `json:"shards"`
}

func toStats(s logql.Stats) stats {
	sec := s.ExecDuration.Seconds()
	out := summary{TotalBytesProcessed: s.Bytes, TotalLinesProcessed: s.Lines, ExecTime: sec, TotalEntriesReturned: s.Entries}
	if sec > 0 {
		out.BytesProcessedPerSecond = int64(float64(s.Bytes) / sec)
		out.LinesProcessedPerSecond = int64(float64(s.Lines) / sec)
	}
	return stats{Summary: out}
}

func queryResponse(res *logql.Result) envelope {
	d := queryData{ResultType: res.Type, Stats: toStats(res.Stats)}
	switch res.Type {
	case "streams":
		out := make([]streamJSON, 0, len(res.Streams))
		for _, s := range res.Streams {
			vals := make([][2]string, len(s.Entries))
			for i, e := range s.Entries {
				vals[i] = [2]string{strconv.FormatInt(e.Timestamp, 10), e.Line}
			}
			out = append(out, streamJSON{Stream: s.Labels, Values: vals})
		}
		d.Result = out
	case "matrix":
		out := make([]seriesJSON, 0, len(res.Series))
		for _, s := range res.Series {
			vals := make([]sampleJSON, len(s.Points))
			for i, p := range s.Points {
				vals[i] = sampleJSON{p.T, p.V}
			}
			out = append(out, seriesJSON{Metric: s.Labels, Values: vals})
		}
		d.Result = out
	case "vector":
		out := make([]vectorJSON, 0, len(res.Series))
		for _, s := range res.Series {
			out = append(out, vectorJSON{Metric: s.Labels, Value: sampleJSON{s.Points[0].T, s.Points[0].V}})
		}
		d.Result = out
	case "scalar":
		d.Result = sampleJSON{res.Scalar.T, res.Scalar.V}
	}
	return envelope{Status: "success", Data: d}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing to do
}
