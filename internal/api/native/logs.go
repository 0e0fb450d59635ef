package native

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

const (
	defaultLogLimit = 100
	maxLogLimit     = 10000 // also the cap the stores apply (store.LogQuery.Limit)
	// maxBuckets bounds a histogram, as Prometheus bounds query_range to 11,000 points.
	maxBuckets = 11000
)

// logFilterParams are the parameters every logs route takes.
var logFilterParams = []string{"start", "end", "service", "severity", "q", "attr", "trace_id", "span_id"}

// logFilter reads the filter parameters shared by logs and logs/counts.
func (a *API) logFilter(p params) (store.LogFilter, *apiError) {
	var f store.LogFilter
	var aerr *apiError
	if f.Start, f.End, aerr = p.timeRange(a.now()); aerr != nil {
		return f, aerr
	}
	f.Services = p.many("service")
	if s, aerr := p.one("severity"); aerr != nil {
		return f, aerr
	} else if s != "" {
		n, err := parseSeverity(s)
		if err != nil {
			return f, badParam("severity", err)
		}
		f.MinSeverity = n
	}
	if f.Contains, aerr = p.one("q"); aerr != nil {
		return f, aerr
	}
	if f.Attrs, aerr = p.attrs(); aerr != nil {
		return f, aerr
	}
	if s, aerr := p.one("trace_id"); aerr != nil {
		return f, aerr
	} else if s != "" {
		id, err := parseTraceID(s)
		if err != nil {
			return f, badParam("trace_id", err)
		}
		f.TraceID = id
	}
	if s, aerr := p.one("span_id"); aerr != nil {
		return f, aerr
	} else if s != "" {
		id, err := parseSpanID(s)
		if err != nil {
			return f, badParam("span_id", err)
		}
		f.SpanID = id
	}
	return f, nil
}

// logsData is a page of records. Start and End are the range the query used, resolved
// ("now-15m" becomes a time), so that a client can page with a fixed range; they are
// omitted when the query had none (a trace_id search over all logs).
type logsData struct {
	Start      string          `json:"start,omitempty"`
	End        string          `json:"end,omitempty"`
	Records    []logRecordJSON `json:"records"`
	NextCursor string          `json:"next_cursor"`
}

// queryLogs serves GET logs: one page of records, newest first.
func (a *API) queryLogs(r *http.Request) result {
	p, aerr := requestParams(r, append(slices.Clone(logFilterParams), "limit", "cursor")...)
	if aerr != nil {
		return result{err: aerr}
	}
	filter, aerr := a.logFilter(p)
	if aerr != nil {
		return result{err: aerr}
	}
	// Following a link from a trace must find its logs however old the trace is, and an
	// id filter is selective enough to search everything: without start and end, a
	// trace_id or span_id query is not limited to the last hour.
	if (!filter.TraceID.IsEmpty() || !filter.SpanID.IsEmpty()) && !p.has("start") && !p.has("end") {
		filter.Start, filter.End = time.Time{}, time.Time{}
	}
	limit, aerr := p.limit(defaultLogLimit, maxLogLimit)
	if aerr != nil {
		return result{err: aerr}
	}
	cursor, aerr := p.cursor()
	if aerr != nil {
		return result{err: aerr}
	}

	// One record more than the page tells whether there is a next page. The store caps
	// its limit at maxLogLimit, so a full page of that size may or may not be the last.
	q := store.LogQuery{LogFilter: filter, Limit: limit + 1, Cursor: cursor}
	data := logsData{Records: make([]logRecordJSON, 0, min(limit, 256))}
	if !filter.Start.IsZero() {
		data.Start, data.End = formatTime(filter.Start), formatTime(filter.End)
	}
	var last store.LogRecord
	more := false
	size := 0 // bytes of the page so far, bounded by maxPageBytes (pagebudget.go)
	for rec, err := range a.logs.QueryLogs(r.Context(), q) {
		if err != nil {
			return result{err: fmt.Errorf("query logs: %w", err)}
		}
		if len(data.Records) == limit || size >= maxPageBytes {
			more = true
			break // stops the store's iterator
		}
		data.Records = append(data.Records, newLogRecordJSON(rec))
		size += recordBytes(rec)
		last = rec
	}
	if (more || len(data.Records) == maxLogLimit) && last.Cursor != "" {
		data.NextCursor = encodeCursor(last.Cursor)
	}
	return result{data: data}
}

type bucketJSON struct {
	Time     string           `json:"time"`
	UnixNano string           `json:"time_unix_nano"`
	Total    int64            `json:"total"`
	Counts   map[string]int64 `json:"counts"`
}

type countsData struct {
	Start       string       `json:"start"`
	End         string       `json:"end"`
	StepSeconds float64      `json:"step_seconds"`
	Buckets     []bucketJSON `json:"buckets"`
}

// unsetSeverity is the key for records without severity text in counts, so that a chart
// legend has something to show.
const unsetSeverity = "UNSPECIFIED"

