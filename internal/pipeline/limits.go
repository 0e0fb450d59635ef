package pipeline

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/internal/store"
)

// problem is why one item is rejected. Its label is the reason label of
// loupe_ingest_rejected_items_total.
type problem uint8

const (
	ok problem = iota
	tooManyAttributes
	attributeKeyTooLong
	attributeValueTooLong
	valueTooDeep
	bodyTooLong
	runRecordTooLong
	nameTooLong
	tooManyEvents
	tooManyLinks
	zeroTraceID
	zeroSpanID
	endBeforeStart
	emptyMetricName
	invalidHistogram
	invalidUTF8
	tooFarInFuture
	tooOld
	streamLimit
	numProblems
)

var problemLabels = [numProblems]string{
	ok:                    "ok",
	tooManyAttributes:     "too_many_attributes",
	attributeKeyTooLong:   "attribute_key_too_long",
	attributeValueTooLong: "attribute_value_too_long",
	valueTooDeep:          "value_too_deep",
	bodyTooLong:           "body_too_long",
	runRecordTooLong:      "run_record_too_long",
	nameTooLong:           "name_too_long",
	tooManyEvents:         "too_many_events",
	tooManyLinks:          "too_many_links",
	zeroTraceID:           "zero_trace_id",
	zeroSpanID:            "zero_span_id",
	endBeforeStart:        "end_before_start",
	emptyMetricName:       "empty_metric_name",
	invalidHistogram:      "invalid_histogram",
	invalidUTF8:           "invalid_utf8",
	tooFarInFuture:        "too_far_in_future",
	tooOld:                "too_old",
	streamLimit:           "stream_limit",
}

func (p problem) label() string { return problemLabels[p] }

// describe says what is wrong in words a user can act on, with the limit that applies.
func (p problem) describe(l Limits) string {
	switch p {
	case tooManyAttributes:
		return fmt.Sprintf("more than %d attributes (limit max_attributes)", l.MaxAttributes)
	case attributeKeyTooLong:
		return fmt.Sprintf("attribute key longer than %d bytes (limit max_attribute_key_length)", l.MaxAttributeKeyLength)
	case attributeValueTooLong:
		return fmt.Sprintf("attribute value longer than %d bytes (limit max_attribute_value_length)", l.MaxAttributeValueLength)
	case valueTooDeep:
		return fmt.Sprintf("value nested deeper than %d levels (limit max_value_depth)", l.MaxValueDepth)
	case bodyTooLong:
		return fmt.Sprintf("log body longer than %d bytes (limit max_body_length)", l.MaxBodyLength)
	case runRecordTooLong:
		return fmt.Sprintf("%s attribute longer than %d bytes (limit max_body_length)", runRecordAttribute, l.MaxBodyLength)
	case nameTooLong:
		return fmt.Sprintf("name longer than %d bytes (limit max_name_length)", l.MaxNameLength)
	case tooManyEvents:
		return fmt.Sprintf("more than %d span events (limit max_span_events)", l.MaxSpanEvents)
	case tooManyLinks:
		return fmt.Sprintf("more than %d span links (limit max_span_links)", l.MaxSpanLinks)
	case zeroTraceID:
		return "span trace_id is all zeros"
	case zeroSpanID:
		return "span span_id is all zeros"
	case endBeforeStart:
		return "span end_time_unix_nano is before start_time_unix_nano"
	case emptyMetricName:
		return "metric name is empty"
	case invalidHistogram:
		return "histogram explicit_bounds not strictly increasing, or bucket_counts length not len(explicit_bounds)+1"
	case invalidUTF8:
		return "a string (name, attribute key or value, body, ...) is not valid UTF-8"
	case tooFarInFuture:
		return fmt.Sprintf("timestamp too far in the future: more than %s after the server's time (limit limits.max_future)", l.MaxFuture)
	case tooOld:
		return fmt.Sprintf("timestamp too old: log records older than %s and spans older than %s are refused (limit limits.max_age)", l.MaxLogAge, l.MaxSpanAge)
	case streamLimit:
		return fmt.Sprintf("stream limit exceeded: %d active log streams (distinct resources), new streams are refused (limit limits.max_log_streams)", l.MaxLogStreams)
	}
	return p.label()
}

// tally counts rejected items per problem for one request.
type tally [numProblems]int64

func (t *tally) add(p problem, n int) { t[p] += int64(n) }

func (t *tally) total() int64 {
	var n int64
	for p := ok + 1; p < numProblems; p++ {
		n += t[p]
	}
	return n
}

