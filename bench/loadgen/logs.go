package loadgen

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// Needle is the rare token planted in log bodies (see LogOptions.NeedleEvery); it appears
// nowhere else, so a search for it finds exactly the planted records.
const Needle = "zq7needle"

// LogOptions configures a LogGen.
type LogOptions struct {
	Seed uint64
	// Start is the timestamp of the first record; records follow every Interval.
	Start    time.Time
	Interval time.Duration
	// BatchSize is the number of records per request.
	BatchSize int
	// ResourcesPerBatch is how many (service, host) resources share one request, as when a
	// collector batches several senders.
	ResourcesPerBatch int
	// NeedleEvery plants Needle in one record out of NeedleEvery (0: never).
	NeedleEvery int
}

// DefaultLogOptions returns batches of 1,000 records from 4 resources, one record per
// millisecond ending now, a needle in one record per million.
func DefaultLogOptions() LogOptions {
	return LogOptions{Seed: 1, Start: time.Now().Add(-time.Hour), Interval: time.Millisecond,
		BatchSize: 1000, ResourcesPerBatch: 4, NeedleEvery: 1_000_000}
}

// LogGen produces log batches deterministically from the seed. Not safe for concurrent use.
type LogGen struct {
	opts LogOptions
	w    *world
	r    rng
	n    int // records generated so far
}

// NewLogGen returns a generator of OTLP log requests.
func NewLogGen(opts LogOptions) (*LogGen, error) {
	if opts.BatchSize <= 0 || opts.ResourcesPerBatch <= 0 || opts.Interval <= 0 {
		return nil, fmt.Errorf("log options: batch size %d, resources per batch %d and interval %s must be positive",
			opts.BatchSize, opts.ResourcesPerBatch, opts.Interval)
	}
	return &LogGen{opts: opts, w: newWorld(), r: newRNG(opts.Seed, 1)}, nil
}

// Generated returns the number of records generated so far.
func (g *LogGen) Generated() int { return g.n }

// Logs returns the next n records as pdata, grouped by resource.
func (g *LogGen) Logs(n int) plog.Logs {
	ld := plog.NewLogs()
	type res struct {
		svc  *service
		host string
		recs plog.LogRecordSlice
	}
	resources := make([]res, g.opts.ResourcesPerBatch)
	for i := range resources {
		svc := &g.w.services[g.r.zipf(len(g.w.services))]
		host := g.r.pick(svc.hosts)
		rl := ld.ResourceLogs().AppendEmpty()
		setResource(rl.Resource().Attributes(), svc, host)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("github.com/loupe-dev/app/log")
		sl.Scope().SetVersion("0.9.1")
		resources[i] = res{svc, host, sl.LogRecords()}
	}
	for range n {
		rs := resources[g.r.IntN(len(resources))]
		g.record(rs.recs.AppendEmpty(), rs.svc, rs.host)
	}
	return ld
}

// Next returns the next batch encoded as an OTLP ExportLogsServiceRequest.
func (g *LogGen) Next() (Batch, error) {
	ld := g.Logs(g.opts.BatchSize)
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		return Batch{}, fmt.Errorf("encode logs: %w", err)
	}
	return Batch{Body: body, Items: ld.LogRecordCount(), Shard: g.n / g.opts.BatchSize}, nil
}

func setResource(m pcommon.Map, svc *service, host string) {
	m.PutStr("service.name", svc.name)
	m.PutStr("service.version", svc.version)
	m.PutStr("service.namespace", "shop")
	m.PutStr("host.name", host)
	m.PutStr("deployment.environment", "production")
	m.PutStr("telemetry.sdk.language", "go")
}

// severities, skewed to INFO: cumulative weights out of 1000.
var severities = []struct {
	num  plog.SeverityNumber
	text string
	cum  int
}{
	{plog.SeverityNumberTrace, "TRACE", 10},
	{plog.SeverityNumberDebug, "DEBUG", 100},
	{plog.SeverityNumberInfo, "INFO", 850},
	{plog.SeverityNumberWarn, "WARN", 950},
	{plog.SeverityNumberError, "ERROR", 995},
	{plog.SeverityNumberFatal, "FATAL", 1000},
}

