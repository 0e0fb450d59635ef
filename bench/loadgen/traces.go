package loadgen

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TraceOptions configures a TraceGen.
type TraceOptions struct {
	Seed uint64
	// Start is the start time of the first trace; traces start every Interval.
	Start    time.Time
	Interval time.Duration
	// BatchSpans is the number of spans per request: whole traces are added until a batch
	// holds at least this many.
	BatchSpans int
	// MinSpans and MaxSpans bound the spans per trace.
	MinSpans, MaxSpans int
	// ErrorPercent of traces have a failing span (status ERROR with an exception event).
	ErrorPercent float64
	// KeepTraceIDs remembers up to this many trace ids (spread over the run) for queries.
	KeepTraceIDs int
}

// DefaultTraceOptions returns traces of 5 to 50 spans, 2% with an error, in batches of
// about 1,000 spans, one trace per 10 ms ending around now.
func DefaultTraceOptions() TraceOptions {
	return TraceOptions{Seed: 1, Start: time.Now().Add(-time.Hour), Interval: 10 * time.Millisecond,
		BatchSpans: 1000, MinSpans: 5, MaxSpans: 50, ErrorPercent: 2, KeepTraceIDs: 32}
}

// TraceGen produces trace batches deterministically from the seed. Not safe for concurrent use.
type TraceGen struct {
	opts   TraceOptions
	w      *world
	r      rng
	traces int
	spans  int
	ids    []pcommon.TraceID
}

// NewTraceGen returns a generator of OTLP trace requests.
func NewTraceGen(opts TraceOptions) (*TraceGen, error) {
	if opts.BatchSpans <= 0 || opts.MinSpans < 1 || opts.MaxSpans < opts.MinSpans || opts.Interval <= 0 {
		return nil, fmt.Errorf("trace options: batch spans %d, spans per trace %d..%d and interval %s are not valid",
			opts.BatchSpans, opts.MinSpans, opts.MaxSpans, opts.Interval)
	}
	return &TraceGen{opts: opts, w: newWorld(), r: newRNG(opts.Seed, 2)}, nil
}

// Generated returns the number of traces and spans generated so far.
func (g *TraceGen) Generated() (traces, spans int) { return g.traces, g.spans }

// TraceIDs returns some generated trace ids, for trace-by-id queries.
func (g *TraceGen) TraceIDs() []pcommon.TraceID { return g.ids }

// Next returns the next batch encoded as an OTLP ExportTraceServiceRequest.
func (g *TraceGen) Next() (Batch, error) {
	td := ptrace.NewTraces()
	b := &traceBatch{td: td, byRes: map[string]ptrace.SpanSlice{}}
	for td.SpanCount() < g.opts.BatchSpans {
		g.trace(b)
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return Batch{}, fmt.Errorf("encode traces: %w", err)
	}
	return Batch{Body: body, Items: td.SpanCount(), Shard: g.traces}, nil
}

// traceBatch groups spans by resource (service and host) as an SDK or collector would.
type traceBatch struct {
	td    ptrace.Traces
	byRes map[string]ptrace.SpanSlice
}

func (b *traceBatch) spans(svc *service, host string) ptrace.SpanSlice {
	key := svc.name + "/" + host
	if s, ok := b.byRes[key]; ok {
		return s
	}
	rs := b.td.ResourceSpans().AppendEmpty()
	setResource(rs.Resource().Attributes(), svc, host)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	ss.Scope().SetVersion("0.61.0")
	b.byRes[key] = ss.Spans()
	return ss.Spans()
}

