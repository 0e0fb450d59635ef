package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// RunClients runs one client per source, each as an OpenTelemetry SDK's batch exporter
// does: it builds its next request (generating and encoding the records) only when the
// previous one was answered, so the server sees len(clients) requests in flight at most
// and the requests are built while it is measured (Run, by contrast, sends batches that
// were typically generated before). It returns when every source is exhausted and every
// request finished, or ctx is done.
func RunClients(ctx context.Context, s Sender, clients []Source, maxRetries int) (Result, error) {
	if len(clients) == 0 {
		return Result{}, fmt.Errorf("no clients")
	}
	workers := make([]*worker, len(clients))
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	begin := time.Now()
	for i, src := range clients {
		w := &worker{}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				b, ok, err := src.Next()
				if err != nil {
					errs[i] = fmt.Errorf("client %d: generate: %w", i, err)
					return
				}
				if !ok {
					return
				}
				w.send(ctx, s, b, maxRetries)
			}
		}()
	}
	wg.Wait()
	res := summarise(workers, begin)
	for _, err := range errs {
		if err != nil {
			return res, err
		}
	}
	return res, ctx.Err()
}
