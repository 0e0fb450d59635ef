package tsdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/prometheus/storage"

	"github.com/loupe-dev/loupe/internal/store"
)

// ErrDiskFull is returned (wrapped) by writes refused because the file system holding the
// metric store has less free space than Options.MinFreeBytes. It is retryable: writes are
// taken again as soon as space is freed, without a restart. Receivers answer 503.
// It wraps store.ErrDiskFull, which the logs and spans store returns too.
var ErrDiskFull = fmt.Errorf("%w for metrics", store.ErrDiskFull)

// DefaultMinFreeBytes is the free space below which metric writes are refused. The TSDB
// panics (in Prometheus' code, taking the whole server down) when it cannot write a head
// chunk: on Linux it preallocates 128 KiB per new head chunk file, then writes the chunks
// of up to a minute of accepted samples at once, and at shutdown it writes the chunks still
// in memory. The WAL needs room too. 32 MiB leaves room for all of that at tens of
// thousands of samples per second.
const DefaultMinFreeBytes = 32 << 20

// minFlushBytes is the free space needed to write the pending head chunks early (below
// it, writing them could itself meet a full disk).
const minFlushBytes = 1 << 20

// diskGuard refuses writes when the metric store's file system is nearly full, before the
// TSDB meets the full disk.
type diskGuard struct {
	dir     string
	reserve int64                           // Options.MinFreeBytes; 0 disables the guard
	free    func(dir string) (int64, error) // store.FreeBytes, replaced in tests
	flush   func()                          // writes pending head chunks while there is room
	logger  *slog.Logger
	low     atomic.Bool // last check found less than reserve free
}

// check returns an ErrDiskFull error when less than the reserve is free. A failing statfs
// does not block writes: the guard is a safety net, not a reason to refuse data.
func (g *diskGuard) check() error {
	if g.reserve <= 0 {
		return nil
	}
	free, err := g.free(g.dir)
	if err != nil {
		return nil
	}
	if free >= g.reserve {
		if g.low.Swap(false) {
			g.logger.Info("free disk space recovered, metric writes accepted again", "dir", g.dir, "free_bytes", free)
		}
		return nil
	}
	if !g.low.Swap(true) {
		g.logger.Error("disk almost full, metric writes refused until space is freed",
			"dir", g.dir, "free_bytes", free, "min_free_bytes", g.reserve)
		// Head chunks full but not yet written would otherwise be written within a minute,
		// when other writers may have taken the remaining space: write them now.
		if free >= minFlushBytes && g.flush != nil {
			go g.flush()
		}
	}
	return fmt.Errorf("%w: %s free in %s, below the %s kept free (free disk space; writes resume without a restart)",
		ErrDiskFull, store.FormatBytes(free), g.dir, store.FormatBytes(g.reserve))
}

// guardedAppender refuses its Commit (rolling back) when the disk is nearly full. Appends
// only touch memory, so checking at Commit is enough.
type guardedAppender struct {
	storage.Appender
	g *diskGuard
}

func (a guardedAppender) Commit() error {
	if err := a.g.check(); err != nil {
		return errors.Join(err, a.Appender.Rollback())
	}
	return a.Appender.Commit()
}

// guardedAppendable is the storage.Appendable handed out by Store.Appender.
func (s *Store) guardedAppender(ctx context.Context) storage.Appender {
	db, err := s.writableDB()
	if err != nil {
		return refusedAppender{err: err}
	}
	return guardedAppender{Appender: s.exemplars.wrap(db, s.limitSeries(db, db.Appender(ctx))), g: s.guard}
}