// err returns a *store.PartialError naming every problem and its count, or nil when
// nothing was rejected.
func (t *tally) err(l Limits) error {
	total := t.total()
	if total == 0 {
		return nil
	}
	var parts []string
	for p := ok + 1; p < numProblems; p++ {
		if t[p] > 0 {
			parts = append(parts, fmt.Sprintf("%s (%d)", p.describe(l), t[p]))
		}
	}
	pe := &store.PartialError{Rejected: total, Msg: strings.Join(parts, "; ")}
	if t[streamLimit] > 0 {
		return &streamLimitError{pe}
	}
	return pe
}

// runRecordAttribute is the attribute in which `loupe run` sends a whole run record (JSON,
// ~40 bytes per installed Python package): a document, so it gets the size limit of a log
// body rather than that of an attribute value, or a conda environment of a few hundred
// packages would lose its run.
const runRecordAttribute = "loupe.run.record"

// validator removes items over the limits from pdata and counts them.
type validator struct {
	l       Limits
	now     func() time.Time
	streams *streamSet // nil without Limits.MaxLogStreams
}

// window is the range of item times accepted now, as unix ns; 0 and MaxUint64 when
// unbounded.
func (v validator) window(maxAge time.Duration) (lo, hi uint64) {
	hi = math.MaxUint64
	if v.l.MaxFuture <= 0 && maxAge <= 0 {
		return 0, hi
	}
	now := v.now()
	if v.l.MaxFuture > 0 {
		hi = uint64(now.Add(v.l.MaxFuture).UnixNano())
	}
	if maxAge > 0 {
		if t := now.Add(-maxAge).UnixNano(); t > 0 {
			lo = uint64(t)
		}
	}
	return lo, hi
}

// timeProblem checks an item's time against the window [lo, hi]; 0 is "unset" and passes.
func timeProblem(t, lo, hi uint64) problem {
	switch {
	case t == 0:
		return ok
	case t > hi:
		return tooFarInFuture
	case t < lo:
		return tooOld
	}
	return ok
}

func over(limit, n int) bool { return limit > 0 && n > limit }

func (v validator) attrs(m pcommon.Map) problem {
	if over(v.l.MaxAttributes, m.Len()) {
		return tooManyAttributes
	}
	for k, val := range m.All() {
		if over(v.l.MaxAttributeKeyLength, len(k)) {
			return attributeKeyTooLong
		}
		if !validUTF8(k) {
			return invalidUTF8
		}
		maxLen, tooLong := v.l.MaxAttributeValueLength, attributeValueTooLong
		if k == runRecordAttribute {
			maxLen, tooLong = v.l.MaxBodyLength, runRecordTooLong
		}
		if p := v.value(val, maxLen, tooLong); p != ok {
			return p
		}
	}
	return ok
}

// value checks the size and depth of an attribute value or a log body.
func (v validator) value(val pcommon.Value, maxLen int, tooLong problem) problem {
	switch val.Type() {
	case pcommon.ValueTypeStr:
		s := val.Str()
		if over(maxLen, len(s)) {
			return tooLong
		}
		if !validUTF8(s) {
			return invalidUTF8
		}
		return ok
	case pcommon.ValueTypeBytes:
		if over(maxLen, val.Bytes().Len()) {
			return tooLong
		}
		return ok
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		size, p := valueSize(val, 1, v.l.MaxValueDepth)
		if p != ok {
			return p
		}
		if over(maxLen, size) {
			return tooLong
		}
	}
	return ok
}

// valueSize returns the bytes of strings and keys in val plus 8 per other scalar. It
// reports valueTooDeep when val nests deeper than maxDepth (0: unlimited) and invalidUTF8
// for a key or string that is not UTF-8.
func valueSize(val pcommon.Value, depth, maxDepth int) (int, problem) {
	switch val.Type() {
	case pcommon.ValueTypeStr:
		if !validUTF8(val.Str()) {
			return 0, invalidUTF8
		}
		return len(val.Str()), ok
	case pcommon.ValueTypeBytes:
		return val.Bytes().Len(), ok
	case pcommon.ValueTypeMap:
		if over(maxDepth, depth) {
			return 0, valueTooDeep
		}
		size := 0
		for k, e := range val.Map().All() {
			if !validUTF8(k) {
				return 0, invalidUTF8
			}
			n, p := valueSize(e, depth+1, maxDepth)
			if p != ok {
				return 0, p
			}
			size += len(k) + n
		}
		return size, ok
	case pcommon.ValueTypeSlice:
		if over(maxDepth, depth) {
			return 0, valueTooDeep
		}
		size := 0
		for _, e := range val.Slice().All() {
			n, p := valueSize(e, depth+1, maxDepth)
			if p != ok {
				return 0, p
			}
			size += n
		}
		return size, ok
	}
	return 8, ok
}