// countLogs serves GET logs/counts: record counts per time bucket and severity.
func (a *API) countLogs(r *http.Request) result {
	p, aerr := requestParams(r, append(slices.Clone(logFilterParams), "step")...)
	if aerr != nil {
		return result{err: aerr}
	}
	filter, aerr := a.logFilter(p)
	if aerr != nil {
		return result{err: aerr}
	}
	span := filter.End.Sub(filter.Start)
	step, aerr := p.duration("step")
	if aerr != nil {
		return result{err: aerr}
	}
	if s, _ := p.one("step"); s == "" {
		step = defaultStep(span)
	} else if step <= 0 {
		return result{err: badParam("step", fmt.Errorf("%q is not positive", s))}
	} else if buckets := bucketCount(span, step); buckets > maxBuckets {
		return result{err: badParam("step", fmt.Errorf("%s makes %d buckets over %s, more than %d: use a larger step",
			step, buckets, span, maxBuckets))}
	}

	counts, err := a.logs.CountLogs(r.Context(), store.LogCountQuery{LogFilter: filter, Step: step})
	if err != nil {
		return result{err: fmt.Errorf("count logs: %w", err)}
	}
	slices.SortStableFunc(counts, func(x, y store.LogCount) int { return x.Bucket.Compare(y.Bucket) })
	data := countsData{
		Start:       formatTime(filter.Start),
		End:         formatTime(filter.End),
		StepSeconds: step.Seconds(),
		Buckets:     []bucketJSON{},
	}
	for i, c := range counts {
		if i == 0 || !c.Bucket.Equal(counts[i-1].Bucket) {
			data.Buckets = append(data.Buckets, bucketJSON{
				Time: formatTime(c.Bucket), UnixNano: formatUnixNano(c.Bucket), Counts: map[string]int64{},
			})
		}
		b := &data.Buckets[len(data.Buckets)-1]
		sev := c.Severity
		if sev == "" {
			sev = unsetSeverity
		}
		b.Counts[sev] += c.Count
		b.Total += c.Count
	}
	return result{data: data}
}

// bucketCount is ceil(span/step), without the overflow of (span+step-1)/step when span
// is close to the largest duration.
func bucketCount(span, step time.Duration) int64 {
	n := int64(span / step)
	if span%step != 0 {
		n++
	}
	return n
}

// niceSteps are the bucket widths a default step is chosen from. Consecutive steps differ
// by at most a factor of 2, so the smallest one giving at most 120 buckets gives more
// than 60.
var niceSteps = []time.Duration{
	time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second,
	15 * time.Second, 20 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 3 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 20 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
}

// defaultStep picks a step that splits span into 60 to 120 buckets (fewer when span is
// under a minute, since steps are at least a second).
func defaultStep(span time.Duration) time.Duration {
	const maxDefaultBuckets = 120
	for _, s := range niceSteps {
		if span <= s*maxDefaultBuckets {
			return s
		}
	}
	// Whole days beyond that: rounding span/120 up to a day at most doubles it.
	day := 24 * time.Hour
	days := (span/maxDefaultBuckets + day - 1) / day
	return days * day
}

type scopeJSON struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// logRecordJSON is a log record as the API shows it. Unix nanoseconds are strings, as in
// OTLP JSON, because they do not fit a JavaScript number.
type logRecordJSON struct {
	Time                 string         `json:"time"`
	TimeUnixNano         string         `json:"time_unix_nano"`
	ObservedTime         string         `json:"observed_time,omitempty"`
	ObservedTimeUnixNano string         `json:"observed_time_unix_nano,omitempty"`
	Service              string         `json:"service"`
	SeverityNumber       int32          `json:"severity_number"`
	SeverityText         string         `json:"severity_text"`
	Body                 string         `json:"body"`
	TraceID              string         `json:"trace_id,omitempty"`
	SpanID               string         `json:"span_id,omitempty"`
	Flags                uint32         `json:"flags,omitempty"`
	Attributes           map[string]any `json:"attributes"`
	Resource             map[string]any `json:"resource"`
	Scope                scopeJSON      `json:"scope"`
}

func newLogRecordJSON(rec store.LogRecord) logRecordJSON {
	out := logRecordJSON{
		Time:           formatTime(rec.Timestamp),
		TimeUnixNano:   formatUnixNano(rec.Timestamp),
		Service:        rec.Service,
		SeverityNumber: rec.SeverityNumber,
		SeverityText:   rec.SeverityText,
		Body:           rec.Body,
		Flags:          rec.Flags,
		Attributes:     jsonSafeMap(rec.Attributes),
		Resource:       jsonSafeMap(rec.Resource),
		Scope:          scopeJSON{Name: rec.ScopeName, Version: rec.ScopeVersion},
	}
	if !rec.ObservedTimestamp.IsZero() && rec.ObservedTimestamp.UnixNano() != 0 {
		out.ObservedTime = formatTime(rec.ObservedTimestamp)
		out.ObservedTimeUnixNano = formatUnixNano(rec.ObservedTimestamp)
	}
	if !rec.TraceID.IsEmpty() {
		out.TraceID = rec.TraceID.String()
	}
	if !rec.SpanID.IsEmpty() {
		out.SpanID = rec.SpanID.String()
	}
	return out
}

// formatTime formats t as RFC3339 with nanoseconds in UTC; the zero time is the epoch,
// as an unset OTLP timestamp is.
func formatTime(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func formatUnixNano(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}
