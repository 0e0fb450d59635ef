package server

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// dropCleanFilePages releases the resident pages of this process's releasable mappings
// (mapping.releasable) and returns their size in KiB. With dropCache, the executable's
// pages that no process maps are also dropped from the page cache.
//
// madvise(MADV_DONTNEED) unmaps them from this process. Then the executable's pages that
// no process maps any more are dropped from the page cache (posix_fadvise
// POSIX_FADV_DONTNEED; pages another process maps stay). Why both: measured on Linux
// 6.18, the page cache held the freshly written executable in 2 MiB folios, and each
// later touch of an unmapped page mapped its whole 2 MiB folio again, so that the idle
// server was back at 22-27 MiB of file pages within 10 s; read back from disk, the
// pages come in the read-around's small pieces (10 MiB). MADV_PAGEOUT, tried first,
// left most folios in the page cache. Dirty pages (a binary written seconds ago) cannot
// be dropped until written back.
func dropCleanFilePages(dropCache bool) (int64, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("read mappings: %w", err)
	}
	maps, err := parseSmaps(f)
	f.Close()
	if err != nil {
		return 0, err
	}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		exe = "" // release the pages, keep the page cache
	}
	var dropped int64
	for _, m := range maps {
		if !m.releasable() {
			continue
		}
		// The raw call: unix.Madvise wants the range as a []byte, which memory the Go
		// runtime does not own cannot be without unsafe.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), unix.MADV_DONTNEED); errno != 0 {
			return dropped, fmt.Errorf("madvise %x-%x %s: %w", m.start, m.end, m.path, errno)
		}
		// Read back only the page that is touched (no read-around), see above.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), unix.MADV_RANDOM); errno != 0 {
			return dropped, fmt.Errorf("madvise random %x-%x %s: %w", m.start, m.end, m.path, errno)
		}
		dropped += m.rssKiB
	}
	if dropCache && exe != "" {
		if err := dropPageCache(exe); err != nil {
			return dropped, err
		}
	}
	return dropped, nil
}

// dropPageCache drops the pages of file that no process maps from the page cache.
func dropPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("drop page cache: %w", err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("drop page cache of %s: %w", path, err)
	}
	return nil
}