// validUTF8 is utf8.ValidString, faster on the short ASCII strings that most keys and
// values are: it tests 8 bytes at a time for a non-ASCII byte (the last partial word as
// the string's last 8 bytes) and decodes UTF-8 only from the first word that has one.
// utf8.ValidString was over half of the validator's time on log ingest, most of it in its
// byte-at-a-time loop over the tail of each string; this takes about half as long.
func validUTF8(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if load64(s, i)&hi8 != 0 {
			return utf8.ValidString(s[i:])
		}
	}
	switch {
	case i == len(s):
		return true
	case len(s) >= 8:
		if load64(s, len(s)-8)&hi8 != 0 {
			return utf8.ValidString(s[i:])
		}
		return true
	}
	var or byte
	for j := 0; j < len(s); j++ {
		or |= s[j]
	}
	return or < utf8.RuneSelf || utf8.ValidString(s)
}

const hi8 = 0x8080808080808080

// load64 returns s[i:i+8] as a little-endian word (the compiler makes it one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// scope checks an instrumentation scope's name, version and attributes.
func (v validator) scope(sc pcommon.InstrumentationScope) problem {
	if !validUTF8(sc.Name()) || !validUTF8(sc.Version()) {
		return invalidUTF8
	}
	return v.attrs(sc.Attributes())
}

func (v validator) logs(ld plog.Logs, t *tally) {
	lo, hi := v.window(v.l.MaxLogAge)
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		if p := v.attrs(rl.Resource().Attributes()); p != ok {
			for _, sl := range rl.ScopeLogs().All() {
				t.add(p, sl.LogRecords().Len())
			}
			return true
		}
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			if p := v.scope(sl.Scope()); p != ok {
				t.add(p, sl.LogRecords().Len())
				return true
			}
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				p := timeProblem(uint64(ts), lo, hi)
				if p == ok {
					p = v.logRecord(lr)
				}
				t.add(p, 1)
				return p != ok
			})
			return sl.LogRecords().Len() == 0
		})
		// The stream counts only once some of its records are accepted.
		if rl.ScopeLogs().Len() > 0 && v.streams != nil && !v.streams.admit(rl.Resource().Attributes(), v.now()) {
			for _, sl := range rl.ScopeLogs().All() {
				t.add(streamLimit, sl.LogRecords().Len())
			}
			return true
		}
		return rl.ScopeLogs().Len() == 0
	})
}

func (v validator) logRecord(lr plog.LogRecord) problem {
	if p := v.value(lr.Body(), v.l.MaxBodyLength, bodyTooLong); p != ok {
		return p
	}
	if !validUTF8(lr.SeverityText()) || !validUTF8(lr.EventName()) {
		return invalidUTF8
	}
	return v.attrs(lr.Attributes())
}

func (v validator) traces(td ptrace.Traces, t *tally) {
	lo, hi := v.window(v.l.MaxSpanAge)
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		if p := v.attrs(rs.Resource().Attributes()); p != ok {
			for _, ss := range rs.ScopeSpans().All() {
				t.add(p, ss.Spans().Len())
			}
			return true
		}
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			if p := v.scope(ss.Scope()); p != ok {
				t.add(p, ss.Spans().Len())
				return true
			}
			ss.Spans().RemoveIf(func(s ptrace.Span) bool {
				p := timeProblem(uint64(s.StartTimestamp()), lo, hi)
				// The end too: the store keeps it as int64 nanoseconds and refused the whole
				// batch (a retryable failure, so forever) for an end past 2262.
				if p == ok && uint64(s.EndTimestamp()) > min(hi, math.MaxInt64) {
					p = tooFarInFuture
				}
				if p == ok {
					p = v.span(s)
				}
				t.add(p, 1)
				return p != ok
			})
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
}

