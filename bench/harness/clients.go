package harness

import (
	"context"
	"time"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// The client scenarios measure ingest as applications cause it: Options.Clients clients
// (2 by default), each building its next request of Options.ClientBatch items (512, the
// OpenTelemetry SDK's default batch size) only when the previous one was answered, as the
// SDK's batch exporters do, with one resource (one service on one host) per request.
// The ingest scenarios send 1,000-item batches generated before timing from 4 workers,
// which flatters the server: fewer, larger and overlapping requests.
const (
	scenarioLogClients  = "logs-clients"
	scenarioSpanClients = "spans-clients"
)

// runClientScenarios runs the log and span client scenarios, each into a fresh Loupe.
func (h *Harness) runClientScenarios(ctx context.Context, rep *Report, fail func(string, error)) {
	o := h.opts
	logs := &Corpus{Signal: loadgen.Logs, Protocol: loadgen.OTLPHTTP, Items: o.ClientLogs}
	spans := &Corpus{Signal: loadgen.Traces, Protocol: loadgen.OTLPGRPC, Items: o.ClientSpans}
	per := func(total, i int) int { return total/o.Clients + min(1, max(0, total%o.Clients-i)) }
	for i := range o.Clients {
		seed := o.Seed + 1000 + uint64(i)
		lo := loadgen.DefaultLogOptions()
		lo.Seed, lo.BatchSize, lo.ResourcesPerBatch, lo.NeedleEvery = seed, o.ClientBatch, 1, 0
		lo.Start, lo.Interval = time.Now().Add(-time.Minute), time.Microsecond
		lg, err := loadgen.NewLogGen(lo)
		if err != nil {
			fail("log clients", err)
			return
		}
		logs.Clients = append(logs.Clients, loadgen.LogSource(lg, per(o.ClientLogs, i)))

		to := loadgen.DefaultTraceOptions()
		to.Seed, to.BatchSpans = seed, o.ClientBatch
		to.Start, to.Interval = time.Now().Add(-time.Minute), 20*time.Microsecond
		tg, err := loadgen.NewTraceGen(to)
		if err != nil {
			fail("span clients", err)
			return
		}
		spans.Clients = append(spans.Clients, loadgen.TraceSource(tg, per(o.ClientSpans, i)))
	}
	run := loadgen.RunOptions{Concurrency: o.Clients, MaxRetries: 50}
	for _, c := range []struct {
		name   string
		corpus *Corpus
	}{{scenarioLogClients, logs}, {scenarioSpanClients, spans}} {
		if c.corpus.Items <= 0 {
			continue
		}
		if r, err := h.ingestLoupe(ctx, c.name, c.corpus, run); err != nil {
			fail("ingest "+c.name, err)
		} else {
			rep.Ingest = append(rep.Ingest, r)
		}
	}
}