func (g *LogGen) record(lr plog.LogRecord, svc *service, host string) {
	r := g.r
	i := g.n
	g.n++
	ts := g.opts.Start.Add(time.Duration(i) * g.opts.Interval).Add(time.Duration(r.IntN(1000)) * time.Microsecond)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Duration(1+r.IntN(50)) * time.Millisecond)))
	w := r.IntN(1000)
	sev := severities[len(severities)-1]
	for _, s := range severities {
		if w < s.cum {
			sev = s
			break
		}
	}
	lr.SetSeverityNumber(sev.num)
	lr.SetSeverityText(sev.text)

	route := r.pick(svc.routes)
	method := r.pick(g.w.methods)
	status := 200
	switch {
	case sev.num >= plog.SeverityNumberError:
		status = []int{500, 502, 503, 504}[r.IntN(4)]
	case sev.num >= plog.SeverityNumberWarn:
		status = []int{400, 401, 404, 409, 429}[r.IntN(5)]
	case r.IntN(10) == 0:
		status = []int{201, 204, 301, 304}[r.IntN(4)]
	}
	durMs := int64(r.logNormal(25, 1.2)) + 1
	reqID := r.hex(8)
	user := fmt.Sprintf("u-%06d", r.zipf(100_000))
	if g.opts.NeedleEvery > 0 && i%g.opts.NeedleEvery == g.opts.NeedleEvery/2 {
		reqID = Needle
	}
	body := g.body(sev.num, svc, route, method, status, durMs, reqID, user)
	if reqID == Needle && !strings.Contains(body, Needle) {
		body += " (request_id=" + Needle + ")" // not every template names the request
	}
	lr.Body().SetStr(body)

	a := lr.Attributes()
	a.EnsureCapacity(10)
	a.PutStr("http.method", method)                                 // low cardinality
	a.PutStr("http.route", route)                                   // medium
	a.PutInt("http.status_code", int64(status))                     // low, int
	a.PutStr("user.id", user)                                       // high, skewed
	a.PutStr("request.id", reqID)                                   // unique
	a.PutStr("cloud.region", g.w.regions[r.zipf(len(g.w.regions))]) // low
	a.PutStr("tenant.id", "t-"+strconv.Itoa(r.zipf(200)))           // medium
	a.PutInt("duration_ms", durMs)                                  // high, int
	a.PutBool("cache.hit", r.IntN(3) > 0)                           // bool
	a.PutStr("thread.name", g.w.threads[r.IntN(len(g.w.threads))])  // medium
	if r.IntN(10) < 3 {                                             // a third of the records belong to a trace
		lr.SetTraceID(pcommon.TraceID(r.id16()))
		lr.SetSpanID(pcommon.SpanID(r.id8()))
		lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	}
}

// body fills one of the templates; errors and warnings draw from their own templates.
func (g *LogGen) body(sev plog.SeverityNumber, svc *service, route, method string, status int, durMs int64, reqID, user string) string {
	r := g.r
	var b strings.Builder
	switch {
	case sev >= plog.SeverityNumberError:
		switch r.IntN(5) {
		case 0:
			fmt.Fprintf(&b, "failed to connect to %s:%d: connection refused after %d retries (request_id=%s)", r.pick(g.w.services[r.IntN(len(g.w.services))].hosts), 5432+r.IntN(3), 1+r.IntN(5), reqID)
		case 1:
			fmt.Fprintf(&b, "%s %s failed with status %d after %dms: upstream %s timed out (request_id=%s)", method, route, status, durMs, r.pick(append(svc.downstream, "db")), reqID)
		case 2:
			fmt.Fprintf(&b, "panic recovered in handler %s: runtime error: index out of range [%d] with length %d", route, r.IntN(64), r.IntN(64))
		case 3:
			fmt.Fprintf(&b, "payment %s declined for user %s: insufficient funds (amount=%d.%02d EUR)", r.hex(6), user, r.IntN(900)+10, r.IntN(100))
		default:
			fmt.Fprintf(&b, "could not write %s/%s.json: no space left on device", r.pick(g.w.paths), r.hex(4))
		}
	case sev >= plog.SeverityNumberWarn:
		switch r.IntN(4) {
		case 0:
			fmt.Fprintf(&b, "slow query took %dms: SELECT * FROM %s WHERE id = %d", 200+durMs*10, r.pick(g.w.tables), r.IntN(1_000_000))
		case 1:
			fmt.Fprintf(&b, "rate limit approaching for tenant t-%d: %d/%d requests in the last minute", r.zipf(200), 800+r.IntN(200), 1000)
		case 2:
			fmt.Fprintf(&b, "%s %s returned %d in %dms (request_id=%s)", method, route, status, durMs, reqID)
		default:
			fmt.Fprintf(&b, "retrying call to %s (attempt %d of 3) after %.1fs backoff", r.pick(append(svc.downstream, "cache")), 1+r.IntN(3), 0.1*float64(1+r.IntN(20)))
		}
	default:
		switch r.IntN(8) {
		case 0, 1, 2:
			fmt.Fprintf(&b, "%s %s completed with status %d in %dms (request_id=%s)", method, route, status, durMs, reqID)
		case 3:
			fmt.Fprintf(&b, "user %s logged in from %s", user, r.ip())
		case 4:
			fmt.Fprintf(&b, "cache miss for key %s:%d, loading from %s", r.pick(g.w.tables), r.IntN(100_000), svc.db)
		case 5:
			fmt.Fprintf(&b, "processed batch %d of %d (%d items) in %s", 1+r.IntN(50), 50, 100+r.IntN(900), time.Duration(durMs)*time.Millisecond)
		case 6:
			fmt.Fprintf(&b, "wrote %d bytes to %s/%s.parquet", r.IntN(10_000_000), r.pick(g.w.paths), r.hex(4))
		default:
			fmt.Fprintf(&b, "order %d updated: %d items, total %d.%02d EUR", 100_000+r.IntN(900_000), 1+r.IntN(9), r.IntN(500), r.IntN(100))
		}
	}
	return b.String()
}
