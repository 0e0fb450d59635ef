package native

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

var errNoStats = errors.New("this server's trace store does not compute service statistics")

// maxREDBuckets bounds the series: every group carries all of them, densely.
const maxREDBuckets = 1000

type redPointJSON struct {
	Time     string `json:"time"`
	UnixNano string `json:"time_unix_nano"`
	Count    int64  `json:"count"`
	Errors   int64  `json:"error_count"`
	P50      int64  `json:"p50_ns"`
	P95      int64  `json:"p95_ns"`
	P99      int64  `json:"p99_ns"`
}

type redGroupJSON struct {
	Name      string         `json:"name"`
	Count     int64          `json:"count"`
	Errors    int64          `json:"error_count"`
	Rate      float64        `json:"rate"`       // spans per second over the range
	ErrorRate float64        `json:"error_rate"` // errors / count, 0 when count is 0
	P50       int64          `json:"p50_ns"`
	P95       int64          `json:"p95_ns"`
	P99       int64          `json:"p99_ns"`
	Series    []redPointJSON `json:"series"`
}

type redData struct {
	Start       string         `json:"start"`
	End         string         `json:"end"`
	StepSeconds float64        `json:"step_seconds"`
	Service     string         `json:"service,omitempty"`
	Total       redGroupJSON   `json:"total"`
	Groups      []redGroupJSON `json:"groups"`
}

// registerRED adds the services/red route: with a store lacking the capability it answers
// 503 like a missing store.
func (a *API) registerRED() {
	stats, _ := a.traces.(store.ServiceStatsReader)
	a.handle("services/red", a.needTraces(func(r *http.Request) result {
		if stats == nil {
			return result{err: &apiError{typ: errUnavailable, err: errNoStats}}
		}
		return a.serviceRED(r, stats)
	}))
}

// serviceRED serves GET services/red: RED per service, or per span name of one service.
func (a *API) serviceRED(r *http.Request, stats store.ServiceStatsReader) result {
	p, aerr := requestParams(r, "start", "end", "step", "service")
	if aerr != nil {
		return result{err: aerr}
	}
	var q store.ServiceStatsQuery
	if q.Start, q.End, aerr = p.timeRange(a.now()); aerr != nil {
		return result{err: aerr}
	}
	if q.Service, aerr = p.one("service"); aerr != nil {
		return result{err: aerr}
	}
	span := q.End.Sub(q.Start)
	if q.Step, aerr = p.duration("step"); aerr != nil {
		return result{err: aerr}
	}
	if s, _ := p.one("step"); s == "" {
		q.Step = defaultStep(span)
	} else if q.Step <= 0 {
		return result{err: badParam("step", fmt.Errorf("%q is not positive", s))}
	} else if n := bucketCount(span, q.Step); n > maxREDBuckets {
		return result{err: badParam("step", fmt.Errorf("%s makes %d buckets over %s, more than %d: use a larger step",
			q.Step, n, span, maxREDBuckets))}
	}
	rows, err := stats.ServiceStats(r.Context(), q)
	if err != nil {
		return result{err: fmt.Errorf("service statistics: %w", err)}
	}
	return result{data: newREDData(q, rows)}
}

// newREDData arranges rows into groups with dense series (empty buckets are zeros), the
// busiest group first.
func newREDData(q store.ServiceStatsQuery, rows []store.ServiceStatsRow) redData {
	nb := int(bucketCount(q.End.Sub(q.Start), q.Step))
	seconds := q.End.Sub(q.Start).Seconds()
	newGroup := func(name string) *redGroupJSON {
		g := &redGroupJSON{Name: name, Series: make([]redPointJSON, nb)}
		for i := range g.Series {
			t := q.Start.Add(time.Duration(i) * q.Step)
			g.Series[i] = redPointJSON{Time: formatTime(t), UnixNano: formatUnixNano(t)}
		}
		return g
	}
	total := newGroup("")
	groups := map[string]*redGroupJSON{}
	for _, row := range rows {
		g := total
		if !row.Total {
			if g = groups[row.Group]; g == nil {
				g = newGroup(row.Group)
				groups[row.Group] = g
			}
		}
		if row.Bucket.IsZero() {
			g.Count, g.Errors = row.Count, row.Errors
			g.P50, g.P95, g.P99 = row.P50.Nanoseconds(), row.P95.Nanoseconds(), row.P99.Nanoseconds()
			continue
		}
		i := int(row.Bucket.Sub(q.Start) / q.Step)
		if i < 0 || i >= nb {
			continue // a store bucketing differently; never expected
		}
		pt := &g.Series[i]
		pt.Count, pt.Errors = row.Count, row.Errors
		pt.P50, pt.P95, pt.P99 = row.P50.Nanoseconds(), row.P95.Nanoseconds(), row.P99.Nanoseconds()
	}
	finish := func(g *redGroupJSON) {
		if seconds > 0 {
			g.Rate = float64(g.Count) / seconds
		}
		if g.Count > 0 {
			g.ErrorRate = float64(g.Errors) / float64(g.Count)
		}
	}
	finish(total)
	out := redData{
		Start: formatTime(q.Start), End: formatTime(q.End), StepSeconds: q.Step.Seconds(),
		Service: q.Service, Total: *total, Groups: make([]redGroupJSON, 0, len(groups)),
	}
	for _, g := range groups {
		finish(g)
		out.Groups = append(out.Groups, *g)
	}
	slices.SortFunc(out.Groups, func(x, y redGroupJSON) int {
		if x.Count != y.Count {
			return int(min(max(y.Count-x.Count, -1), 1))
		}
		if x.Name < y.Name {
			return -1
		}
		if x.Name > y.Name {
			return 1
		}
		return 0
	})
	return out
}
