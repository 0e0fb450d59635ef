package server

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4), which the syscall package does not name.
const madvPageout = 21

// dropCleanFilePages releases the resident pages of this process's releasable mappings
// (mapping.releasable) and returns their size in KiB.
//
// MADV_PAGEOUT reclaims them: a page no other process maps leaves the page cache too,
// and what is used again is read back in small pieces. MADV_DONTNEED, the fallback on
// kernels before 5.4, only unmaps them; measured on Linux 6.18, whose page cache holds a
// freshly written executable in 2 MiB folios, each later touch then maps 2 MiB again, and
// the idle server was back at 22-25 MiB of file pages within 20 s (7.5 MiB after
// MADV_PAGEOUT).
func dropCleanFilePages() (int64, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("read mappings: %w", err)
	}
	maps, err := parseSmaps(f)
	f.Close()
	if err != nil {
		return 0, err
	}
	advice := uintptr(madvPageout)
	var dropped int64
	for _, m := range maps {
		if !m.releasable() {
			continue
		}
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), advice)
		if errors.Is(errno, syscall.EINVAL) && advice == madvPageout {
			advice = syscall.MADV_DONTNEED
			_, _, errno = syscall.Syscall(syscall.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), advice)
		}
		if errno != 0 {
			return dropped, fmt.Errorf("madvise %x-%x %s: %w", m.start, m.end, m.path, errno)
		}
		dropped += m.rssKiB
	}
	return dropped, nil
}
