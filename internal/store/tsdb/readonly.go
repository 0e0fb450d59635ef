package tsdb

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// Why a read-only view: the Prometheus TSDB writes the head chunks it replays from the WAL
// into chunks_head (during the replay, every minute after, and at Close), and panics, in
// its own goroutines, when that write fails. Opened on a full disk with unflushed samples
// in the WAL, it took the server down and crash-looped. So on a nearly full disk the store
// does not open the TSDB: it loads the blocks and replays the WAL into a head whose chunk
// files go to a sandbox directory on another file system with room (the system temporary
// directory), serves queries from that, refuses writes with ErrDiskFull, and opens the
// TSDB for writing once space is back (Store.reopenLoop).

// errNotLoaded is returned by queries when even the read-only view could not be loaded.
var errNotLoaded = errors.New("metric store not loaded")

// readOnlyView answers queries over the blocks and the WAL of a TSDB directory without
// writing to it. Safe for concurrent use.
type readOnlyView struct {
	blocks  []*promtsdb.Block
	head    *promtsdb.Head
	stats   *promtsdb.HeadStats
	sandbox string
	readers sync.WaitGroup // open queriers; the view is closed once they are done
}

// openReadOnlyView loads dir's blocks and replays its WAL into memory. The head's chunk
// files go to a new directory under sandboxRoot, which must be on a file system with room
// for the replayed chunks (about the size of the WAL, usually much less).
func openReadOnlyView(dir, sandboxRoot string, opts *promtsdb.Options, logger *slog.Logger) (_ *readOnlyView, err error) {
	v := &readOnlyView{stats: promtsdb.NewHeadStats()}
	defer func() {
		// Some chunk writes of the replay happen in this goroutine, and a failing one
		// panics in Prometheus' code: keep that an error.
		if r := recover(); r != nil {
			err = fmt.Errorf("replay the WAL read-only: %v", r)
		}
		if err != nil {
			v.close()
		}
	}()
	if v.sandbox, err = os.MkdirTemp(sandboxRoot, "loupe-tsdb-readonly-"); err != nil {
		return nil, fmt.Errorf("sandbox for the read-only metric store: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list metric blocks: %w", err)
	}
	maxBlockTime := int64(math.MinInt64)
	for _, e := range entries {
		// Block directories are named by a 26-character ULID; <ulid>.tmp-for-* are
		// compactions or deletions that did not finish.
		if !e.IsDir() || len(e.Name()) != 26 {
			continue
		}
		bdir := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(bdir, "meta.json")); err != nil {
			continue
		}
		b, err := promtsdb.OpenBlock(logger, bdir, nil, promtsdb.DefaultPostingsDecoderFactory)
		if err != nil {
			return nil, fmt.Errorf("open metric block %s: %w", e.Name(), err)
		}
		v.blocks = append(v.blocks, b)
		maxBlockTime = max(maxBlockTime, b.Meta().MaxTime)
	}

	var w *wlog.WL // none in a store that never took a write
	if _, err := os.Stat(filepath.Join(dir, "wal")); err == nil {
		if w, err = wlog.Open(logger, filepath.Join(dir, "wal")); err != nil {
			return nil, fmt.Errorf("open WAL read-only: %w", err)
		}
	}
	hopts := promtsdb.DefaultHeadOptions()
	hopts.ChunkDirRoot = v.sandbox
	hopts.ChunkRange = opts.MinBlockDuration
	hopts.EnableNativeHistograms.Store(true)
	// Out-of-order samples (in the WBL) are not replayed: they show once the store opens
	// for writing. Exemplars are not served read-only either.
	if v.head, err = promtsdb.NewHead(nil, logger, w, nil, hopts, v.stats); err != nil {
		return nil, fmt.Errorf("read-only head: %w", err)
	}
	if err := v.head.Init(maxBlockTime); err != nil {
		return nil, fmt.Errorf("replay the WAL read-only: %w", err)
	}
	return v, nil
}

// close releases the blocks and the head and removes the sandbox, after the open queriers
// are closed.
func (v *readOnlyView) close() error {
	v.readers.Wait()
	var errs []error
	for _, b := range v.blocks {
		errs = append(errs, b.Close())
	}
	if v.head != nil {
		errs = append(errs, v.head.Close())
	}
	if v.sandbox != "" {
		errs = append(errs, os.RemoveAll(v.sandbox))
	}
	return errors.Join(errs...)
}

