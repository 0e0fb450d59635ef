package server

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
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
	dropped, err := dropCleanFilePages()
	if err != nil {
		logger.Debug("startup pages not released", "err", err)
		return
	}
	logger.Debug("startup pages released", "file_backed_kib", dropped)
}
