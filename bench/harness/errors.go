package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/loupe-dev/loupe/bench/loadgen"
)

// The errors scenario measures issue 11's targets: error events per server CPU-second,
// sent as the Python SDK sends them (one gzip-compressed envelope per event, ~15 frames,
// ~20 breadcrumbs, from 40 bugs) by Options.ErrorClients clients with one request in
// flight each; and whether error traffic slows log ingest, by sending the log clients'
// records (clients.go) into one fresh Loupe alone and into another with error events at
// Options.ErrorRate beside them.
//
// With error traffic beside them the logs share the server's CPU with the events, so the
// log figure leaves out the events' CPU: the same events are then sent alone at the same
// rate into a third Loupe, whose CPU per event stands for theirs.
const (
	scenarioErrors         = "errors"           // error events only, as fast as the clients go
	scenarioLogsAlone      = "logs-alone"       // the log clients into a Loupe with a Sentry project
	scenarioLogsWithErrors = "logs-with-errors" // the same, with error events at ErrorRate beside them
	scenarioErrorsPaced    = "errors-paced"     // the side events alone at ErrorRate
)

// benchSentryKey is the DSN key of the Sentry project the harness configures.
const benchSentryKey = "0123456789abcdef0123456789abcdef"

// writeSentryConfig writes a Loupe configuration with one Sentry project (id 1, key
// benchSentryKey) to path.
func writeSentryConfig(path string) (string, error) {
	cfg := "sentry:\n  projects:\n    - id: \"1\"\n      name: shop\n      keys: [" + benchSentryKey + "]\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return "", fmt.Errorf("write sentry config: %w", err)
	}
	return path, nil
}

// sentryDSN is the DSN of the configured project on a server's HTTP base URL.
func sentryDSN(httpBase string) string {
	scheme, host, _ := strings.Cut(httpBase, "://")
	return scheme + "://" + benchSentryKey + "@" + host + "/1"
}

// errorClients returns the corpus of the errors scenario: clients each building their
// envelopes as they send.
func (h *Harness) errorClients(events, clients int) (*Corpus, error) {
	c := &Corpus{Signal: loadgen.Errors, Protocol: loadgen.SentryEnvelope, Items: events}
	for i := range clients {
		g, err := h.errorGen(uint64(i))
		if err != nil {
			return nil, err
		}
		c.Clients = append(c.Clients, loadgen.ErrorSource(g, perClient(events, clients, i)))
	}
	return c, nil
}

func (h *Harness) errorGen(n uint64) (*loadgen.ErrorGen, error) {
	o := loadgen.DefaultErrorOptions()
	o.Seed = h.opts.Seed + 2000 + n
	return loadgen.NewErrorGen(o)
}

// runErrorScenarios runs the errors scenario and the log runs with and without error
// traffic, each into a fresh Loupe.
func (h *Harness) runErrorScenarios(ctx context.Context, rep *Report, fail func(string, error)) {
	o := h.opts
	events, err := h.errorClients(o.ErrorEvents, o.ErrorClients)
	if err != nil {
		fail("error clients", err)
		return
	}
	if r, err := h.ingestLoupe(ctx, scenarioErrors, events, loadgen.RunOptions{Concurrency: o.ErrorClients, MaxRetries: 50}); err != nil {
		fail("ingest "+scenarioErrors, err)
	} else {
		rep.Ingest = append(rep.Ingest, r)
	}
	if o.ClientLogs <= 0 || o.ErrorRate <= 0 {
		return
	}
	logRun := loadgen.RunOptions{Concurrency: o.Clients, MaxRetries: 50}
	logs, err := h.logClients()
	if err != nil {
		fail("log clients", err)
		return
	}
	alone, err := h.ingestLoupeBeside(ctx, scenarioLogsAlone, logs, logRun, nil)
	if err != nil {
		fail("ingest "+scenarioLogsAlone, err)
		return
	}
	rep.Ingest = append(rep.Ingest, alone)

	if logs, err = h.logClients(); err != nil {
		fail("log clients", err)
		return
	}
	with, err := h.ingestLoupeBeside(ctx, scenarioLogsWithErrors, logs, logRun, h.pacedErrors)
	if err != nil {
		fail("ingest "+scenarioLogsWithErrors, err)
		return
	}
	if with.SideErrorEvents == 0 {
		fail(scenarioLogsWithErrors, fmt.Errorf("no error event was accepted beside the logs"))
		return
	}
	// The same events alone, at the same rate, from the same number of clients.
	paced, err := h.pacedCorpus(with.SideErrorEvents)
	if err != nil {
		fail("paced error events", err)
		return
	}
	pacedRes, err := h.ingestLoupe(ctx, scenarioErrorsPaced, paced, loadgen.RunOptions{Concurrency: o.ErrorClients, Rate: o.ErrorRate, MaxRetries: 50})
	if err != nil {
		fail("ingest "+scenarioErrorsPaced, err)
		return
	}
	if pacedRes.Load.Accepted > 0 {
		with.SideErrorCPUSeconds = pacedRes.CPUSecondsSettled * float64(with.SideErrorEvents) / float64(pacedRes.Load.Accepted)
		if net := with.CPUSecondsSettled - with.SideErrorCPUSeconds; net > 0 {
			with.ItemsPerCPUSecond = float64(with.Load.Accepted) / net
		}
	}
	rep.Ingest = append(rep.Ingest, with, pacedRes)
}

// pacedErrors sends error events to dsn at Options.ErrorRate from Options.ErrorClients
// senders until stopped, and returns how many the server accepted.
func (h *Harness) pacedErrors(ctx context.Context, dsn string) (stop func() int) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		wg       sync.WaitGroup
		accepted int
	)
	sender, err := loadgen.NewSender(loadgen.SentryEnvelope, loadgen.Errors, dsn, h.opts.ErrorClients)
	g, gerr := h.errorGen(1000)
	if err != nil || gerr != nil {
		h.logf("paced error events not sent: %v %v", err, gerr)
		cancel()
		return func() int { return 0 }
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, _ := loadgen.Run(ctx, sender, loadgen.ErrorSource(g, 1<<62),
			loadgen.RunOptions{Concurrency: h.opts.ErrorClients, Rate: h.opts.ErrorRate, MaxRetries: 50})
		accepted = res.Accepted
	}()
	return func() int {
		cancel()
		wg.Wait()
		sender.Close()
		return accepted
	}
}

// pacedCorpus returns n envelopes generated ahead, like those pacedErrors sends.
func (h *Harness) pacedCorpus(n int) (*Corpus, error) {
	g, err := h.errorGen(1000)
	if err != nil {
		return nil, err
	}
	return NewCorpus(loadgen.Errors, loadgen.SentryEnvelope, loadgen.ErrorSource(g, n))
}
