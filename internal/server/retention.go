package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/loupe-dev/loupe/internal/store"
)

// retentionLoop drops data older than each signal's retention from a store that can, on an
// interval. The metrics TSDB enforces its own retention and is not handled here.
type retentionLoop struct {
	store    store.Retainer
	keep     map[store.Signal]time.Duration
	interval time.Duration
	now      func() time.Time
	logger   *slog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start runs one pass at once, then one every interval, until Shutdown.
func (r *retentionLoop) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.interval)
		defer t.Stop()
		for {
			r.runOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

func (r *retentionLoop) runOnce(ctx context.Context) {
	for signal, keep := range r.keep {
		cutoff := r.now().Add(-keep)
		if err := r.store.DropBefore(ctx, signal, cutoff); err != nil && ctx.Err() == nil {
			r.logger.Error("retention", "signal", signal, "cutoff", cutoff, "err", err)
		}
	}
}

// Shutdown stops the loop and waits for a pass in progress to end.
func (r *retentionLoop) Shutdown(context.Context) error {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	return nil
}