func (g *TraceGen) trace(b *traceBatch) {
	r := g.r
	n := g.opts.MinSpans + int(float64(g.opts.MaxSpans-g.opts.MinSpans+1)*r.Float64()*r.Float64())
	tid := pcommon.TraceID(r.id16())
	start := g.opts.Start.Add(time.Duration(g.traces) * g.opts.Interval)
	// Every few traces is slow, so that a min_duration search has something to find.
	rootDur := time.Duration(r.logNormal(float64(40*time.Millisecond), 0.9))
	failing := -1
	if r.Float64()*100 < g.opts.ErrorPercent {
		failing = 1 + r.IntN(max(1, n-1))
		if n == 1 {
			failing = 0
		}
	}
	g.traces++
	if keep := g.opts.KeepTraceIDs; keep > 0 && len(g.ids) < keep && g.traces%97 == 1 {
		g.ids = append(g.ids, tid)
	}

	type node struct {
		svc        *service
		id         pcommon.SpanID
		start, end time.Time
		depth      int
	}
	entry := &g.w.services[0] // the frontend takes most requests
	if r.IntN(4) == 0 {
		entry = &g.w.services[g.w.byName[r.pick([]string{"checkout", "search", "auth"})]]
	}
	nodes := make([]node, 0, n)
	nodes = append(nodes, node{svc: entry, id: pcommon.SpanID(r.id8()), start: start, end: start.Add(rootDur)})
	g.span(b, tid, pcommon.SpanID{}, nodes[0].svc, nodes[0].id, nodes[0].start, nodes[0].end, true, failing == 0)
	for i := 1; i < n; i++ {
		// Attach to a random earlier span, preferring recent ones for depth.
		p := nodes[len(nodes)-1-r.zipf(len(nodes))]
		svc := p.svc
		server := false
		if len(p.svc.downstream) > 0 && r.IntN(3) > 0 {
			svc = &g.w.services[g.w.byName[r.pick(p.svc.downstream)]]
			server = true
		}
		span := p.end.Sub(p.start)
		off := time.Duration(r.Float64() * 0.5 * float64(span))
		dur := time.Duration(r.Float64() * 0.5 * float64(span))
		if dur < time.Microsecond {
			dur = time.Microsecond
		}
		nd := node{svc: svc, id: pcommon.SpanID(r.id8()), start: p.start.Add(off), depth: p.depth + 1}
		nd.end = nd.start.Add(dur)
		nodes = append(nodes, nd)
		g.span(b, tid, p.id, svc, nd.id, nd.start, nd.end, server, failing == i)
	}
}

func (g *TraceGen) span(b *traceBatch, tid pcommon.TraceID, parent pcommon.SpanID, svc *service, id pcommon.SpanID,
	start, end time.Time, server, failed bool) {
	r := g.r
	g.spans++
	host := r.pick(svc.hosts)
	sp := b.spans(svc, host).AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(id)
	sp.SetParentSpanID(parent)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	a := sp.Attributes()
	route := r.pick(svc.routes)
	method := r.pick(g.w.methods)
	status := 200
	if failed {
		status = 500 + r.IntN(4)
	}
	switch {
	case server:
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetName(method + " " + route)
		a.PutStr("http.request.method", method)
		a.PutStr("http.route", route)
		a.PutInt("http.response.status_code", int64(status))
		a.PutStr("url.scheme", "http")
		a.PutStr("server.address", svc.name)
		a.PutStr("client.address", r.ip())
		a.PutStr("user_agent.original", r.pick([]string{"Mozilla/5.0 (X11; Linux x86_64)", "okhttp/4.12.0", "Go-http-client/1.1", "python-requests/2.32.3"}))
	case svc.db != "" && r.IntN(2) == 0:
		sp.SetKind(ptrace.SpanKindClient)
		table := r.pick(g.w.tables)
		op := r.pick([]string{"SELECT", "SELECT", "SELECT", "INSERT", "UPDATE"})
		sp.SetName(op + " " + table)
		a.PutStr("db.system", svc.db)
		a.PutStr("db.operation.name", op)
		a.PutStr("db.collection.name", table)
		a.PutStr("db.query.text", fmt.Sprintf("%s * FROM %s WHERE id = $1", op, table))
		a.PutStr("server.address", svc.db+"-primary")
		a.PutInt("server.port", 5432)
	default:
		sp.SetKind(ptrace.SpanKindInternal)
		sp.SetName(r.pick([]string{"render", "validate", "serialize", "compute-price", "load-config", "acquire-lock"}))
		a.PutStr("code.function", sp.Name())
		a.PutInt("thread.id", int64(r.IntN(64)))
	}
	a.PutStr("request.id", r.hex(8))
	a.PutStr("tenant.id", fmt.Sprintf("t-%d", r.zipf(200)))
	if r.IntN(10) == 0 {
		ev := sp.Events().AppendEmpty()
		ev.SetName(r.pick([]string{"cache.miss", "retry", "queue.wait", "gc.pause"}))
		ev.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(end.Sub(start) / 3)))
		ev.Attributes().PutInt("attempt", int64(1+r.IntN(3)))
	}
	if failed {
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage("upstream request failed")
		ev := sp.Events().AppendEmpty()
		ev.SetName("exception")
		ev.SetTimestamp(pcommon.NewTimestampFromTime(end))
		ev.Attributes().PutStr("exception.type", r.pick([]string{"TimeoutError", "ConnectionRefused", "*errors.errorString"}))
		ev.Attributes().PutStr("exception.message", fmt.Sprintf("dial tcp %s:5432: connect: connection refused", r.ip()))
	} else if server {
		sp.Status().SetCode(ptrace.StatusCodeUnset)
	}
}
