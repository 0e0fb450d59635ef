package duck

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/loupe-dev/loupe/internal/store"
)

// DefaultMinFreeBytes is the free space, on top of the size of the WAL, below which log and
// span writes are refused. DuckDB does not survive a full disk: a checkpoint that cannot
// write the database file raises a FATAL error that invalidates the database (seen at the
// CHECKPOINT of Close: the server died at SIGTERM). A checkpoint writes what the WAL holds
// into the database file, compressed, plus the rewritten last row group of each table it
// touches and the indexes, while the old blocks stay allocated until it ends; so the guard
// keeps the WAL's size free for it, and this much more for the batch being written (up to a
// few MiB of WAL) and for the row groups and indexes rewritten.
const DefaultMinFreeBytes = 32 << 20

// diskGuard refuses writes when the database's file system is nearly full, before DuckDB
// meets the full disk.
type diskGuard struct {
	dir     string // the database file's directory
	wal     string // the WAL file
	reserve int64  // Options.MinFreeBytes; 0 disables the guard
	free    func(dir string) (int64, error)
	logger  *slog.Logger
	low     atomic.Bool // the last check found too little free
}

func newDiskGuard(path string, reserve int64, logger *slog.Logger) *diskGuard {
	return &diskGuard{dir: filepath.Dir(path), wal: path + ".wal", reserve: reserve, free: store.FreeBytes, logger: logger}
}

// room reports the free space and the space needed: the reserve plus the WAL's size, the
// most a checkpoint of the WAL can ask. ok is true when the guard is off or statfs fails
// (the guard is a safety net, not a reason to refuse data).
func (g *diskGuard) room() (free, need int64, ok bool) {
	if g == nil || g.reserve <= 0 {
		return 0, 0, true
	}
	free, err := g.free(g.dir)
	if err != nil {
		return 0, 0, true
	}
	need = g.reserve
	if fi, err := os.Stat(g.wal); err == nil {
		need += fi.Size()
	}
	return free, need, free >= need
}

// check returns an error wrapping store.ErrDiskFull when there is not enough room to write
// (see room). It logs once when writes start being refused and once when they resume.
func (g *diskGuard) check() error {
	free, need, ok := g.room()
	if ok {
		if g.low.Swap(false) {
			g.logger.Info("free disk space recovered, log and span writes accepted again", "dir", g.dir, "free_bytes", free)
		}
		return nil
	}
	if !g.low.Swap(true) {
		g.logger.Error("disk almost full, log and span writes refused until space is freed",
			"dir", g.dir, "free_bytes", free, "min_free_bytes", need)
	}
	return fmt.Errorf("%w for logs and spans: %s free in %s, below the %s kept free (%s plus the WAL's size, for its checkpoint; writes resume without a restart)",
		store.ErrDiskFull, store.FormatBytes(free), g.dir, store.FormatBytes(need), store.FormatBytes(g.reserve))
}