func (v validator) span(s ptrace.Span) problem {
	switch {
	case s.TraceID().IsEmpty():
		return zeroTraceID
	case s.SpanID().IsEmpty():
		return zeroSpanID
	case s.EndTimestamp() < s.StartTimestamp():
		return endBeforeStart
	case over(v.l.MaxNameLength, len(s.Name())):
		return nameTooLong
	case over(v.l.MaxSpanEvents, s.Events().Len()):
		return tooManyEvents
	case over(v.l.MaxSpanLinks, s.Links().Len()):
		return tooManyLinks
	case !validUTF8(s.Name()) || !validUTF8(s.Status().Message()) || !validUTF8(s.TraceState().AsRaw()):
		return invalidUTF8
	}
	if p := v.attrs(s.Attributes()); p != ok {
		return p
	}
	for _, e := range s.Events().All() {
		if over(v.l.MaxNameLength, len(e.Name())) {
			return nameTooLong
		}
		if !validUTF8(e.Name()) {
			return invalidUTF8
		}
		if p := v.attrs(e.Attributes()); p != ok {
			return p
		}
	}
	for _, l := range s.Links().All() {
		if p := v.attrs(l.Attributes()); p != ok {
			return p
		}
	}
	return ok
}

func (v validator) metrics(md pmetric.Metrics, t *tally) {
	md.ResourceMetrics().RemoveIf(func(rm pmetric.ResourceMetrics) bool {
		if p := v.attrs(rm.Resource().Attributes()); p != ok {
			for _, sm := range rm.ScopeMetrics().All() {
				t.add(p, scopePoints(sm))
			}
			return true
		}
		rm.ScopeMetrics().RemoveIf(func(sm pmetric.ScopeMetrics) bool {
			if p := v.scope(sm.Scope()); p != ok {
				t.add(p, scopePoints(sm))
				return true
			}
			sm.Metrics().RemoveIf(func(m pmetric.Metric) bool {
				return v.metric(m, t)
			})
			return sm.Metrics().Len() == 0
		})
		return rm.ScopeMetrics().Len() == 0
	})
}

// metric removes the invalid points of m and reports whether m itself must be removed
// (bad name, or no point left of the ones it had).
func (v validator) metric(m pmetric.Metric, t *tally) bool {
	n := metricPoints(m)
	switch {
	case m.Name() == "":
		t.add(emptyMetricName, n)
		return true
	case over(v.l.MaxNameLength, len(m.Name())):
		t.add(nameTooLong, n)
		return true
	case !validUTF8(m.Name()) || !validUTF8(m.Unit()) || !validUTF8(m.Description()):
		t.add(invalidUTF8, n)
		return true
	}
	point := func(attrs pcommon.Map) bool {
		p := v.attrs(attrs)
		t.add(p, 1)
		return p != ok
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		m.Gauge().DataPoints().RemoveIf(func(dp pmetric.NumberDataPoint) bool { return point(dp.Attributes()) })
	case pmetric.MetricTypeSum:
		m.Sum().DataPoints().RemoveIf(func(dp pmetric.NumberDataPoint) bool { return point(dp.Attributes()) })
	case pmetric.MetricTypeSummary:
		m.Summary().DataPoints().RemoveIf(func(dp pmetric.SummaryDataPoint) bool { return point(dp.Attributes()) })
	case pmetric.MetricTypeExponentialHistogram:
		m.ExponentialHistogram().DataPoints().RemoveIf(func(dp pmetric.ExponentialHistogramDataPoint) bool {
			return point(dp.Attributes())
		})
	case pmetric.MetricTypeHistogram:
		m.Histogram().DataPoints().RemoveIf(func(dp pmetric.HistogramDataPoint) bool {
			if !validBuckets(dp) {
				t.add(invalidHistogram, 1)
				return true
			}
			return point(dp.Attributes())
		})
	}
	return n > 0 && metricPoints(m) == 0
}

// validBuckets checks what the Prometheus model needs of an explicit-bucket histogram:
// strictly increasing bounds and one more count than bounds (or no buckets at all).
func validBuckets(dp pmetric.HistogramDataPoint) bool {
	bounds, counts := dp.ExplicitBounds(), dp.BucketCounts()
	if counts.Len() == 0 {
		return true
	}
	if counts.Len() != bounds.Len()+1 {
		return false
	}
	for i := range bounds.Len() {
		b := bounds.At(i)
		if math.IsNaN(b) || (i > 0 && b <= bounds.At(i-1)) {
			return false
		}
	}
	return true
}

func metricPoints(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

func scopePoints(sm pmetric.ScopeMetrics) int {
	n := 0
	for _, m := range sm.Metrics().All() {
		n += metricPoints(m)
	}
	return n
}
