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
	logs, err := h.logClients()
	if err != nil {
		fail("log clients", err)
		return
	}
	spans := &Corpus{Signal: loadgen.Traces, Protocol: loadgen.OTLPGRPC, Items: o.ClientSpans}
	for i := range o.Clients {
		to := loadgen.DefaultTraceOptions()
		to.Seed, to.BatchSpans = o.Seed+1000+uint64(i), o.ClientBatch
		to.Start, to.Interval = time.Now().Add(-time.Minute), 20*time.Microsecond
		tg, err := loadgen.NewTraceGen(to)
		if err != nil {
			fail("span clients", err)
			return
		}
		spans.Clients = append(spans.Clients, loadgen.TraceSource(tg, perClient(o.ClientSpans, o.Clients, i)))
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

// logClients returns the log clients' corpus: Options.Clients clients sending
// Options.ClientLogs records in all, built as they send.
func (h *Harness) logClients() (*Corpus, error) {
	o := h.opts
	logs := &Corpus{Signal: loadgen.Logs, Protocol: loadgen.OTLPHTTP, Items: o.ClientLogs}
	for i := range o.Clients {
		lo := loadgen.DefaultLogOptions()
		lo.Seed, lo.BatchSize, lo.ResourcesPerBatch, lo.NeedleEvery = o.Seed+1000+uint64(i), o.ClientBatch, 1, 0
		lo.Start, lo.Interval = time.Now().Add(-time.Minute), time.Microsecond
		lg, err := loadgen.NewLogGen(lo)
		if err != nil {
			return nil, err
		}
		logs.Clients = append(logs.Clients, loadgen.LogSource(lg, perClient(o.ClientLogs, o.Clients, i)))
	}
	return logs, nil
}

// perClient is client i's share of total items among n clients.
func perClient(total, n, i int) int { return total/n + min(1, max(0, total%n-i)) }
