package tsdb

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
)

// minExemplars is the size the exemplar ring starts at when nothing uses it.
const minExemplars = 4096

// exemplarRing sizes the TSDB's exemplar ring to its use. The TSDB allocates the whole
// ring at open: 100,000 exemplars (Options.MaxExemplars' default) are 5.5 MiB of the idle
// server's resident memory even when no exemplar ever arrives (docs/operations.md). So
// the ring opens at its full size (the WAL replays the exemplars it held), shrinks to
// minExemplars when it holds none, and doubles, up to the maximum, whenever the exemplars
// appended since open fill half of it: a commit of fewer exemplars than that half then
// overwrites none. A ring that grows never shrinks again.
type exemplarRing struct {
	max    int64
	ooo    int64 // the out-of-order window (ms), which every ApplyConfig sets too
	logger *slog.Logger

	mu       sync.Mutex // serialises resizes
	size     atomic.Int64
	appended atomic.Int64 // exemplars appended since open
}

// opened shrinks the ring of a freshly opened db when the WAL replayed no exemplar into it.
func (r *exemplarRing) opened(db *promtsdb.DB) error {
	r.size.Store(r.max)
	r.appended.Store(0)
	if r.max <= minExemplars {
		return nil
	}
	empty, err := ringEmpty(db)
	if err != nil || !empty {
		return err
	}
	return r.resize(db, minExemplars)
}

// ringEmpty reports whether db holds no exemplar.
func ringEmpty(db *promtsdb.DB) (bool, error) {
	q, err := db.ExemplarQuerier(context.Background())
	if err != nil {
		return false, fmt.Errorf("query exemplars: %w", err)
	}
	res, err := q.Select(math.MinInt64, math.MaxInt64, []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".*")})
	if err != nil {
		return false, fmt.Errorf("query exemplars: %w", err)
	}
	return len(res) == 0, nil
}

// committed grows the ring of db when the exemplars appended since open fill half of it.
func (r *exemplarRing) committed(db *promtsdb.DB) error {
	if !r.full() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.full() { // a large commit may need more than one doubling
		if err := r.resize(db, min(2*r.size.Load(), r.max)); err != nil {
			return err
		}
	}
	return nil
}

func (r *exemplarRing) full() bool {
	size := r.size.Load()
	return size < r.max && 2*r.appended.Load() >= size
}

func (r *exemplarRing) resize(db *promtsdb.DB, size int64) error {
	err := db.ApplyConfig(&config.Config{StorageConfig: config.StorageConfig{
		TSDBConfig:      &config.TSDBConfig{OutOfOrderTimeWindow: r.ooo},
		ExemplarsConfig: &config.ExemplarsConfig{MaxExemplars: size},
	}})
	if err != nil {
		return fmt.Errorf("resize the exemplar ring to %d: %w", size, err)
	}
	r.size.Store(size)
	return nil
}

// wrap counts the exemplars app appends and grows the ring of db after each commit.
func (r *exemplarRing) wrap(db *promtsdb.DB, app storage.Appender) storage.Appender {
	if r == nil {
		return app
	}
	return &exemplarCounting{Appender: app, ring: r, db: db}
}

type exemplarCounting struct {
	storage.Appender
	ring *exemplarRing
	db   *promtsdb.DB
	n    int64
}

func (a *exemplarCounting) AppendExemplar(ref storage.SeriesRef, l labels.Labels, e exemplar.Exemplar) (storage.SeriesRef, error) {
	ref, err := a.Appender.AppendExemplar(ref, l, e)
	if err == nil {
		a.n++
	}
	return ref, err
}

// Commit commits, then grows the ring if needed. A failed resize leaves the ring as it
// was and is only logged: exemplars are best effort, and the samples are committed.
func (a *exemplarCounting) Commit() error {
	if err := a.Appender.Commit(); err != nil {
		return err
	}
	if a.n > 0 {
		a.ring.appended.Add(a.n)
		if err := a.ring.committed(a.db); err != nil {
			a.ring.logger.Warn("exemplar ring not grown", "err", err)
		}
	}
	return nil
}