// querier merges the queriers of the blocks and the head overlapping [mint, maxt]. The
// caller holds the store's read lock, so that readers.Add happens before any close.
func (v *readOnlyView) querier(mint, maxt int64) (storage.Querier, error) {
	qs, err := openQueriers(v, mint, maxt, promtsdb.NewBlockQuerier)
	if err != nil {
		return nil, err
	}
	v.readers.Add(1)
	return &viewQuerier{Querier: storage.NewMergeQuerier(qs, nil, storage.ChainedSeriesMerge), done: v.readers.Done}, nil
}

// chunkQuerier is querier for remote read.
func (v *readOnlyView) chunkQuerier(mint, maxt int64) (storage.ChunkQuerier, error) {
	qs, err := openQueriers(v, mint, maxt, promtsdb.NewBlockChunkQuerier)
	if err != nil {
		return nil, err
	}
	v.readers.Add(1)
	merged := storage.NewMergeChunkQuerier(qs, nil, storage.NewCompactingChunkSeriesMerger(storage.ChainedSeriesMerge))
	return &viewChunkQuerier{ChunkQuerier: merged, done: v.readers.Done}, nil
}

// openQueriers opens a querier with open on each block and on the head overlapping
// [mint, maxt]; on an error it closes those already open.
func openQueriers[Q io.Closer](v *readOnlyView, mint, maxt int64, open func(promtsdb.BlockReader, int64, int64) (Q, error)) ([]Q, error) {
	var qs []Q
	fail := func(err error) ([]Q, error) {
		for _, q := range qs {
			q.Close()
		}
		return nil, err
	}
	for _, b := range v.blocks {
		if !b.OverlapsClosedInterval(mint, maxt) {
			continue
		}
		q, err := open(b, mint, maxt)
		if err != nil {
			return fail(fmt.Errorf("query metric block: %w", err))
		}
		qs = append(qs, q)
	}
	if v.head.MaxTime() >= mint && v.head.MinTime() <= maxt {
		q, err := open(promtsdb.NewRangeHead(v.head, mint, maxt), mint, maxt)
		if err != nil {
			return fail(fmt.Errorf("query metric head: %w", err))
		}
		qs = append(qs, q)
	}
	return qs, nil
}

// startTime is the oldest timestamp in the view, in milliseconds.
func (v *readOnlyView) startTime() int64 {
	if len(v.blocks) > 0 {
		oldest := v.blocks[0].Meta().MinTime
		for _, b := range v.blocks[1:] {
			oldest = min(oldest, b.Meta().MinTime)
		}
		return oldest
	}
	return v.head.MinTime()
}

type viewQuerier struct {
	storage.Querier
	once sync.Once
	done func()
}

func (q *viewQuerier) Close() error {
	err := q.Querier.Close()
	q.once.Do(q.done)
	return err
}

type viewChunkQuerier struct {
	storage.ChunkQuerier
	once sync.Once
	done func()
}

func (q *viewChunkQuerier) Close() error {
	err := q.ChunkQuerier.Close()
	q.once.Do(q.done)
	return err
}

// noExemplars is the exemplar querier of a store that is not open for writing.
type noExemplars struct{}

func (noExemplars) Select(int64, int64, ...[]*labels.Matcher) ([]exemplar.QueryResult, error) {
	return nil, nil
}

// refusedAppender is the appender of a store that is not open for writing: appends are
// accepted in no storage, and Commit returns the disk-full error.
type refusedAppender struct{ err error }

func (a refusedAppender) Append(storage.SeriesRef, labels.Labels, int64, float64) (storage.SeriesRef, error) {
	return 0, nil
}

func (a refusedAppender) AppendExemplar(storage.SeriesRef, labels.Labels, exemplar.Exemplar) (storage.SeriesRef, error) {
	return 0, nil
}

func (a refusedAppender) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, nil
}

func (a refusedAppender) AppendHistogramCTZeroSample(storage.SeriesRef, labels.Labels, int64, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, nil
}

func (a refusedAppender) UpdateMetadata(storage.SeriesRef, labels.Labels, metadata.Metadata) (storage.SeriesRef, error) {
	return 0, nil
}

func (a refusedAppender) AppendCTZeroSample(storage.SeriesRef, labels.Labels, int64, int64) (storage.SeriesRef, error) {
	return 0, nil
}

func (a refusedAppender) SetOptions(*storage.AppendOptions) {}
func (a refusedAppender) Commit() error                     { return a.err }
func (a refusedAppender) Rollback() error                   { return nil }

var _ storage.Appender = refusedAppender{}
