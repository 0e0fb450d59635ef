package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Idle footprint. Starting up touches far more memory than an idle server uses again:
// the Go runtime, DuckDB's catalog and its ICU data read tens of MiB of the executable
// once, and the resident-set size (RSS) keeps counting those file-backed pages until the
// kernel needs the memory. Measured on an empty data dir (docs/operations.md): RSS
// 80 MiB 10 s after ready, of which 66 MiB were clean pages of the executable.
//
// releaseStartupMemory hands both back once the server is ready: the Go heap's free
// pages (debug.FreeOSMemory) and the clean pages of read-only file mappings
// (dropCleanFilePages). Code that runs again later is mapped back on use: from the page
// cache, or read back from disk for the executable's pages. The server calls it at ready
// and again 3 s later: measured 2026-12-06 (/proc/PID/status 10 s after ready, 3 runs
// each, load ~1-2), 30.6-32.2 MiB with the first pass alone, 27.6-28.2 MiB with both.

// mapping is one entry of /proc/self/smaps.
type mapping struct {
	start, end uint64
	perms      string
	path       string
	rssKiB     int64
	anonKiB    int64 // private pages written since the mapping (copy-on-write)
}

// releasable reports whether dropping m's pages loses nothing: a file-backed mapping
// that cannot be written and holds no private copy of a page (the relocated part of an
// executable, written before it was made read-only, does: it is skipped).
func (m mapping) releasable() bool {
	return m.rssKiB > 0 && m.anonKiB == 0 && len(m.perms) >= 2 && m.perms[0] == 'r' && m.perms[1] != 'w' &&
		strings.HasPrefix(m.path, "/") && !strings.HasSuffix(m.path, " (deleted)")
}

// parseSmaps reads the mappings of /proc/<pid>/smaps.
func parseSmaps(r io.Reader) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if key, ok := strings.CutSuffix(fields[0], ":"); ok {
			// "Rss:   1234 kB"
			if len(out) == 0 || len(fields) < 2 {
				continue
			}
			v, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				continue // VmFlags and other non-numeric fields
			}
			switch key {
			case "Rss":
				out[len(out)-1].rssKiB = v
			case "Anonymous":
				out[len(out)-1].anonKiB = v
			}
			continue
		}
		// "start-end perms offset dev inode [path]"
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok || len(fields) < 5 {
			return nil, fmt.Errorf("smaps: unexpected line %q", line)
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end < start {
			return nil, fmt.Errorf("smaps: bad address range in %q", line)
		}
		m := mapping{start: start, end: end, perms: fields[1]}
		if len(fields) > 5 {
			m.path = strings.Join(fields[5:], " ")
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// releaseStartupMemory returns the memory start-up touched and an idle server does not
// need (see above), and logs how much RSS that was.
func releaseStartupMemory(logger *slog.Logger) {
	debug.FreeOSMemory()
	dropped, err := dropCleanFilePages(true)
	if err != nil {
		logger.Debug("startup pages not released", "err", err)
		return
	}
	logger.Debug("startup pages released", "file_backed_kib", dropped)
}

// footprintKeeper releases the start-up memory at Start and 3 s later, then keeps the
// file-backed RSS from drifting: idle work (the Go GC reading the runtime's tables, the
// TSDB's and the rules' minute loops, retention's DuckDB queries every 10 minutes, a
// /metrics scrape's DuckDB queries) maps pages of the executable back, and each fault
// maps a 64 KiB window or a whole large folio around the page it needed. Measured
// (docs/operations.md, Memory): without it, 28 MiB at ready grew to 50 MiB in 14 idle
// minutes. Every interval, when the file-backed RSS has grown by more than slack since
// the last release, the keeper unmaps the clean file pages again; it leaves the page cache alone,
// so code still in use is mapped back by a minor fault, without reading the disk.
type footprintKeeper struct {
	logger   *slog.Logger
	settle   time.Duration // before the second start-up pass
	interval time.Duration
	slack    int64 // KiB
	rssFile  func() (int64, error)
	releases atomic.Int64 // periodic releases done, for tests

	stop chan struct{}
	done chan struct{}
}

func newFootprintKeeper(logger *slog.Logger) *footprintKeeper {
	return &footprintKeeper{logger: logger, settle: 3 * time.Second, interval: 30 * time.Second, slack: 1 << 10, rssFile: selfRSSFile}
}

func (k *footprintKeeper) Start(context.Context) error {
	k.stop, k.done = make(chan struct{}), make(chan struct{})
	releaseStartupMemory(k.logger)
	go k.run()
	return nil
}

func (k *footprintKeeper) run() {
	defer close(k.done)
	// Start-up work goes on for a moment after ready: a second full pass releases what it
	// touched once (measured 2026-12-06: 30.6-32.2 MiB with the first pass alone, 27.6-28.2
	// MiB with both).
	select {
	case <-k.stop:
		return
	case <-time.After(k.settle):
	}
	releaseStartupMemory(k.logger)
	base, err := k.rssFile()
	if err != nil {
		k.logger.Debug("file-backed RSS not watched", "err", err)
		return
	}
	t := time.NewTicker(k.interval)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		cur, err := k.rssFile()
		if err != nil || cur-base <= k.slack {
			continue
		}
		// The work that mapped the pages also left garbage in the Go heap: return its free
		// pages too (one GC, at most once an interval).
		debug.FreeOSMemory()
		dropped, err := dropCleanFilePages(false)
		if err != nil {
			k.logger.Debug("file pages not released", "err", err)
			continue
		}
		k.releases.Add(1)
		k.logger.Debug("file pages released", "file_backed_kib", dropped, "grown_kib", cur-base)
		if after, err := k.rssFile(); err == nil {
			base = after
		}
	}
}

func (k *footprintKeeper) Shutdown(context.Context) error {
	if k.stop != nil {
		close(k.stop)
		<-k.done
		k.stop = nil
	}
	return nil
}

// selfRSSFile reads RssFile (KiB) of /proc/self/status.
func selfRSSFile() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return parseStatusKiB(string(b), "RssFile")
}

// parseStatusKiB reads the "Key:  N kB" line of a /proc/<pid>/status text.
func parseStatusKiB(status, key string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status %s: %w", key, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("status: no %s", key)
}
