package loadgen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// A Source yields batches in order until ok is false. Sources are used by one goroutine.
type Source interface {
	Next() (b Batch, ok bool, err error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func() (Batch, bool, error)

// Next calls f.
func (f SourceFunc) Next() (Batch, bool, error) { return f() }

// LogSource yields batches from g until at least items records were produced.
func LogSource(g *LogGen, items int) Source {
	return SourceFunc(func() (Batch, bool, error) {
		if g.Generated() >= items {
			return Batch{}, false, nil
		}
		b, err := g.Next()
		return b, err == nil, err
	})
}

// TraceSource yields batches from g until at least spans spans were produced.
func TraceSource(g *TraceGen, spans int) Source {
	return SourceFunc(func() (Batch, bool, error) {
		if _, n := g.Generated(); n >= spans {
			return Batch{}, false, nil
		}
		b, err := g.Next()
		return b, err == nil, err
	})
}

// SliceSource yields the given batches, e.g. a corpus generated before timing starts.
func SliceSource(batches []Batch) Source {
	i := 0
	return SourceFunc(func() (Batch, bool, error) {
		if i >= len(batches) {
			return Batch{}, false, nil
		}
		i++
		return batches[i-1], true, nil
	})
}

// Collect reads src to the end.
func Collect(src Source) ([]Batch, error) {
	var out []Batch
	for {
		b, ok, err := src.Next()
		if err != nil || !ok {
			return out, err
		}
		out = append(out, b)
	}
}

// RunOptions configures Run.
type RunOptions struct {
	// Concurrency is the number of requests in flight.
	Concurrency int
	// Rate is the target in items per second; 0 sends as fast as the server accepts.
	Rate float64
	// MaxRetries bounds the retries of one batch the server asked to retry.
	MaxRetries int
}

// DefaultRunOptions returns 4 concurrent senders, no rate limit, 50 retries.
func DefaultRunOptions() RunOptions { return RunOptions{Concurrency: 4, MaxRetries: 50} }

// Result summarises one run.
type Result struct {
	Requests  int           `json:"requests"`
	Failed    int           `json:"failed_requests"`
	Retries   int           `json:"retries"`
	Items     int           `json:"items"`
	Accepted  int           `json:"accepted"`
	Rejected  int           `json:"rejected"`
	Bytes     int64         `json:"bytes_sent"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	ItemsPerS float64       `json:"accepted_per_second"`
	Latency   Percentiles   `json:"latency_ms"`
	Errors    []string      `json:"errors,omitempty"` // the first distinct errors
}

// Percentiles of request latency, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// PercentilesOf returns the percentiles of ds (nearest rank); ds is sorted in place.
func PercentilesOf(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := min(len(ds)-1, int(q*float64(len(ds))))
		return float64(ds[i]) / float64(time.Millisecond)
	}
	return Percentiles{P50: at(0.5), P95: at(0.95), P99: at(0.99), Max: at(1)}
}

type worker struct {
	in        chan Batch
	latencies []time.Duration
	res       Result
}

// Run sends every batch of src through s with opts.Concurrency workers, pacing to opts.Rate
// when set, retrying what the server asks to retry. Batches of one shard go through the
// same worker in order. It returns when src is exhausted and every request finished, or ctx
// is done.
func Run(ctx context.Context, s Sender, src Source, opts RunOptions) (Result, error) {
	if opts.Concurrency <= 0 {
		return Result{}, fmt.Errorf("concurrency must be positive, got %d", opts.Concurrency)
	}
	workers := make([]*worker, opts.Concurrency)
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range workers {
		w := &worker{in: make(chan Batch, 4)}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range w.in {
				w.send(ctx, s, b, opts.MaxRetries)
			}
		}()
	}
	var srcErr error
	queued := 0
dispatch:
	for {
		b, ok, err := src.Next()
		if err != nil {
			srcErr = fmt.Errorf("generate: %w", err)
			break
		}
		if !ok {
			break
		}
		if opts.Rate > 0 {
			due := begin.Add(time.Duration(float64(queued) / opts.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					break dispatch
				}
			}
		}
		queued += b.Items
		select {
		case workers[b.Shard%len(workers)].in <- b:
		case <-ctx.Done():
			break dispatch
		}
	}
	for _, w := range workers {
		close(w.in)
	}
	wg.Wait()
	res := summarise(workers, begin)
	if srcErr == nil && ctx.Err() != nil {
		srcErr = ctx.Err()
	}
	return res, srcErr
}

// summarise adds up the workers' results of a run that began at begin.
func summarise(workers []*worker, begin time.Time) Result {
	var res Result
	var lat []time.Duration
	seen := map[string]bool{}
	for _, w := range workers {
		r := w.res
		res.Requests += r.Requests
		res.Failed += r.Failed
		res.Retries += r.Retries
		res.Items += r.Items
		res.Accepted += r.Accepted
		res.Rejected += r.Rejected
		res.Bytes += r.Bytes
		for _, e := range r.Errors {
			if !seen[e] && len(res.Errors) < 10 {
				seen[e] = true
				res.Errors = append(res.Errors, e)
			}
		}
		lat = append(lat, w.latencies...)
	}
	res.Elapsed = time.Since(begin)
	res.ItemsPerS = float64(res.Accepted) / res.Elapsed.Seconds()
	res.Latency = PercentilesOf(lat)
	return res
}

func (w *worker) send(ctx context.Context, s Sender, b Batch, maxRetries int) {
	w.res.Items += b.Items
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		rejected, err := s.Send(ctx, b)
		w.latencies = append(w.latencies, time.Since(t0))
		w.res.Requests++
		w.res.Bytes += int64(len(b.Body))
		if err == nil {
			w.res.Accepted += b.Items - rejected
			w.res.Rejected += rejected
			return
		}
		var retry *RetryableError
		if errors.As(err, &retry) && attempt < maxRetries && ctx.Err() == nil {
			w.res.Retries++
			wait := max(retry.After, backoff)
			backoff = min(2*backoff, 2*time.Second)
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
			}
		}
		w.res.Failed++
		w.res.Rejected += b.Items
		if len(w.res.Errors) < 10 {
			w.res.Errors = append(w.res.Errors, err.Error())
		}
		return
	}
}
